// Availability editor (teachers): FullCalendar week/day view in the teacher's own zone.
// Every change goes through the slots API; when the server refuses a move or resize
// the slot snaps back and the server's reason shows above the calendar.
import { api } from "./api.js";
import { hour12 } from "./clock.js";
import { confirmDialog } from "./confirm-dialog.js";
import { NARROW, describedEventContent, makeCalendar } from "./calendar-options.js";
import { showToast } from "./shell.js";

const { DateTime } = window.luxon;

const calendarEl = document.querySelector("[data-availability-calendar]");
const zone = calendarEl?.dataset.timezone || "UTC";
const alertRegion = document.querySelector("[data-cal-alert]");
const createDialog = document.querySelector("[data-create-dialog]");
const slotDialog = document.querySelector("[data-slot-dialog]");
const addForm = document.querySelector("[data-add-slot-form]");
const upcomingRows = document.querySelector("[data-upcoming-rows]");

const MAX_REPEAT_WEEKS = 26;
const STATUS_LABELS = { open: "Open", requested: "Requested", booked: "Booked", past: "Past" };

// --- Formatting (all in the teacher's zone) ----------------------------------------

function local(value) {
  const moment = value instanceof Date ? DateTime.fromJSDate(value) : DateTime.fromISO(value);
  return moment.setZone(zone).setLocale("en");
}

function formatRange(start, end) {
  const from = local(start);
  const to = local(end);
  // A slot ending at midnight still reads as one day: "Mon 30 Nov, 23:00–00:00".
  const endsAtMidnight = to.hour === 0 && to.minute === 0 && to.minus({ minutes: 1 }).hasSame(from, "day");
  const sameDay = from.hasSame(to, "day") || endsAtMidnight;
  const time = hour12() ? "h:mm a" : "HH:mm";
  return `${from.toFormat(`ccc d LLL, ${time}`)}–${to.toFormat(sameDay ? time : `ccc d LLL, ${time}`)}`;
}

function skillName(slot) {
  return slot.skill ? slot.skill.name : "Any of my skills";
}

// --- Messages ----------------------------------------------------------------------

function showAlert(text) {
  const box = document.createElement("div");
  box.className = "alert alert-error cal-alert";
  const message = document.createElement("p");
  message.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "icon-button";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", clearAlert);
  box.append(message, close);
  alertRegion.replaceChildren(box);
}

function clearAlert() {
  alertRegion.replaceChildren();
}

function showFormError(form, text) {
  const region = form.querySelector("[data-form-error]");
  const message = document.createElement("p");
  message.className = "alert alert-error";
  message.textContent = text;
  region.replaceChildren(message);
}

function clearFormError(form) {
  form.querySelector("[data-form-error]")?.replaceChildren();
}

async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  for (const button of buttons) button.disabled = true;
  try {
    return await work();
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

function repeatWeeks(input) {
  const weeks = Number(input.value || 1);
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > MAX_REPEAT_WEEKS) {
    throw new Error(`Repeat for 1 to ${MAX_REPEAT_WEEKS} weeks.`);
  }
  return weeks;
}

// --- Calendar ----------------------------------------------------------------------

function isOver(slot) {
  return new Date(slot.end) <= new Date();
}

function toEvent(slot) {
  const label = STATUS_LABELS[slot.status] ?? slot.status;
  const classNames = [`slot-${slot.status}`];
  if (slot.status !== "past" && isOver(slot)) classNames.push("slot-past");
  return {
    id: String(slot.id),
    title: slot.status === "open" ? skillName(slot) : `${label} · ${skillName(slot)}`,
    start: slot.start,
    end: slot.end,
    // Only open future slots move; booked ones are fixed until the booking is cancelled.
    editable: slot.status === "open",
    classNames,
    extendedProps: { slot },
  };
}

function slotsUrl(start, end) {
  const query = new URLSearchParams({ mine: "true", start, end });
  return `/api/slots/?${query}`;
}

async function loadSlots(info, success, failure) {
  try {
    success((await api(slotsUrl(info.startStr, info.endStr))).map(toEvent));
  } catch (error) {
    failure(error);
    showAlert(`Could not load your slots: ${error.message}`);
  }
}

function contentHeight() {
  return Math.round(Math.min(Math.max(window.innerHeight * 0.62, 380), 640));
}

let pendingSelection = null;
let currentEvent = null;

