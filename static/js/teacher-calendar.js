// A teacher's open slots, read-only, in the viewer's zone; a slot links to its booking page.
import { api } from "./api.js";

const { DateTime } = window.luxon;
const FC = window.FullCalendar;

const calendarEl = document.querySelector("[data-teacher-calendar]");
const alertRegion = document.querySelector("[data-cal-alert]");

if (calendarEl) {
  const zone = calendarEl.dataset.timezone || "UTC";
  const teacherId = calendarEl.dataset.teacherId;
  const bookable = calendarEl.dataset.bookable === "true";
  // Open on the week (and hour) of the first open slot, so there is something to see.
  const { firstSlot } = calendarEl.dataset;
  const first = firstSlot ? DateTime.fromISO(firstSlot).setZone(zone) : null;
  const narrow = window.matchMedia("(max-width: 720px)").matches;
  // hourCycle, not hour12: Chrome renders midnight as "24:00" with hour12: false.
  const TIME_FORMAT = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };

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

  const calendar = new FC.Calendar(calendarEl, {
    plugins: [FC.Luxon3.default ?? FC.Luxon3],
    timeZone: zone,
    // A week of narrow columns is unreadable on a phone: a list of the week instead.
    initialView: narrow ? "listWeek" : "timeGridWeek",
    initialDate: first ? first.toISODate() : undefined,
    firstDay: 1,
    headerToolbar: narrow
      ? { left: "prev,next", center: "title", right: "today" }
      : { left: "prev,next today", center: "title", right: "timeGridWeek,listWeek" },
    buttonText: { today: "Today", week: "Week", list: "List" },
    buttonHints: { prev: "Previous $0", next: "Next $0", today: "This $0" },
    nowIndicator: true,
    allDaySlot: false,
    editable: false,
    selectable: false,
    slotDuration: "00:15:00",
    slotLabelInterval: "01:00",
    scrollTime: first ? first.minus({ hours: 1 }).startOf("hour").toFormat("HH:mm:ss") : "08:00:00",
    contentHeight: narrow ? "auto" : 560,
    slotLabelFormat: TIME_FORMAT,
    eventTimeFormat: TIME_FORMAT,
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
    eventDidMount(info) {
      const start = DateTime.fromJSDate(info.event.start).setZone(zone).setLocale("en");
      const end = DateTime.fromJSDate(info.event.end).setZone(zone).setLocale("en");
      const when = `${start.toFormat("cccc d LLLL, HH:mm")} to ${end.toFormat("HH:mm")}`;
      const label = `${when}, ${info.event.title}`;
      info.el.setAttribute("aria-label", bookable ? `Book ${label}` : label);
    },
  });
  calendar.render();
}
