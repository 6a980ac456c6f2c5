// The assistant panel of the meeting room. Either participant asks (optionally quoting the
// recent chat); both see the answer stream in as plain text, then the server's rendered and
// sanitized HTML with highlighted code and copy buttons. Either can stop it.
// Over the room socket: out assistant.ask {prompt, include_chat}, assistant.stop {request_id};
// in the room frame's "assistant" part (state and saved exchanges, on every (re)connect;
// assistant.state carries the same after an outage of the server's live delivery),
// assistant.started / .delta / .done / .error (whole room) and assistant.quota (the asker).
import { enhanceCodeBlocks } from "../code-copy.js";
import { timeFormatter } from "../clock.js";
import { send } from "./socket.js";
import { config } from "./state.js";

const timeFormat = timeFormatter();

function roomAssistant({ userId }) {
  const panel = document.querySelector("[data-assistant-panel]");
  if (!panel) return { onFrame: () => false };
  const $ = (selector) => panel.querySelector(selector);
  const log = $("[data-assistant-log]");
  const form = $("[data-assistant-form]");
  const input = $("[data-assistant-input]");
  const includeChat = $("[data-assistant-include-chat]");
  const askButton = $("[data-assistant-ask]");
  const stopButton = $("[data-assistant-stop]");
  const note = $("[data-assistant-note]");
  const errorBox = $("[data-assistant-error]");
  const quotaLabel = $("[data-assistant-quota]");
  const status = $("[data-assistant-status]");
  const entries = new Map(); // request_id -> {item, answer, notice, text}
  let running = null;
  let lastAsked = null;

  const show = (element, text) => {
    element.hidden = !text;
    element.textContent = text || "";
  };

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  function keepInView(wasNearBottom) {
    if (wasNearBottom) log.scrollTop = log.scrollHeight;
  }

  function setRunning(id) {
    running = id;
    panel.dataset.running = id === null ? "" : String(id);
    // One answer at a time per room: while one runs, Stop takes Ask's place.
    stopButton.hidden = id === null;
    askButton.hidden = id !== null;
  }

  function showQuota(quota) {
    if (!quota) return;
    quotaLabel.textContent = `${quota.remaining} of ${quota.limit} questions left today`;
    quotaLabel.title = `Resets at midnight (${document.body.dataset.timezone || "your time zone"})`;
  }

  function entry(exchange) {
    const existing = entries.get(exchange.request_id);
    if (existing) return existing;
    const item = document.createElement("article");
    item.className = "assistant-entry";
    item.dataset.requestId = exchange.request_id;
    const meta = document.createElement("p");
    meta.className = "assistant-meta";
    const who = exchange.asked_by.id === userId ? "You" : exchange.asked_by.name;
    const withChat = exchange.include_chat ? " (with the chat)" : "";
    meta.textContent = `${who} asked${withChat} · ${timeFormat.format(new Date(exchange.created_at))}`;
    const question = document.createElement("div");
    question.className = "assistant-question";
    question.textContent = exchange.prompt;
    const answer = document.createElement("div");
    answer.className = "assistant-answer markdown";
    const notice = document.createElement("p");
    notice.className = "assistant-note";
    notice.hidden = true;
    item.append(meta, question, answer, notice);
    const wasNearBottom = nearBottom();
    log.append(item);
    keepInView(wasNearBottom);
    const made = { item, answer, notice, text: null };
    entries.set(exchange.request_id, made);
    return made;
  }

  function finish(made, { html, markdown, statusName, message, error }) {
    const wasNearBottom = nearBottom();
    made.item.dataset.status = statusName;
    made.answer.classList.remove("streaming");
    made.text = null;
    if (html) {
      made.answer.innerHTML = html; // rendered and sanitized by the server (nh3)
      enhanceCodeBlocks(made.answer);
    } else if (markdown) {
      made.answer.textContent = markdown;
    } else {
      made.answer.replaceChildren();
    }
    made.notice.classList.toggle("error", Boolean(error));
    show(made.notice, message);
    keepInView(wasNearBottom);
  }

  function streaming(made) {
    made.item.dataset.status = "streaming";
    made.answer.classList.add("streaming");
    if (!made.text) {
      made.text = document.createTextNode("");
      made.answer.replaceChildren(made.text);
    }
    show(made.notice, "Answering…");
  }

  function render(exchange) {
    const made = entry(exchange);
    if (exchange.status === "streaming") {
      streaming(made);
      return;
    }
    const messages = {
      done: exchange.truncated ? "The answer reached the length limit and was cut." : "",
      stopped: exchange.error?.detail || "Stopped.",
      failed: exchange.error?.detail || "The assistant could not answer.",
    };
    finish(made, {
      html: exchange.html,
      markdown: exchange.markdown,
      statusName: exchange.status,
      message: messages[exchange.status],
      error: exchange.status === "failed",
    });
  }

  function onState(state) {
    // On every (re)connect: start over from what the server saved, keeping the text of an
    // answer this page was showing as it streamed.
    const kept = running !== null ? entries.get(running) : null;
    log.replaceChildren();
    entries.clear();
    panel.dataset.state = state.configured ? "ready" : "unconfigured";
    form.hidden = !state.configured;
    if (!state.configured) {
      show(note, "The AI assistant is not configured on this server, so it cannot answer here.");
      setRunning(null);
      return;
    }
    input.maxLength = state.max_prompt_chars;
    showQuota(state.quota);
    for (const exchange of state.history) render(exchange);
    if (kept && state.running === Number(kept.item.dataset.requestId)) {
      const made = entries.get(state.running);
      made.answer.replaceChildren(kept.text || "");
      made.text = kept.text;
    }
    show(note, state.history.length ? "" : "Ask about the topic, or paste code and ask what is wrong. Both of you see the answer.");
    setRunning(state.running ?? null);
  }

  function onStarted(frame) {
    show(note, "");
    const made = entry({ ...frame, status: "streaming" });
    streaming(made);
    setRunning(frame.request_id);
    status.textContent = frame.asked_by.id === userId ? "The assistant is answering." : `${frame.asked_by.name} asked the assistant; it is answering.`;
  }

  function onDelta(frame) {
    const made = entries.get(frame.request_id);
    if (!made) return;
    if (!made.text) streaming(made);
    const wasNearBottom = nearBottom();
    made.text.appendData(frame.text);
    keepInView(wasNearBottom);
  }

  function onDone(frame) {
    const made = entries.get(frame.request_id);
    if (made) {
      finish(made, {
        html: frame.html,
        markdown: frame.markdown,
        statusName: "done",
        message: frame.truncated ? "The answer reached the length limit and was cut." : "",
      });
    }
    if (running === frame.request_id) setRunning(null);
    status.textContent = "The assistant's answer is ready.";
  }

  function onError(frame) {
    if (frame.request_id === null) {
      // A refusal of this page's question: only we hear it. The question comes back.
      show(errorBox, frame.detail);
      if (lastAsked && !input.value) input.value = lastAsked;
      lastAsked = null;
      return;
    }
    const made = entries.get(frame.request_id);
    const stopped = frame.code === "assistant_stopped";
    if (made) {
      finish(made, {
        html: frame.html,
        markdown: frame.markdown,
        statusName: stopped ? "stopped" : "failed",
        message: frame.detail,
        error: !stopped,
      });
    }
    if (running === frame.request_id) setRunning(null);
    status.textContent = frame.detail;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const prompt = input.value.trim();
    if (!prompt) {
      show(errorBox, "Type a question first.");
      input.focus();
      return;
    }
    if (!send({ type: "assistant.ask", prompt, include_chat: includeChat.checked })) {
      show(errorBox, "Not connected — reconnecting. Your question was kept.");
      return;
    }
    lastAsked = prompt;
    input.value = "";
    show(errorBox, "");
  });

  input.addEventListener("keydown", (event) => {
    // Enter makes a new line (pasted code); Ctrl+Enter or Cmd+Enter sends.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  stopButton.addEventListener("click", () => {
    if (running !== null) send({ type: "assistant.stop", request_id: running });
  });

  return {
    /** Handle an assistant frame (true), or let the room handle the frame (false). */
    onFrame(frame) {
      switch (frame.type) {
        case "room":
          if (frame.assistant) onState(frame.assistant);
          return false; // the room handles the rest of it
        case "assistant.state": // the same state again, after the server's live delivery was down
          onState(frame);
          return true;
        case "assistant.started":
          onStarted(frame);
          return true;
        case "assistant.delta":
          onDelta(frame);
          return true;
        case "assistant.done":
          onDone(frame);
          return true;
        case "assistant.error":
          onError(frame);
          return true;
        case "assistant.quota":
          showQuota(frame.quota);
          lastAsked = null;
          return true;
        default:
          return false;
      }
    },
  };
}

const assistant = roomAssistant({ userId: config.userId });

/** Handle an assistant frame (true), or leave the frame to the room (false). The room
 * passes every frame here first; the room frame's "assistant" part is read and false is
 * returned, so the room handles the rest of it. */
export function onAssistantFrame(frame) {
  return assistant.onFrame(frame);
}