const calendar = makeCalendar(calendarEl, zone, {
  initialView: window.matchMedia(NARROW).matches ? "timeGridDay" : "timeGridWeek",
  headerToolbar: { left: "prev,next today", center: "title", right: "timeGridWeek,timeGridDay" },
  buttonText: { today: "Today", week: "Week", day: "Day" },
  selectable: true,
  selectMirror: true,
  editable: true,
  // The rows are 15 minutes (calendar-options.js): a snap finer than the row would make
  // a grabbed slot jump 15 minutes as the drag starts (FullCalendar centres on the row).
  scrollTime: "08:00:00",
  scrollTimeReset: false,
  contentHeight: contentHeight(),
  // Touch: a shorter press than the default second starts a selection or a drag.
  selectLongPressDelay: 300,
  eventLongPressDelay: 300,
  events: loadSlots,
  select: openCreateDialog,
  eventDrop: saveTimes,
  eventResize: saveTimes,
  eventClick: openSlotDialog,
  eventDidMount(info) {
    // A focusable div (FullCalendar adds tabindex for eventClick): it is a button. Its name
    // is its content (time and skill, then the day and status for screen readers only).
    if (info.event.extendedProps.slot) info.el.setAttribute("role", "button");
  },
  eventContent: describedEventContent((arg) => {
    const { slot } = arg.event.extendedProps;
    if (!slot) return ""; // the selection's mirror
    const status = STATUS_LABELS[slot.status] ?? slot.status;
    return `${status} slot, ${formatRange(arg.event.start, arg.event.end)}`;
  }),
  windowResize() {
    calendar.setOption("contentHeight", contentHeight());
    const narrow = window.matchMedia(NARROW).matches;
    if (narrow && calendar.view.type === "timeGridWeek") calendar.changeView("timeGridDay");
  },
});
calendar.render();

async function saveTimes(info) {
  clearAlert();
  const { event } = info;
  try {
    const slot = await api(`/api/slots/${event.id}/`, {
      method: "PATCH",
      body: { start: event.startStr, end: event.endStr },
    });
    event.setExtendedProp("slot", slot);
    showToast(`Slot now ${formatRange(slot.start, slot.end)}.`, "success");
    refreshTable();
  } catch (error) {
    info.revert();
    showAlert(error.message);
  }
}

// --- Create dialog -----------------------------------------------------------------

function openCreateDialog(info) {
  clearAlert();
  if (info.start < new Date()) {
    calendar.unselect();
    showAlert("That time has already passed. Choose a time in the future.");
    return;
  }
  // With the Luxon plugin, startStr/endStr carry the zone's offset (e.g. -05:00).
  pendingSelection = { start: info.startStr, end: info.endStr };
  const form = createDialog.querySelector("form");
  clearFormError(form);
  form.repeat_weeks.value = "1";
  createDialog.querySelector("[data-when]").textContent = `${formatRange(info.start, info.end)} (${zone})`;
  createDialog.showModal();
}

createDialog.addEventListener("close", () => {
  pendingSelection = null;
  calendar.unselect();
});

createDialog.querySelector("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearFormError(form);
  if (!pendingSelection) return;
  let weeks;
  try {
    weeks = repeatWeeks(form.repeat_weeks);
  } catch (error) {
    showFormError(form, error.message);
    return;
  }
  await busy(form, async () => {
    try {
      await createSlots({ ...pendingSelection, skill: form.skill.value || null, repeat_weeks: weeks });
      createDialog.close();
    } catch (error) {
      showFormError(form, error.message);
    }
  });
});

async function createSlots(body) {
  const created = await api("/api/slots/", { method: "POST", body });
  const count = Array.isArray(created) ? created.length : 1;
  const first = Array.isArray(created) ? created[0] : created;
  calendar.refetchEvents();
  refreshTable();
  showToast(
    count > 1
      ? `${count} weekly slots created, from ${formatRange(first.start, first.end)}.`
      : `Slot created: ${formatRange(first.start, first.end)}.`,
    "success",
  );
  return first;
}

// --- Slot dialog (click) -----------------------------------------------------------

