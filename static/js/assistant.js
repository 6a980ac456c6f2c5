// The assistant page: Ctrl+Enter sends; while the answer is on its way the button says so
// (the page waits for the whole answer); code blocks get copy buttons (code-copy.js).
import "./code-copy.js";

const form = document.querySelector("[data-assistant-page-form]");
if (form) {
  const box = form.querySelector("textarea");
  const button = form.querySelector("[data-ask]");
  const thinking = form.querySelector("[data-thinking]");
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    if (!box.value.trim()) {
      event.preventDefault();
      box.focus();
      return;
    }
    // After the submit event: the form still posts, but not twice.
    setTimeout(() => {
      button.disabled = true;
      button.textContent = "Asking…";
      thinking.hidden = false;
    });
  });
}

// Arriving at #answer-<id> after asking: the answer is what a keyboard user reads next.
const answer = location.hash.startsWith("#answer-") && document.getElementById(location.hash.slice(1));
if (answer) {
  answer.setAttribute("tabindex", "-1");
  answer.focus({ preventScroll: false });
}
