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
