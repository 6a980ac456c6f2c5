// Re-render a server-rendered region when one of my sessions changes (pushed over
// /ws/notifications/ as {"type":"booking"} and re-dispatched by notifications.js).
const region = document.querySelector("[data-live-region]");
const onlyBooking = region?.dataset.liveBooking;
let pending = null;

async function refresh() {
  const response = await fetch(region.dataset.liveUrl, {
    credentials: "same-origin",
    headers: { Accept: "text/html" },
  });
  if (!response.ok) return;
  const focused = document.activeElement?.id;
  region.innerHTML = await response.text();
  if (focused) document.getElementById(focused)?.focus();
  region.dispatchEvent(new CustomEvent("skilllink:refreshed", { bubbles: true }));
}

if (region) {
  document.addEventListener("skilllink:booking", (event) => {
    if (onlyBooking && String(event.detail.id) !== onlyBooking) return;
    // Coalesce bursts (several moves in one transaction) into one fetch.
    clearTimeout(pending);
    pending = setTimeout(refresh, 100);
  });
  // After a socket reconnect, catch up in case a push was missed.
  document.addEventListener("skilllink:reconnected", () => refresh());
}
