// The page's own confirmation (never the browser's window.confirm()): a modal <dialog>,
// so focus stays inside it while open and Escape closes it (= "no"); focus returns to
// what had it before. Resolves true only for the confirm button.
let open = null;

export function confirmDialog({ title, body = "", confirmLabel = "Confirm", cancelLabel = "Cancel", danger = false }) {
  open?.close("cancel");
  const dialog = document.createElement("dialog");
  dialog.className = "cal-dialog confirm-dialog";
  dialog.dataset.confirmDialog = "";
  const titleId = `confirm-title-${Date.now()}`;
  dialog.setAttribute("aria-labelledby", titleId);
  const form = document.createElement("form");
  form.method = "dialog";
  const heading = document.createElement("h2");
  heading.id = titleId;
  heading.textContent = title;
  form.append(heading);
  if (body) {
    const text = document.createElement("p");
    text.textContent = body;
    dialog.setAttribute("aria-describedby", (text.id = `${titleId}-body`));
    form.append(text);
  }
  const actions = document.createElement("div");
  actions.className = "actions";
  const yes = document.createElement("button");
  yes.className = `button ${danger ? "danger" : "primary"}`;
  yes.value = "confirm";
  yes.textContent = confirmLabel;
  yes.dataset.confirm = "";
  const no = document.createElement("button");
  no.className = "button ghost";
  no.value = "cancel";
  no.textContent = cancelLabel;
  no.dataset.cancel = "";
  actions.append(yes, no);
  form.append(actions);
  dialog.append(form);
  document.body.append(dialog);
  const before = document.activeElement;
  open = dialog;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const confirmed = dialog.returnValue === "confirm";
      dialog.remove();
      if (open === dialog) open = null;
      if (before?.isConnected) before.focus({ preventScroll: true });
      resolve(confirmed);
    });
    // showModal() makes the page behind inert; Tab also wraps inside (rather than
    // leaving for the browser's own toolbar).
    dialog.addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      const first = yes;
      const last = no;
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    });
    dialog.showModal();
    // The safe answer has the focus: Enter on an accidental click does not end anything.
    no.focus();
  });
}
