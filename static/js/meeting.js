// The meeting room page: joins the room socket and wires its parts together.
// - room/state.js: configuration, live state, connection status;
// - room/socket.js: the room's reconnecting socket;
// - room/media.js: camera, microphone, screen, preview and controls;
// - room/call.js: the WebRTC connection (perfect negotiation) and presence;
// - room/chat.js: the chat log and box;
// - room/assistant.js: the AI assistant panel (sees every frame first).
import { onAssistantFrame } from "./room/assistant.js";
import { hangUp, onPresence, onSignal } from "./room/call.js";
import { chatInput, onChatError, renderMessage } from "./room/chat.js";
import {
  callNote,
  cameraButton,
  localVideo,
  micButton,
  pressed,
  showSelf,
  startPreview,
  stopAllMedia,
} from "./room/media.js";
import { connect, disconnect, send } from "./room/socket.js";
import { $, config, note, root, setConnState, state } from "./room/state.js";
import { showToast } from "./shell.js";

function endRoom(text) {
  if (state.ended) return;
  state.ended = true;
  hangUp();
  stopAllMedia();
  disconnect();
  $("[data-room-body]").hidden = true;
  $("[data-ended]").hidden = false;
  $("[data-ended-note]").textContent = text;
  setConnState("ended", "Session ended");
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

$("[data-end]").addEventListener("click", () => {
  if (confirm("End the session for both of you?")) send({ type: "room.end" });
});

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
