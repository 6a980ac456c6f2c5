// What every SkillLink calendar shares (FullCalendar 6 with Luxon for time zones): the
// viewer's zone, weeks from Monday, the viewer's 12- or 24-hour clock (clock.js), 15-minute
// rows with hour labels.
import { timeOptions } from "./clock.js";

const FC = window.FullCalendar;

export const TIME_FORMAT = timeOptions();
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

// FullCalendar draws the toolbar arrows as <span role="img"> without a name; the button
// around each is already named (buttonHints), so the icon is hidden from assistive tech.
function quietIcons(element) {
  for (const icon of element.querySelectorAll(".fc-icon[role=img]")) icon.setAttribute("aria-hidden", "true");
}

export function makeCalendar(element, zone, options) {
  const calendar = new FC.Calendar(element, calendarOptions(zone, options));
  calendar.on("datesSet", () => quietIcons(element));
  return calendar;
}

/** An ``eventContent`` that draws FullCalendar's own event markup (time, title) followed by
 * text for screen readers only, ``describe(arg)`` (the day, the status, the action). The
 * accessible name is then the visible text and more (never an aria-label that could say
 * something else), and it follows every drag and resize, as FullCalendar redraws the
 * content whenever the event changes. */
export function describedEventContent(describe) {
  const make = (tag, className, text) => {
    const node = document.createElement(tag);
    node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  return (arg) => {
    const title = make("div", "fc-event-title fc-sticky", arg.event.title);
    let nodes;
    if (arg.view.type.startsWith("list")) {
      nodes = [title]; // the list draws the time in a cell of its own
    } else {
      const frame = make("div", "fc-event-main-frame");
      if (arg.timeText) frame.append(make("div", "fc-event-time", arg.timeText));
      const container = make("div", "fc-event-title-container");
      container.append(title);
      frame.append(container);
      nodes = [frame];
    }
    const extra = describe(arg);
    if (extra) title.append(make("span", "visually-hidden", `, ${extra}`));
    return { domNodes: nodes };
  };
}
