// The meeting room: WebRTC video between the two participants (perfect negotiation,
// roles fixed by the server), signaling and chat over /ws/meetings/<id>/.
import { roomAssistant } from "./room-assistant.js";
import { showToast } from "./shell.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const $ = (selector) => document.querySelector(selector);
const root = $("[data-room]");
const preview = $("[data-preview]");
const localVideo = $("[data-local-video]");
const remoteVideo = $("[data-remote-video]");
const remotePlaceholder = $("[data-remote-placeholder]");
const remoteNote = $("[data-remote-note]");
const connState = $("[data-conn-state]");
const chatLog = $("[data-chat-log]");
const chatInput = $("[data-chat-input]");
const chatError = $("[data-chat-error]");
const cameraSelect = $("[data-camera-select]");
const micSelect = $("[data-mic-select]");
const callNote = $("[data-call-note]");

const CLOSE_CODES_FINAL = new Set([4000, 4401, 4403]);
const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
  timeZone: document.body.dataset.timezone || undefined,
});

const state = {
  socket: null,
  outbox: [],
  attempt: 0,
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
};
// For tests and debugging: the live objects, never used by the page itself.
window.__room = state;
// The assistant panel (room-assistant.js) sends over this socket and sees every frame first.
const assistant = roomAssistant({ send, userId: config.userId });

// --- Connection state shown to the person ---------------------------------------------

function setConnState(key, text) {
  connState.dataset.state = key;
  connState.textContent = text;
  root.dataset.connState = key;
}

function note(element, text) {
  element.hidden = !text;
  element.textContent = text || "";
}

function describeMediaError(error) {
  if (error?.name === "NotAllowedError" || error?.name === "SecurityError") {
    return "Camera and microphone are blocked for this site, so the other person can't see or hear you. Chat still works; allow access in the browser and reload to join with video.";
  }
  if (error?.name === "NotFoundError" || error?.name === "OverconstrainedError") {
    return "No camera or microphone was found. Chat still works.";
  }
  if (error?.name === "NotReadableError") {
    return "Your camera or microphone is in use by another app. Chat still works.";
  }
  return `Camera and microphone are unavailable (${error?.message || error}). Chat still works.`;
}

// --- Local media ------------------------------------------------------------------------

async function getMedia({ audio = true, video = true } = {}) {
  const constraintsFor = (wantAudio, wantVideo) => ({
    audio: wantAudio && (micSelect.value ? { deviceId: { exact: micSelect.value } } : true),
    video: wantVideo && (cameraSelect.value ? { deviceId: { exact: cameraSelect.value } } : true),
  });
  try {
    return await navigator.mediaDevices.getUserMedia(constraintsFor(audio, video));
  } catch (error) {
    if (!(audio && video)) throw error;
    // One device may work without the other.
    for (const [onlyAudio, missing] of [
      [true, "camera"],
      [false, "microphone"],
    ]) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia(constraintsFor(onlyAudio, !onlyAudio));
        note($("[data-media-note]"), `Your ${missing} is unavailable (${error.name}); continuing without it.`);
        return stream;
      } catch {
        /* try the other one */
      }
    }
    throw error;
  }
}

function adoptStream(stream) {
  for (const track of state.stream.getTracks()) {
    state.stream.removeTrack(track);
    track.stop();
  }
  state.cameraTrack = stream.getVideoTracks()[0] || null;
  state.micTrack = stream.getAudioTracks()[0] || null;
  for (const track of stream.getTracks()) state.stream.addTrack(track);
  preview.srcObject = state.stream;
  localVideo.srcObject = state.stream;
}

async function fillDeviceLists() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [select, kind] of [
    [cameraSelect, "videoinput"],
    [micSelect, "audioinput"],
  ]) {
    const current = select.value;
    select.replaceChildren(new Option(kind === "videoinput" ? "Default camera" : "Default microphone", ""));
    devices
      .filter((device) => device.kind === kind)
      .forEach((device, index) => select.append(new Option(device.label || `${kind === "videoinput" ? "Camera" : "Microphone"} ${index + 1}`, device.deviceId)));
    select.value = current;
  }
}

