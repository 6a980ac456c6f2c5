// The bell: live unread count and list over /ws/notifications/, caught up from the API.
import { api } from "./api.js";
import { hour12, timeOptions } from "./clock.js";
import { liveSocket } from "./live-socket.js";
import { showToast } from "./shell.js";

const bell = document.querySelector("[data-bell]");
const badge = document.querySelector("[data-unread-count]");
const button = document.querySelector("[data-bell-button]");
const panel = document.querySelector("[data-bell-panel]");
const list = document.querySelector("[data-bell-list]");
let panelLoaded = false;

const timeFormat = new Intl.DateTimeFormat(hour12() ? "en-US" : undefined, {
  month: "short",
  day: "numeric",
  ...timeOptions(),
  timeZone: document.body.dataset.timezone || undefined,
});

function setUnread(count) {
  if (!badge) return;
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count <= 0;
  document.body.dataset.unread = String(count);
}

function renderItem(notification) {
  const item = document.createElement("li");
  item.className = `notification${notification.read ? "" : " unread"}`;
  item.dataset.notificationId = notification.id;
  const container = notification.url ? document.createElement("a") : document.createElement("div");
  if (notification.url) container.href = notification.url;
  const title = document.createElement("span");
  title.className = "notification-title";
  title.textContent = notification.title;
  container.append(title);
  if (notification.body) {
    const body = document.createElement("span");
    body.className = "notification-body";
    body.textContent = notification.body;
    container.append(body);
  }
  const time = document.createElement("time");
  time.dateTime = notification.created_at;
  time.textContent = timeFormat.format(new Date(notification.created_at));
  container.append(time);
  item.append(container);
  if (!notification.read) {
    item.addEventListener("click", () => markRead(notification.id, item));
  }
  return item;
}

async function markRead(id, item) {
  try {
    await api(`/api/notifications/${id}/read/`, { method: "POST" });
    item.classList.remove("unread");
  } catch (error) {
    showToast(error.message, "error");
  }
}

async function loadPanel() {
  try {
    const notifications = await api("/api/notifications/?limit=10");
    list.replaceChildren();
    if (notifications.length === 0) {
      const empty = document.createElement("li");
      empty.className = "empty-state small";
      empty.textContent = "You're all caught up.";
      list.append(empty);
    }
    for (const notification of notifications) list.append(renderItem(notification));
    panelLoaded = true;
  } catch (error) {
    list.replaceChildren();
    const failed = document.createElement("li");
    failed.className = "empty-state small";
    failed.textContent = `Could not load notifications: ${error.message}`;
    list.append(failed);
  }
}

function openPanel(open) {
  panel.hidden = !open;
  button.setAttribute("aria-expanded", String(open));
  if (open) loadPanel();
}

button?.addEventListener("click", () => openPanel(panel.hidden));
document.addEventListener("click", (event) => {
  if (bell && !panel.hidden && !bell.contains(event.target)) openPanel(false);
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && panel && !panel.hidden) {
    openPanel(false);
    button.focus();
  }
});
document.querySelector("[data-mark-all-read]")?.addEventListener("click", async () => {
  try {
    await api("/api/notifications/read-all/", { method: "POST" });
    for (const item of document.querySelectorAll(".notification.unread")) item.classList.remove("unread");
    setUnread(0);
  } catch (error) {
    showToast(error.message, "error");
  }
});

function prependToLiveLists(notification) {
  for (const target of document.querySelectorAll("[data-live-notifications]")) {
    target.querySelector("[data-empty]")?.remove();
    target.prepend(renderItem(notification));
    const limit = Number(target.dataset.liveLimit || 0);
    while (limit && target.children.length > limit) target.lastElementChild.remove();
  }
  if (panelLoaded) {
    list.querySelector(".empty-state")?.remove();
    list.prepend(renderItem(notification));
  }
}

// "Live updates are paused" under the header: while the server says its live delivery is
// down (a "live" frame), or while this socket has been unable to reconnect for a moment
// (the blip of a reconnect does not flash it). Any frame means the socket works again.
const liveStatus = document.querySelector("[data-live-status]");
const live = { serverPaused: false, socketDown: false, timer: null };

function renderLive() {
  const paused = live.serverPaused || live.socketDown;
  if (liveStatus) liveStatus.hidden = !paused;
  document.body.dataset.live = paused ? "paused" : "live";
}

function socketWorks(frame) {
  clearTimeout(live.timer);
  live.timer = null;
  live.socketDown = false;
  if (frame.type === "live") live.serverPaused = frame.state === "paused";
  renderLive();
}

function socketLost() {
  if (live.timer === null) {
    live.timer = setTimeout(() => {
      live.socketDown = true;
      renderLive();
    }, 3000);
  }
}

function onFrame(frame) {
  socketWorks(frame);
  if (frame.type === "unread") {
    setUnread(frame.count);
  } else if (frame.type === "resync") {
    // Live delivery was interrupted server-side (and is back): re-read what pages show.
    if (panelLoaded) loadPanel();
    document.dispatchEvent(new CustomEvent("skilllink:reconnected"));
  } else if (frame.type === "credits") {
    for (const figure of document.querySelectorAll("[data-credits-available]")) {
      figure.textContent = String(frame.credits.available);
      figure.setAttribute("aria-label", `${frame.credits.available} credits available`);
    }
    document.dispatchEvent(new CustomEvent("skilllink:credits", { detail: frame.credits }));
  } else if (frame.type === "booking") {
    document.dispatchEvent(new CustomEvent("skilllink:booking", { detail: frame.booking }));
  } else if (frame.type === "notification") {
    const current = Number(document.body.dataset.unread || badge?.textContent || 0);
    setUnread(current + 1);
    prependToLiveLists(frame.notification);
    showToast(frame.notification.title, "info", { href: frame.notification.url || undefined });
    document.dispatchEvent(new CustomEvent("skilllink:notification", { detail: frame.notification }));
  }
}

function connect() {
  liveSocket("/ws/notifications/", {
    onFrame,
    onOpen({ reconnected }) {
      document.body.dataset.notificationsSocket = "open";
      // After a reconnect, pages catch up in case a push was missed.
      if (reconnected) document.dispatchEvent(new CustomEvent("skilllink:reconnected"));
    },
    onClose({ final }) {
      document.body.dataset.notificationsSocket = "closed";
      if (!final) socketLost();
    },
  });
}

if (bell) {
  setUnread(Number(badge?.textContent || 0));
  connect();
}
