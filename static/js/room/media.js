// Camera, microphone and screen: the pre-join preview with device choice, and the call
// controls (mic, camera, share screen). What goes out is replaced on the live connection.
import { videoTransceiver } from "./call.js";
import { describeMediaError, fillDeviceLists, getMedia as getUserMediaWith, levelMeter, remember } from "./devices.js";
import { $, note, state } from "./state.js";

const preview = $("[data-preview]");
export const localVideo = $("[data-local-video]");
const cameraSelect = $("[data-camera-select]");
const micSelect = $("[data-mic-select]");
const mediaNote = $("[data-media-note]");
export const callNote = $("[data-call-note]");
export const micButton = $("[data-toggle-mic]");
export const cameraButton = $("[data-toggle-camera]");
const screenButton = $("[data-toggle-screen]");

const micLevel = levelMeter($("[data-mic-level]"));

function getMedia({ audio = true, video = true } = {}) {
  return getUserMediaWith({ audio, video, cameraSelect, micSelect, onPartial: (text) => note(mediaNote, text) });
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
  micLevel.watch(state.stream);
}

export async function startPreview() {
  if (!navigator.mediaDevices?.getUserMedia) {
    note(mediaNote, "This browser cannot use a camera here (a secure https:// page is needed). Chat still works.");
    return;
  }
  try {
    adoptStream(await getMedia());
    note(mediaNote, "");
  } catch (error) {
    note(mediaNote, describeMediaError(error));
  }
  await fillDeviceLists(cameraSelect, micSelect).catch(() => {});
}

for (const [select, kind] of [
  [cameraSelect, "videoinput"],
  [micSelect, "audioinput"],
]) {
  select.addEventListener("change", () => {
    remember(kind, select.value);
    startPreview();
  });
}

/** The pre-join meter stops once in the call (the mic button shows the state there). */
export function stopMicLevel() {
  micLevel.stop();
}

// --- Controls ----------------------------------------------------------------------------

// The self-view shows what goes out; a stopped camera would leave its last frame frozen.
const selfTile = localVideo.closest(".video-tile");
export function showSelf() {
  selfTile.hidden = !state.cameraTrack && !state.screenTrack;
}

export function pressed(button, on, onText, offText) {
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

export function stopAllMedia() {
  micLevel.stop();
  for (const track of [...state.stream.getTracks(), state.screenTrack].filter(Boolean)) track.stop();
}
