// The room's chat: messages in id order (caught-up ones may arrive late), links made
// clickable as text (never HTML), Enter to send, refused messages back in the box.
import { timeFormatter } from "../clock.js";
import { send } from "./socket.js";
import { $, config, note, state } from "./state.js";

const chatLog = $("[data-chat-log]");
export const chatInput = $("[data-chat-input]");
const chatError = $("[data-chat-error]");
const chatForm = $("[data-chat-form]");

const timeFormat = timeFormatter();

const URL_PATTERN = /(https?:\/\/[^\s<>"']+)/g;

function linkified(text) {
  const fragment = document.createDocumentFragment();
  for (const part of text.split(URL_PATTERN)) {
    if (!part) continue;
    if (/^https?:\/\//.test(part)) {
      const link = document.createElement("a");
      link.href = part;
      link.textContent = part;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      fragment.append(link);
    } else {
      fragment.append(document.createTextNode(part));
    }
  }
  return fragment;
}

export function renderMessage(message) {
  if (state.seen.has(message.id)) return;
  state.seen.add(message.id);
  const item = document.createElement("li");
  item.className = message.sender === config.userId ? "chat-message mine" : "chat-message";
  item.dataset.messageId = message.id;
  const meta = document.createElement("span");
  meta.className = "chat-meta";
  meta.textContent = `${message.sender === config.userId ? "You" : message.sender_name} · ${timeFormat.format(new Date(message.sent_at))}`;
  const body = document.createElement("span");
  body.className = "chat-text";
  body.append(linkified(message.text));
  item.append(meta, body);
  // In id order: messages caught up after an outage can arrive after newer ones.
  const later = [...chatLog.children].find((other) => Number(other.dataset.messageId) > message.id);
  chatLog.insertBefore(item, later ?? null);
  chatLog.scrollTop = chatLog.scrollHeight;
}

// Refusals that concern the message just sent: it comes back into the box with the reason.
const CHAT_REFUSALS = new Set(["rate_limited", "invalid", "frame_too_large", "chat_not_saved"]);

// True when ``frame`` (an error) was about chat and has been shown here.
export function onChatError(frame) {
  if (!CHAT_REFUSALS.has(frame.code)) return false;
  note(chatError, frame.detail);
  // The refused message comes back into the box, unless something new was typed.
  if (state.unconfirmedChat && !chatInput.value) chatInput.value = state.unconfirmedChat;
  state.unconfirmedChat = null;
  return true;
}

chatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = chatInput.value.trim();
  if (!text) return;
  if (!send({ type: "chat.send", text })) {
    note(chatError, "Not connected — reconnecting. Your message was kept.");
    return;
  }
  state.unconfirmedChat = text;
  chatInput.value = "";
  note(chatError, "");
});

chatInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    chatForm.requestSubmit();
  }
});