async function startPreview() {
  if (!navigator.mediaDevices?.getUserMedia) {
    note($("[data-media-note]"), "This browser cannot use a camera here (a secure https:// page is needed). Chat still works.");
    return;
  }
  try {
    adoptStream(await getMedia());
    note($("[data-media-note]"), "");
  } catch (error) {
    note($("[data-media-note]"), describeMediaError(error));
  }
  await fillDeviceLists().catch(() => {});
}

cameraSelect.addEventListener("change", startPreview);
micSelect.addEventListener("change", startPreview);

// --- Peer connection (perfect negotiation) ----------------------------------------------

function videoTransceiver() {
  const all = state.pc?.getTransceivers() || [];
  return (
    all.find((t) => t.sender.track?.kind === "video") ||
    all.find((t) => t.receiver.track?.kind === "video" && t.currentDirection !== "stopped")
  );
}

function showRemote(on) {
  remotePlaceholder.hidden = on;
  remoteVideo.classList.toggle("live", on);
}

// Frames decide whether the peer's picture is there, not only the track's mute events:
// Chromium leaves a remote track muted (no "unmute", and no "mute" later) on the polite
// side after it rolls back its own offer in a glare, while frames play fine; and a
// camera turned off far away (its sender's track replaced by null) just stops frames,
// which would leave the last one frozen on screen.
let lastRemoteFrame = 0;
function onRemoteFrame() {
  lastRemoteFrame = performance.now();
  if (state.peerPresent && !state.ended && !remoteVideo.classList.contains("live")) showRemote(true);
  remoteVideo.requestVideoFrameCallback(onRemoteFrame);
}
if (remoteVideo.requestVideoFrameCallback) {
  remoteVideo.requestVideoFrameCallback(onRemoteFrame);
  setInterval(() => {
    const stalled = performance.now() - lastRemoteFrame > 2000;
    if (!stalled || !state.peerPresent || state.pc?.connectionState !== "connected") return;
    if (remoteVideo.classList.contains("live")) showRemote(false);
    remoteNote.textContent = `No video from ${config.peerName}: their camera is off or unavailable.`;
  }, 500);
}

function createPeer() {
  const pc = new RTCPeerConnection({ iceServers: config.iceServers });
  state.pc = pc;
  state.remoteStream = new MediaStream();
  remoteVideo.srcObject = state.remoteStream;
  showRemote(false);
  // What goes out now: the microphone, and the shared screen or else the camera.
  for (const track of [state.micTrack, state.screenTrack || state.cameraTrack].filter(Boolean)) {
    pc.addTrack(track, state.stream);
  }

  pc.ontrack = ({ track }) => {
    state.remoteStream.addTrack(track);
    if (track.kind === "video") {
      track.onunmute = () => showRemote(true);
      track.onmute = () => showRemote(false);
      track.onended = () => showRemote(false);
      if (!track.muted) showRemote(true);
    }
    remoteVideo.play?.().catch(() => {});
  };
  pc.onicecandidate = ({ candidate }) => {
    if (candidate) sendSignal({ candidate: candidate.toJSON() });
  };
  pc.onnegotiationneeded = async () => {
    try {
      state.makingOffer = true;
      await pc.setLocalDescription();
      sendSignal({ description: pc.localDescription.toJSON() });
      resendWhileUnanswered(pc);
    } catch (error) {
      console.warn("negotiation failed", error);
    } finally {
      state.makingOffer = false;
    }
  };
  pc.onconnectionstatechange = () => {
    if (pc !== state.pc || state.ended) return;
    const labels = {
      new: ["connecting", "Connecting…"],
      connecting: ["connecting", "Connecting…"],
      connected: ["connected", "Connected"],
      disconnected: ["reconnecting", "Reconnecting…"],
      failed: ["reconnecting", "Reconnecting…"],
    };
    const [key, text] = labels[pc.connectionState] || ["connecting", "Connecting…"];
    if (!state.peerPresent && key !== "connected") return;
    setConnState(key, text);
    // One side restarts ICE (its new offer carries the restart), so the two never collide.
    if (pc.connectionState === "failed" && !state.polite) pc.restartIce();
  };
  pc.oniceconnectionstatechange = () => {
    if (pc.iceConnectionState === "failed" && !state.polite) pc.restartIce();
  };
  return pc;
}

