// The WebRTC call: one RTCPeerConnection with the peer, perfect negotiation with roles
// fixed by the server (the learner is polite), signals over the room socket.
import { send } from "./socket.js";
import { $, config, setConnState, state } from "./state.js";

const remoteVideo = $("[data-remote-video]");
const remotePlaceholder = $("[data-remote-placeholder]");
const remoteNote = $("[data-remote-note]");

export function videoTransceiver() {
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

function sendSignal(data) {
  send({ type: "signal", data });
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

export async function onSignal({ description, candidate }) {
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

export function onPresence(participants) {
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

export function hangUp() {
  state.pc?.close();
}