function openSlotDialog(info) {
  info.jsEvent.preventDefault();
  clearAlert();
  currentEvent = info.event;
  const { slot } = info.event.extendedProps;
  const editable = slot.status === "open" && !isOver(slot);
  const form = slotDialog.querySelector("form");
  clearFormError(form);
  const when = formatRange(info.event.start, info.event.end);
  slotDialog.querySelector("[data-when]").textContent = `${when} (${zone}) · ${skillName(slot)}`;
  const note = slotDialog.querySelector("[data-note]");
  note.hidden = editable;
  if (slot.status === "booked" || slot.status === "requested") {
    const sessions = document.createElement("a");
    sessions.href = calendarEl.dataset.sessionsUrl;
    sessions.textContent = "My sessions";
    note.replaceChildren(
      slot.status === "booked"
        ? "A learner has booked this slot, so it cannot be moved or deleted. " +
            "To free it, cancel the session from "
        : "A learner has asked for this slot. Until you accept or decline the request in ",
      sessions,
      slot.status === "booked" ? "." : ", the slot cannot be moved or deleted.",
    );
  } else if (!editable) {
    note.textContent = "This slot has already started, so it can no longer be changed.";
  }
  for (const element of form.querySelectorAll("[data-editable-only]")) element.hidden = !editable;
  form.skill.value = slot.skill?.slug ?? "";
  slotDialog.showModal();
}

slotDialog.addEventListener("close", () => {
  currentEvent = null;
});

slotDialog.querySelector("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  if (!currentEvent) return;
  clearFormError(form);
  await busy(form, async () => {
    try {
      const slot = await api(`/api/slots/${currentEvent.id}/`, {
        method: "PATCH",
        body: { skill: form.skill.value || null },
      });
      currentEvent.setExtendedProp("slot", slot);
      currentEvent.setProp("title", toEvent(slot).title);
      slotDialog.close();
      showToast(`Slot is now for ${skillName(slot)}.`, "success");
      refreshTable();
    } catch (error) {
      showFormError(form, error.message);
    }
  });
});

slotDialog.querySelector("[data-slot-delete]").addEventListener("click", async () => {
  const form = slotDialog.querySelector("form");
  if (!currentEvent) return;
  clearFormError(form);
  await busy(form, async () => {
    try {
      await api(`/api/slots/${currentEvent.id}/`, { method: "DELETE" });
      currentEvent.remove();
      slotDialog.close();
      showToast("Slot deleted.", "success");
      refreshTable();
    } catch (error) {
      showFormError(form, error.message);
    }
  });
});

for (const button of document.querySelectorAll("[data-dialog-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}

// --- Keyboard-friendly form and table ----------------------------------------------

if (addForm) {
  const today = DateTime.now().setZone(zone).toISODate();
  addForm.date.value = today;
  addForm.date.min = today;

  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormError(addForm);
    const { date, start, end } = addForm;
    if (!date.value || !start.value || !end.value) {
      showFormError(addForm, "Choose a date, a start time and an end time.");
      return;
    }
    const from = DateTime.fromISO(`${date.value}T${start.value}`, { zone });
    let to = DateTime.fromISO(`${date.value}T${end.value}`, { zone });
    // "Ends 00:00" means midnight at the end of that day.
    if (end.value === "00:00") to = to.plus({ days: 1 });
    if (!from.isValid || !to.isValid) {
      showFormError(addForm, "Those are not valid times.");
      return;
    }
    if (to <= from) {
      showFormError(addForm, "The slot must end after it starts.");
      return;
    }
    let weeks;
    try {
      weeks = repeatWeeks(addForm.repeat_weeks);
    } catch (error) {
      showFormError(addForm, error.message);
      return;
    }
    await busy(addForm, async () => {
      try {
        await createSlots({
          start: from.toISO(),
          end: to.toISO(),
          skill: addForm.skill.value || null,
          repeat_weeks: weeks,
        });
        calendar.gotoDate(from.toISODate());
      } catch (error) {
        showFormError(addForm, error.message);
      }
    });
  });
}

// The table of the next weeks is the server's own rows (the same template as the
// first render), fetched again after every change: one renderer, not two.
async function refreshTable() {
  if (!upcomingRows) return;
  try {
    const response = await fetch("?partial=upcoming", {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (response.ok) upcomingRows.innerHTML = await response.text();
  } catch {
    // The calendar still shows the truth; the table catches up on the next change.
  }
}

upcomingRows?.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-delete-slot]");
  if (!button) return;
  const when = button.closest("tr").querySelector("time")?.textContent ?? "this slot";
  const confirmed = await confirmDialog({
    title: "Delete this slot?",
    body: `${when} will no longer be offered to learners.`,
    confirmLabel: "Delete slot",
    danger: true,
  });
  if (!confirmed) return;
  button.disabled = true;
  try {
    await api(`/api/slots/${button.dataset.deleteSlot}/`, { method: "DELETE" });
    showToast("Slot deleted.", "success");
    calendar.refetchEvents();
    refreshTable();
  } catch (error) {
    button.disabled = false;
    showAlert(error.message);
  }
});