function closePeer() {
  if (state.pc) {
    state.pc.onconnectionstatechange = null;
    state.pc.close();
  }
  state.pc = null;
  showRemote(false);
  state.makingOffer = false;
  state.ignoreOffer = false;
  state.settingRemoteAnswer = false;
}

// Start over with the peer. The impolite side offers on a fresh connection; the polite
// one answers on a connection it makes when that offer arrives (see onSignal). Both
// offering at once would work in theory (perfect negotiation), but Chromium then often
// leaves the polite side's rolled-back connection without ICE candidates (stuck at
// "new") or with the remote tracks muted for good.
function startOver() {
  closePeer();
  if (state.polite) return;
  const pc = createPeer();
  // Ask for both kinds of media even with no camera or microphone to send.
  for (const kind of ["audio", "video"]) {
    if (!pc.getTransceivers().some((t) => t.receiver.track.kind === kind)) {
      pc.addTransceiver(kind, { direction: "recvonly" });
    }
  }
}

// Presence can show the peer before their socket is in the room (a connection of theirs
// the server has not seen close yet), and an offer sent then is lost. Until it is
// answered, send it again; the description carries the candidates gathered so far.
function resendWhileUnanswered(pc, attempt = 1) {
  setTimeout(() => {
    if (pc !== state.pc || pc.signalingState !== "have-local-offer" || attempt > 15) return;
    if (state.peerPresent) sendSignal({ description: pc.localDescription.toJSON() });
    resendWhileUnanswered(pc, attempt + 1);
  }, 2000);
}

const fingerprint = (sdp) => /^a=fingerprint:(.+)$/m.exec(sdp || "")?.[1]?.trim();

async function onSignal({ description, candidate }) {
  const known = state.pc?.remoteDescription;
  if (description && known && fingerprint(description.sdp) !== fingerprint(known.sdp)) {
    // From a new connection of the peer's (a reload or reconnect we did not see as a
    // leave): this connection is over. A new offer is answered on a fresh one.
    if (description.type === "offer") closePeer();
    else return startOver();
  }
  // The polite side makes its connection when the peer's first offer arrives.
  if (!state.pc && description?.type === "offer" && !state.ended) createPeer();
  const pc = state.pc;
  if (!pc) return;
  try {
    if (description) {
      const readyForOffer =
        !state.makingOffer && (pc.signalingState === "stable" || state.settingRemoteAnswer);
      const collision = description.type === "offer" && !readyForOffer;
      state.ignoreOffer = !state.polite && collision;
      if (state.ignoreOffer) return;
      state.settingRemoteAnswer = description.type === "answer";
      await pc.setRemoteDescription(description);
      state.settingRemoteAnswer = false;
      if (description.type === "offer") {
        await pc.setLocalDescription();
        sendSignal({ description: pc.localDescription.toJSON() });
      }
    } else if (candidate) {
      try {
        await pc.addIceCandidate(candidate);
      } catch (error) {
        if (!state.ignoreOffer) throw error;
      }
    }
  } catch (error) {
    console.warn("signal handling failed", error);
  }
}

function sendSignal(data) {
  send({ type: "signal", data });
}

// --- Controls ----------------------------------------------------------------------------

const micButton = $("[data-toggle-mic]");
const cameraButton = $("[data-toggle-camera]");
const screenButton = $("[data-toggle-screen]");

// The self-view shows what goes out; a stopped camera would leave its last frame frozen.
const selfTile = localVideo.closest(".video-tile");
function showSelf() {
  selfTile.hidden = !state.cameraTrack && !state.screenTrack;
}

function pressed(button, on, onText, offText) {
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? onText : offText;
  button.classList.toggle("off", !on);
}

micButton.addEventListener("click", () => {
  if (!state.micTrack) {
    note(callNote, "No microphone is available.");
    return;
  }
  state.micTrack.enabled = !state.micTrack.enabled;
  pressed(micButton, state.micTrack.enabled, "Mic on", "Mic off");
});

async function cameraOff() {
  const track = state.cameraTrack;
  state.cameraTrack = null;
  if (track) {
    state.stream.removeTrack(track);
    track.stop(); // the camera light goes off; the far side sees no video
  }
  const transceiver = videoTransceiver();
  if (transceiver && !state.screenTrack) await transceiver.sender.replaceTrack(null);
  pressed(cameraButton, false, "Camera on", "Camera off");
  showSelf();
}

