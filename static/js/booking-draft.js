// The booking page's message survives a detour (the plans page, another tab): it is kept
// in sessionStorage while typed and put back when the page is shown again empty. A
// request the plan refuses is also kept by the server (it comes back in the form).
const form = document.querySelector("[data-booking-form]");

if (form) {
  const key = form.dataset.draftKey;
  const message = form.querySelector("textarea[name=message]");
  const skill = form.querySelector("select[name=skill]");
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(key) || "null");
  } catch {
    saved = null;
  }
  if (saved && message && !message.value) message.value = saved.message || "";
  if (saved && skill && !skill.value && saved.skill) skill.value = saved.skill;

  const save = () => {
    const draft = { message: message ? message.value : "", skill: skill ? skill.value : "" };
    if (draft.message || draft.skill) sessionStorage.setItem(key, JSON.stringify(draft));
    else sessionStorage.removeItem(key);
  };
  message?.addEventListener("input", save);
  skill?.addEventListener("change", save);
  // Sent: the server holds it now (and gives it back if the plan refuses it).
  form.addEventListener("submit", () => sessionStorage.removeItem(key));
}
