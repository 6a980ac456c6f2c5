// Public pages render times in the zone of the `tz` cookie (shell.js sets it from the
// browser). On a first visit the server had no cookie yet and used UTC: read the page
// again once, now in the browser's zone.
const marked = document.querySelector("[data-viewer-zone]");
const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const key = "skilllink-zone-reloaded";

if (marked && browserZone && marked.dataset.viewerZone !== browserZone) {
  if (document.cookie.includes("tz=") && !sessionStorage.getItem(key)) {
    sessionStorage.setItem(key, "1");
    window.location.reload();
  }
}
