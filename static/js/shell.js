// Page shell: theme toggle (persisted), mobile nav, dismissible flashes, toasts.
import { api } from "./api.js";
import { browserHour12 } from "./clock.js";

const THEMES = ["system", "light", "dark"];
const root = document.documentElement;
const authenticated = document.body.dataset.authenticated === "true";

function setTheme(theme) {
  root.dataset.theme = theme;
  // A cookie lets the server render the right theme before any script runs (no flash).
  document.cookie = `theme=${theme}; path=/; max-age=31536000; samesite=lax`;
  for (const button of document.querySelectorAll("[data-theme-toggle]")) {
    button.setAttribute("aria-label", `Theme: ${theme}`);
    button.title = `Theme: ${theme} (click to change)`;
  }
}

for (const button of document.querySelectorAll("[data-theme-toggle]")) {
  button.addEventListener("click", async () => {
    const current = root.dataset.theme || "system";
    const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
    setTheme(next);
    if (authenticated) {
      try {
        await api("/api/me/", { method: "PATCH", body: { theme: next } });
      } catch (error) {
        showToast(`Could not save the theme: ${error.message}`, "error");
      }
    }
  });
}

// Remember the browser's zone so pages seen before logging in show local times.
try {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone) document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
} catch {
  /* very old browsers: UTC it is */
}

// And its clock (12- or 24-hour), for accounts whose time format is "auto".
document.cookie = `clock=${browserHour12() ? "h12" : "h23"}; path=/; max-age=31536000; samesite=lax`;

const navToggle = document.querySelector(".nav-toggle");
if (navToggle) {
  navToggle.addEventListener("click", () => {
    const open = navToggle.getAttribute("aria-expanded") !== "true";
    navToggle.setAttribute("aria-expanded", String(open));
    document.getElementById(navToggle.getAttribute("aria-controls"))?.classList.toggle("open", open);
  });
}

document.addEventListener("click", (event) => {
  const close = event.target.closest("[data-dismiss]");
  if (close) close.closest(".flash, .toast")?.remove();
  // Close an open user menu when clicking elsewhere.
  for (const menu of document.querySelectorAll("details.user-menu[open]")) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.user-menu[open]")) {
    menu.removeAttribute("open");
    menu.querySelector("summary")?.focus();
  }
});

export function showToast(text, kind = "info", { href } = {}) {
  const region = document.querySelector("[data-toasts]");
  if (!region) return;
  const toast = document.createElement("div");
  toast.className = `toast toast-${kind}`;
  toast.setAttribute("role", kind === "error" ? "alert" : "status");
  const body = document.createElement(href ? "a" : "span");
  body.textContent = text;
  if (href) body.href = href;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "icon-button";
  close.dataset.dismiss = "";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  toast.append(body, close);
  region.append(toast);
  setTimeout(() => toast.remove(), 8000);
}

window.SkillLink = Object.assign(window.SkillLink || {}, { showToast });

// Copy buttons: <input data-copy-source> next to <button data-copy>.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = button.parentElement.querySelector("[data-copy-source]");
  try {
    await navigator.clipboard.writeText(source.value);
    showToast("Copied.");
  } catch {
    source.select();
  }
});
