// Registration: preselect the browser's time zone when the server left the default.
const select = document.querySelector("[data-register-form] select[name=timezone]");
if (select) {
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    zone = "";
  }
  const untouched = select.value === "UTC" && !select.closest(".has-error");
  if (zone && untouched && [...select.options].some((option) => option.value === zone)) {
    select.value = zone;
  }
}
