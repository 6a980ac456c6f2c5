"""Chromium's command line for the browser tests and the room benchmark (no Django here,
so the benchmark's parent process can import it)."""

# Flags from stack-notes.md: no sandbox or GPU in this container, nothing that reaches
# the network on its own, and a fake camera and microphone that need no permission.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]

# Observe, never change, a room page: offers sent, when Join was clicked and when the peer
# connection first reached "connected" (wall clock, comparable between pages of one
# machine), the ICE servers given, peer connections made. Read as ``window.__observed``.
ROOM_OBSERVER = """
(() => {
  const observed = (window.__observed = {
    offers: 0, joinAt: null, connectedAt: null, iceServers: null, peerConnections: 0,
  });
  const now = () => performance.timeOrigin + performance.now();
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try {
      const frame = JSON.parse(data);
      if (frame.type === "signal" && frame.data?.description?.type === "offer") observed.offers += 1;
    } catch {}
    return send.call(this, data);
  };
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(config, ...rest) {
      super(config, ...rest);
      observed.peerConnections += 1;
      observed.iceServers = config?.iceServers ?? null;
      this.addEventListener("connectionstatechange", () => {
        if (this.connectionState === "connected" && observed.connectedAt === null) {
          observed.connectedAt = now();
        }
      });
    }
  };
  document.addEventListener("click", (event) => {
    if (event.target.closest?.("[data-join]") && observed.joinAt === null) observed.joinAt = now();
  }, true);
})();
"""
