// The viewer's clock, as the server uses it (accounts/clock.py): the profile's time format
// (<body data-time-format="auto|12|24">), "auto" following the browser's language.

export function browserHour12() {
  const cycle = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hourCycle;
  return cycle === "h12" || cycle === "h11";
}

export function hour12() {
  const preference = document.body.dataset.timeFormat;
  if (preference === "12") return true;
  if (preference === "24") return false;
  return browserHour12();
}

/** Intl options for a time of day: "14:00" or "2:00 PM". hourCycle rather than
 * hour12: false, as Chrome renders midnight as "24:00" with the latter. */
export function timeOptions() {
  return hour12()
    ? { hour: "numeric", minute: "2-digit", hourCycle: "h12" }
    : { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
}

/** A formatter of times of day in the viewer's zone and clock. */
export function timeFormatter() {
  return new Intl.DateTimeFormat(hour12() ? "en-US" : undefined, {
    ...timeOptions(),
    timeZone: document.body.dataset.timezone || undefined,
  });
}
