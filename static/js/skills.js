// Profile page: suggest existing skills in the "add a skill" field from /api/skills/?q=.
// Without JS the field is a plain text input and the server accepts any name.
import { api } from "./api.js";

const DEBOUNCE_MS = 200;

const input = document.querySelector("[data-skill-autocomplete]");
const options = input?.list;

if (input && options) {
  let timer;
  let latest = 0;

  async function suggest(query) {
    const request = ++latest;
    let skills;
    try {
      skills = await api(`/api/skills/?q=${encodeURIComponent(query)}&limit=10`);
    } catch {
      return; // suggestions are a convenience; typing a name still works
    }
    if (request !== latest) return; // a newer keystroke already asked
    options.replaceChildren(
      ...skills.map((skill) => {
        const option = document.createElement("option");
        option.value = skill.name;
        return option;
      }),
    );
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) {
      latest++;
      options.replaceChildren();
      return;
    }
    timer = setTimeout(() => suggest(query), DEBOUNCE_MS);
  });
}
