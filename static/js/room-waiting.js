// Waiting room: count down to the room's opening, then let the person in by reloading;
// meanwhile they can check their camera and microphone (room/devices.js).
import { describeMediaError, fillDeviceLists, getMedia, levelMeter, remember } from "./room/devices.js";

// --- Camera and microphone check -------------------------------------------------------
const check = document.querySelector("[data-device-check]");
const preview = check.querySelector("[data-preview]");
const cameraSelect = check.querySelector("[data-camera-select]");
const micSelect = check.querySelector("[data-mic-select]");
const note = check.querySelector("[data-media-note]");
const stopButton = check.querySelector("[data-device-stop]");
const startButton = check.querySelector("[data-device-start]");
const meter = levelMeter(check.querySelector("[data-mic-level]"));
let stream = null;

function showNote(text) {
  note.hidden = !text;
  note.textContent = text || "";
}

function stop() {
  for (const track of stream?.getTracks() || []) track.stop();
  stream = null;
  preview.srcObject = null;
  meter.stop();
  stopButton.hidden = true;
  startButton.hidden = false;
  check.dataset.state = "off";
}

async function start() {
  if (!navigator.mediaDevices?.getUserMedia) {
    showNote("This browser cannot use a camera here (a secure https:// page is needed). Chat still works.");
    return;
  }
  for (const track of stream?.getTracks() || []) track.stop();
  try {
    stream = await getMedia({ cameraSelect, micSelect, onPartial: showNote });
    showNote("");
  } catch (error) {
    stream = null;
    showNote(describeMediaError(error));
  }
  preview.srcObject = stream;
  meter.watch(stream);
  stopButton.hidden = !stream;
  startButton.hidden = Boolean(stream);
  check.dataset.state = stream ? "on" : "off";
  await fillDeviceLists(cameraSelect, micSelect).catch(() => {});
}

for (const [select, kind] of [
  [cameraSelect, "videoinput"],
  [micSelect, "audioinput"],
]) {
  select.addEventListener("change", () => {
    remember(kind, select.value);
    start();
  });
}
stopButton.addEventListener("click", stop);
startButton.addEventListener("click", start);
start();

// --- Countdown -------------------------------------------------------------------------
const box = document.querySelector("[data-room-opens]");
const out = document.querySelector("[data-countdown]");
if (box && out) {
  const opens = new Date(box.dataset.roomOpens).getTime();
  const tick = () => {
    const left = Math.max(0, opens - Date.now());
    if (left === 0) {
      out.textContent = "Opening…";
      stop(); // the room page asks for the devices again
      location.reload();
      return;
    }
    const s = Math.floor(left / 1000);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const parts = d ? [`${d}d`, `${h}h`, `${m}m`] : h ? [`${h}h`, `${m}m`, `${s % 60}s`] : [`${m}m`, `${s % 60}s`];
    out.textContent = `Opens in ${parts.join(" ")}`;
    setTimeout(tick, Math.min(1000, left));
  };
  tick();
}
