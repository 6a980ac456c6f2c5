// One reconnecting WebSocket, for the bell and the room alike: JSON frames in and out,
// exponential backoff with jitter (capped), reset after a good connection, and no
// reconnect after a close code that means "stop" (logged out, not allowed, ended).

export function liveSocket(path, { onFrame, onOpen, onClose, finalCodes = [4401], maxDelay = 30000 }) {
  const state = { socket: null, attempt: 0, opened: 0, stopped: false };

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${path}`);
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.opened += 1;
      onOpen?.({ reconnected: state.opened > 1 });
    });
    socket.addEventListener("message", (event) => {
      // A good connection resets the backoff: one the server answers, not merely accepts
      // (a socket refused with "try again later" is accepted and closed at once).
      state.attempt = 0;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // not ours to read
      }
      onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      const final = state.stopped || finalCodes.includes(event.code);
      onClose?.({ code: event.code, final });
      if (final) return;
      const delay = Math.min(maxDelay, 500 * 2 ** state.attempt) * (0.5 + Math.random() / 2);
      state.attempt += 1;
      setTimeout(connect, delay);
    });
  }

  connect();
  return {
    // True if the frame was sent (the socket is open).
    send(frame) {
      if (state.socket?.readyState !== WebSocket.OPEN) return false;
      state.socket.send(JSON.stringify(frame));
      return true;
    },
    get open() {
      return state.socket?.readyState === WebSocket.OPEN;
    },
    // The current WebSocket (tests close it to simulate a dropped connection).
    get raw() {
      return state.socket;
    },
    stop() {
      state.stopped = true;
      state.socket?.close();
    },
  };
}
