// A teacher's open slots, read-only, in the viewer's zone; a slot links to its booking page.
import { api } from "./api.js";
import { NARROW, describedEventContent, makeCalendar } from "./calendar-options.js";

const { DateTime } = window.luxon;

const calendarEl = document.querySelector("[data-teacher-calendar]");
const alertRegion = document.querySelector("[data-cal-alert]");

if (calendarEl) {
  const zone = calendarEl.dataset.timezone || "UTC";
  const teacherId = calendarEl.dataset.teacherId;
  const bookable = calendarEl.dataset.bookable === "true";
  // Open on the week (and hour) of the first open slot, so there is something to see.
  const { firstSlot } = calendarEl.dataset;
  const first = firstSlot ? DateTime.fromISO(firstSlot).setZone(zone) : null;
  const narrow = window.matchMedia(NARROW).matches;

  function toEvent(slot) {
    return {
      id: String(slot.id),
      title: slot.skill ? slot.skill.name : "Any of their skills",
      start: slot.start,
      end: slot.end,
      url: bookable ? `/book/${slot.id}/` : undefined,
      classNames: ["slot-open"],
    };
  }

  const calendar = makeCalendar(calendarEl, zone, {
    // A week of narrow columns is unreadable on a phone: a list of the week instead.
    initialView: narrow ? "listWeek" : "timeGridWeek",
    initialDate: first ? first.toISODate() : undefined,
    headerToolbar: narrow
      ? { left: "prev,next", center: "title", right: "today" }
      : { left: "prev,next today", center: "title", right: "timeGridWeek,listWeek" },
    buttonText: { today: "Today", week: "Week", list: "List" },
    editable: false,
    selectable: false,
    // Scrolled to an hour before the first open slot (same day: never wraps to 23:00).
    scrollTime: first ? `${String(Math.max(0, first.hour - 1)).padStart(2, "0")}:00:00` : "08:00:00",
    contentHeight: narrow ? "auto" : 560,
    dayHeaderFormat: narrow
      ? undefined
      : { weekday: "short", day: "numeric", month: "numeric", omitCommas: true },
    noEventsContent: "No open times this week. Try the next week.",
    async events(info, success, failure) {
      // The API's largest page: one request per week (a week rarely holds more).
      const query = new URLSearchParams({
        teacher: teacherId,
        start: info.startStr,
        end: info.endStr,
        limit: "500",
      });
      try {
        success((await api(`/api/slots/?${query}`)).map(toEvent));
      } catch (error) {
        failure(error);
        if (alertRegion) alertRegion.textContent = `Could not load the open times: ${error.message}`;
      }
    },
    // The day and what the link does, after the visible time and skill (screen readers).
    eventContent: describedEventContent((arg) => {
      const day = DateTime.fromJSDate(arg.event.start).setZone(zone).setLocale("en").toFormat("cccc d LLLL");
      return bookable ? `${day}, book this time` : day;
    }),
  });
  calendar.render();
}
