// The meeting room page: joins the room socket and wires its parts together.
// - room/state.js: configuration, live state, connection status;
// - room/socket.js: the room's reconnecting socket;
// - room/media.js: camera, microphone, screen, preview and controls;
// - room/call.js: the WebRTC connection (perfect negotiation) and presence;
// - room/chat.js: the chat log and box;
// - room/assistant.js: the AI assistant panel (sees every frame first);
// - room/devices.js: the camera and microphone check (also used by the waiting room);
// - room/clock.js: elapsed and remaining time; room/rating.js: rating when it ends.
import { confirmDialog } from "./confirm-dialog.js";
import { onAssistantFrame } from "./room/assistant.js";
import { hangUp, onPresence, onSignal } from "./room/call.js";
import { chatInput, onChatError, renderMessage } from "./room/chat.js";
import { startClock, stopClock } from "./room/clock.js";
import {
  callNote,
  cameraButton,
  localVideo,
  micButton,
  pressed,
  showSelf,
  startPreview,
  stopAllMedia,
  stopMicLevel,
} from "./room/media.js";
import { offerRating } from "./room/rating.js";
import { connect, disconnect, send } from "./room/socket.js";
import { $, config, note, root, setConnState, state } from "./room/state.js";
import { showToast } from "./shell.js";

function endRoom(text, status = null) {
  if (state.ended) return;
  state.ended = true;
  hangUp();
  stopAllMedia();
  disconnect();
  stopClock();
  $("[data-room-body]").hidden = true;
  $("[data-left]").hidden = true;
  $("[data-prejoin]").hidden = true;
  $("[data-ended]").hidden = false;
  $("[data-ended-note]").textContent = text;
  root.dataset.state = "ended";
  setConnState("ended", "Session ended");
  offerRating(status);
  $("#ended-heading").focus();
}

// Leaving is not ending: this person's connection closes (the server records that they
// left) and the session goes on; Rejoin starts over from the camera check.
function leaveRoom() {
  if (state.ended) return;
  state.ended = true;
  hangUp();
  stopAllMedia();
  disconnect();
  $("[data-room-body]").hidden = true;
  $("[data-left]").hidden = false;
  root.dataset.state = "left";
  setConnState("left", "You left");
  $("#left-heading").focus();
}

function onFrame(frame) {
  if (onAssistantFrame(frame)) return;
  switch (frame.type) {
    case "room":
      state.polite = frame.polite;
      state.peerId = frame.peer;
      for (const message of frame.history) renderMessage(message);
      // The peer connection is made when presence shows the peer (see call.js).
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
      endRoom(
        frame.by === config.userId
          ? "You ended the session."
          : frame.by
            ? `${config.peerName} ended the session.`
            : "The session's time is over.",
        frame.status,
      );
      break;
    case "room.closed":
      endRoom(frame.detail);
      break;
    case "error":
      if (!onChatError(frame)) showToast(frame.detail, "error");
      break;
  }
}

$("[data-end]").addEventListener("click", async () => {
  const confirmed = await confirmDialog({
    title: "End the session for both of you?",
    body: `${config.peerName} leaves the room too and it cannot be reopened. To step out and come back, use Leave instead.`,
    confirmLabel: "End for both",
    cancelLabel: "Keep going",
    danger: true,
  });
  if (confirmed && !send({ type: "room.end" })) {
    showToast("Not connected — reconnecting. Try again in a moment.", "error");
  }
});

$("[data-leave]").addEventListener("click", leaveRoom);
$("[data-rejoin]").addEventListener("click", () => location.reload());

$("[data-join]").addEventListener("click", () => {
  if (state.joined) return;
  state.joined = true;
  $("[data-prejoin]").hidden = true;
  $("[data-room-body]").hidden = false;
  root.dataset.state = "joined";
  stopMicLevel();
  localVideo.srcObject = state.stream;
  pressed(micButton, Boolean(state.micTrack), "Mic on", "Mic off");
  pressed(cameraButton, Boolean(state.cameraTrack), "Camera on", "Camera off");
  showSelf();
  if (!state.cameraTrack && !state.micTrack) {
    note(callNote, $("[data-media-note]").textContent || "You joined without camera or microphone.");
  }
  setConnState("waiting", `Waiting for ${config.peerName}`);
  connect({
    onFrame,
    onReconnecting: () => setConnState("reconnecting", "Reconnecting…"),
    onFinalClose: (code) =>
      endRoom(code === 4000 ? "The session has ended." : "The room is not open to you right now."),
  });
  // Beside the video the chat is ready to type in. On a phone it sits below the video:
  // focusing it would scroll the video away (and Chrome pauses the muted self-view
  // while it is off screen) and open the keyboard.
  if (matchMedia("(min-width: 961px)").matches) chatInput.focus();
  else micButton.focus({ preventScroll: true });
});

startPreview();
startClock();
