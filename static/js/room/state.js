// What the room's modules share: its configuration (from the page), the live state, and
// the connection status shown to the person.
export const config = JSON.parse(document.getElementById("room-config").textContent);
export const $ = (selector) => document.querySelector(selector);
export const root = $("[data-room]");

export const state = {
  joined: false,
  ended: false,
  polite: false,
  peerId: null,
  peerPresent: false,
  pc: null,
  makingOffer: false,
  ignoreOffer: false,
  settingRemoteAnswer: false,
  stream: new MediaStream(),
  cameraTrack: null,
  micTrack: null,
  screenTrack: null,
  remoteStream: null,
  seen: new Set(),
  unconfirmedChat: null,
};
// For tests and debugging: the live objects, never used by the page itself.
window.__room = state;

const connState = $("[data-conn-state]");

export function setConnState(key, text) {
  connState.dataset.state = key;
  connState.textContent = text;
  root.dataset.connState = key;
}

export function note(element, text) {
  element.hidden = !text;
  element.textContent = text || "";
}
