// Copy buttons for highlighted code blocks (<pre class="hl">, rendered and sanitized on the
// server): the room's assistant panel calls enhanceCodeBlocks on each answer; loaded on a
// page, it enhances every [data-code-blocks] region now and after a live region re-renders.

function copyText(text) {
  if (navigator.clipboard?.writeText && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  // Plain http (not localhost): the Clipboard API is unavailable, the old command works.
  const scratch = document.createElement("textarea");
  scratch.value = text;
  scratch.setAttribute("readonly", "");
  scratch.style.position = "fixed";
  scratch.style.opacity = "0";
  document.body.append(scratch);
  scratch.select();
  const copied = document.execCommand("copy");
  scratch.remove();
  return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

export function enhanceCodeBlocks(root) {
  for (const pre of root.querySelectorAll("pre")) {
    if (pre.parentElement?.classList.contains("code-block")) continue;
    const code = pre.querySelector("code") || pre;
    const language = /(?:^|\s)language-([\w+#.-]+)/.exec(code.className)?.[1] || "";
    const block = document.createElement("div");
    block.className = "code-block";
    const bar = document.createElement("div");
    bar.className = "code-bar";
    const label = document.createElement("span");
    label.className = "code-lang";
    label.textContent = language || "code";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "code-copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", `Copy this ${language || "code"} block`);
    const said = document.createElement("span");
    said.className = "visually-hidden";
    said.setAttribute("role", "status");
    let reset = null;
    button.addEventListener("click", async () => {
      try {
        await copyText(code.textContent);
        button.textContent = "Copied";
        said.textContent = "Copied to the clipboard.";
      } catch {
        button.textContent = "Press Ctrl+C";
        said.textContent = "Could not copy; select the code and press Ctrl+C.";
        const range = document.createRange();
        range.selectNodeContents(code);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
      }
      clearTimeout(reset);
      reset = setTimeout(() => {
        button.textContent = "Copy";
        said.textContent = "";
      }, 2000);
    });
    bar.append(label, button, said);
    pre.replaceWith(block);
    block.append(bar, pre);
  }
}

function enhancePage() {
  for (const region of document.querySelectorAll("[data-code-blocks]")) enhanceCodeBlocks(region);
}

enhancePage();
document.addEventListener("skilllink:refreshed", enhancePage);
