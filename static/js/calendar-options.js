// What every SkillLink calendar shares (FullCalendar 6 with Luxon for time zones): the
// viewer's zone, weeks from Monday, 24-hour times, 15-minute rows with hour labels.
const FC = window.FullCalendar;

// hourCycle, not hour12: Chrome renders midnight as "24:00" with hour12: false.
export const TIME_FORMAT = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
export const NARROW = "(max-width: 720px)";

export function calendarOptions(zone, options) {
  return {
    plugins: [FC.Luxon3.default ?? FC.Luxon3],
    timeZone: zone,
    firstDay: 1,
    buttonHints: { prev: "Previous $0", next: "Next $0", today: "This $0" },
    nowIndicator: true,
    allDaySlot: false,
    slotDuration: "00:15:00",
    slotLabelInterval: "01:00",
    slotLabelFormat: TIME_FORMAT,
    eventTimeFormat: TIME_FORMAT,
    dayHeaderFormat: { weekday: "short", day: "numeric", month: "numeric", omitCommas: true },
    ...options,
  };
}

export function makeCalendar(element, zone, options) {
  return new FC.Calendar(element, calendarOptions(zone, options));
}