async function cameraOn() {
  let stream;
  try {
    stream = await getMedia({ audio: false, video: true });
  } catch (error) {
    note(callNote, describeMediaError(error));
    return;
  }
  const track = stream.getVideoTracks()[0];
  state.cameraTrack = track;
  state.stream.addTrack(track);
  localVideo.srcObject = state.stream;
  const transceiver = videoTransceiver();
  if (transceiver) {
    if (!state.screenTrack) await transceiver.sender.replaceTrack(track);
    if (transceiver.direction === "recvonly") transceiver.direction = "sendrecv";
  } else if (state.pc) {
    state.pc.addTrack(track, state.stream); // first video ever: one renegotiation
  }
  note(callNote, "");
  pressed(cameraButton, true, "Camera on", "Camera off");
  showSelf();
}

cameraButton.addEventListener("click", () => (state.cameraTrack ? cameraOff() : cameraOn()));

async function stopShare() {
  const track = state.screenTrack;
  state.screenTrack = null;
  track?.stop();
  const transceiver = videoTransceiver();
  if (transceiver) await transceiver.sender.replaceTrack(state.cameraTrack);
  localVideo.srcObject = state.stream;
  pressed(screenButton, false, "Stop sharing", "Share screen");
  showSelf();
}

screenButton.addEventListener("click", async () => {
  if (state.screenTrack) return stopShare();
  if (!navigator.mediaDevices?.getDisplayMedia) {
    note(callNote, "Screen sharing is not supported in this browser.");
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true });
    const track = stream.getVideoTracks()[0];
    state.screenTrack = track;
    track.onended = stopShare; // the browser's own "Stop sharing" button
    const transceiver = videoTransceiver();
    if (transceiver) {
      await transceiver.sender.replaceTrack(track);
      if (transceiver.direction === "recvonly") transceiver.direction = "sendrecv";
    } else if (state.pc) {
      state.pc.addTrack(track, stream);
    }
    localVideo.srcObject = stream;
    pressed(screenButton, true, "Stop sharing", "Share screen");
    showSelf();
  } catch (error) {
    if (error?.name !== "NotAllowedError") note(callNote, `Could not share the screen: ${error.message}`);
  }
});

$("[data-end]").addEventListener("click", () => {
  if (confirm(`End the session for both of you?`)) send({ type: "room.end" });
});

// --- Chat --------------------------------------------------------------------------------

const URL_PATTERN = /(https?:\/\/[^\s<>"']+)/g;

function linkified(text) {
  const fragment = document.createDocumentFragment();
  for (const part of text.split(URL_PATTERN)) {
    if (!part) continue;
    if (/^https?:\/\//.test(part)) {
      const link = document.createElement("a");
      link.href = part;
      link.textContent = part;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      fragment.append(link);
    } else {
      fragment.append(document.createTextNode(part));
    }
  }
  return fragment;
}

function renderMessage(message) {
  if (state.seen.has(message.id)) return;
  state.seen.add(message.id);
  const item = document.createElement("li");
  item.className = message.sender === config.userId ? "chat-message mine" : "chat-message";
  item.dataset.messageId = message.id;
  const meta = document.createElement("span");
  meta.className = "chat-meta";
  meta.textContent = `${message.sender === config.userId ? "You" : message.sender_name} · ${timeFormat.format(new Date(message.sent_at))}`;
  const body = document.createElement("span");
  body.className = "chat-text";
  body.append(linkified(message.text));
  item.append(meta, body);
  // In id order: messages caught up after an outage can arrive after newer ones.
  const later = [...chatLog.children].find((other) => Number(other.dataset.messageId) > message.id);
  chatLog.insertBefore(item, later ?? null);
  chatLog.scrollTop = chatLog.scrollHeight;
}

$("[data-chat-form]").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = chatInput.value.trim();
  if (!text) return;
  if (!send({ type: "chat.send", text })) {
    note(chatError, "Not connected — reconnecting. Your message was kept.");
    return;
  }
  state.unconfirmedChat = text;
  chatInput.value = "";
  note(chatError, "");
});

chatInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("[data-chat-form]").requestSubmit();
  }
});

// --- The socket ----------------------------------------------------------------------------

function send(frame) {
  if (state.socket?.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(frame));
    return true;
  }
  if (frame.type === "signal") state.outbox.push(frame);
  return false;
}

