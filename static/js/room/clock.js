// The session clock in the room's header: time to the start, then elapsed and remaining
// (of the booked time), then how long until the room closes. Plain text each second; the
// element is a role="timer" (not announced on every tick).
import { $, config } from "./state.js";

const element = $("[data-session-clock]");
const start = new Date(config.start).getTime();
const end = new Date(config.end).getTime();
const closes = new Date(config.closesAt).getTime();

export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

function tick() {
  const now = Date.now();
  let text;
  let phase;
  if (now < start) {
    phase = "before";
    text = `Starts in ${duration(start - now)}`;
  } else if (now < end) {
    phase = end - now <= 5 * 60_000 ? "ending" : "running";
    text = `${duration(now - start)} elapsed · ${duration(end - now)} left`;
  } else {
    phase = "over";
    text = `Time is up · the room closes in ${duration(closes - now)}`;
  }
  element.textContent = text;
  element.dataset.phase = phase;
}

let timer = null;

export function startClock() {
  tick();
  timer = setInterval(tick, 1000);
}

export function stopClock() {
  clearInterval(timer);
  element.hidden = true;
}
