// Waiting room: count down to the room's opening, then let the person in by reloading.
const box = document.querySelector("[data-room-opens]");
const out = document.querySelector("[data-countdown]");
if (box && out) {
  const opens = new Date(box.dataset.roomOpens).getTime();
  const tick = () => {
    const left = Math.max(0, opens - Date.now());
    if (left === 0) {
      out.textContent = "Opening…";
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