function endRoom(text) {
  if (state.ended) return;
  state.ended = true;
  state.pc?.close();
  for (const track of [...state.stream.getTracks(), state.screenTrack].filter(Boolean)) track.stop();
  $("[data-room-body]").hidden = true;
  $("[data-ended]").hidden = false;
  $("[data-ended-note]").textContent = text;
  setConnState("ended", "Session ended");
}

function onPresence(participants) {
  const present = participants.includes(state.peerId);
  if (present && !state.peerPresent) {
    // The peer is here (first time, back again, or we reconnected): start over now that
    // signals reach them (an offer made while alone is lost: the server relays to whoever
    // is in the room).
    startOver();
    setConnState("connecting", "Connecting…");
    remoteNote.textContent = `Connecting to ${config.peerName}…`;
  } else if (!present && state.peerPresent) {
    setConnState("peer-left", `${config.peerName} left`);
    remoteNote.textContent = `${config.peerName} left. They can rejoin with the same link.`;
    showRemote(false);
  }
  state.peerPresent = present;
}

function onFrame(frame) {
  if (assistant.onFrame(frame)) return;
  switch (frame.type) {
    case "room":
      state.polite = frame.polite;
      state.peerId = frame.peer;
      for (const message of frame.history) renderMessage(message);
      // The peer connection is made when presence shows the peer (see onPresence).
      break;
    case "presence":
      onPresence(frame.participants);
      break;
    case "signal":
      onSignal(frame.data);
      break;
    case "chat.message":
      if (frame.message.sender === config.userId) state.unconfirmedChat = null;
      renderMessage(frame.message);
      break;
    case "room.ended":
      endRoom(frame.by === config.userId ? "You ended the session." : frame.by ? `${config.peerName} ended the session.` : "The session's time is over.");
      break;
    case "room.closed":
      endRoom(frame.detail);
      break;
    case "error":
      if (["rate_limited", "invalid", "frame_too_large", "chat_not_saved"].includes(frame.code)) {
        note(chatError, frame.detail);
        // The refused message comes back into the box, unless something new was typed.
        if (state.unconfirmedChat && !chatInput.value) chatInput.value = state.unconfirmedChat;
        state.unconfirmedChat = null;
      } else showToast(frame.detail, "error");
      break;
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/meetings/${config.bookingId}/`);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.attempt = 0;
    root.dataset.socket = "open";
    for (const frame of state.outbox.splice(0)) send(frame);
  });
  socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
  socket.addEventListener("close", (event) => {
    root.dataset.socket = "closed";
    // The server saw us leave, so the peer starts over when we are back: we must too
    // (the next presence with the peer makes a fresh connection, see onPresence).
    state.peerPresent = false;
    if (state.ended) return;
    if (CLOSE_CODES_FINAL.has(event.code)) {
      endRoom(event.code === 4000 ? "The session has ended." : "The room is not open to you right now.");
      return;
    }
    setConnState("reconnecting", "Reconnecting…");
    const delay = Math.min(15000, 500 * 2 ** state.attempt) * (0.5 + Math.random() / 2);
    state.attempt += 1;
    setTimeout(connect, delay);
  });
}

// --- Joining -----------------------------------------------------------------------------

$("[data-join]").addEventListener("click", () => {
  if (state.joined) return;
  state.joined = true;
  $("[data-prejoin]").hidden = true;
  $("[data-room-body]").hidden = false;
  root.dataset.state = "joined";
  localVideo.srcObject = state.stream;
  pressed(micButton, Boolean(state.micTrack), "Mic on", "Mic off");
  pressed(cameraButton, Boolean(state.cameraTrack), "Camera on", "Camera off");
  showSelf();
  if (!state.cameraTrack && !state.micTrack) {
    note(callNote, $("[data-media-note]").textContent || "You joined without camera or microphone.");
  }
  setConnState("waiting", `Waiting for ${config.peerName}`);
  connect();
  // Beside the video the chat is ready to type in. On a phone it sits below the video:
  // focusing it would scroll the video away (and Chrome pauses the muted self-view
  // while it is off screen) and open the keyboard.
  if (matchMedia("(min-width: 961px)").matches) chatInput.focus();
  else micButton.focus({ preventScroll: true });
});

startPreview();
