// The room's socket: /ws/meetings/<id>/ through the shared reconnecting socket. Signals
// sent while it is down wait for the next connection; other frames report that they
// were not sent.
import { liveSocket } from "../live-socket.js";
import { config, root, state } from "./state.js";

// Ended (4000), not authenticated (4401), not allowed (4403): no reconnect.
export const CLOSE_CODES_FINAL = [4000, 4401, 4403];

const outbox = [];
let socket = null;
// For tests and debugging, beside the rest of the live state: the current WebSocket.
Object.defineProperty(state, "socket", { get: () => socket?.raw ?? null });

export function send(frame) {
  if (socket?.send(frame)) return true;
  if (frame.type === "signal") outbox.push(frame);
  return false;
}

export function connect({ onFrame, onReconnecting, onFinalClose }) {
  socket = liveSocket(`/ws/meetings/${config.bookingId}/`, {
    onFrame,
    finalCodes: CLOSE_CODES_FINAL,
    maxDelay: 15000,
    onOpen() {
      root.dataset.socket = "open";
      for (const frame of outbox.splice(0)) send(frame);
    },
    onClose({ code, final }) {
      root.dataset.socket = "closed";
      // The server saw us leave, so the peer starts over when we are back: we must too
      // (the next presence with the peer makes a fresh connection, see call.js).
      state.peerPresent = false;
      if (state.ended) return;
      if (final) onFinalClose(code);
      else onReconnecting();
    },
  });
  return socket;
}

export function disconnect() {
  socket?.stop();
}
