// The message box: grows with its text, Enter sends, Shift+Enter breaks the line, Stop while streaming.

import { isStreamingHere, send, stop } from "./chat.js";
import { on, state } from "./store.js";

const MAX_HEIGHT = 200;

export function initComposer() {
  const form = document.getElementById("composer");
  const input = document.getElementById("composer-input");
  const sendButton = document.getElementById("send-button");
  const stopButton = document.getElementById("stop-button");

  const grow = () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, MAX_HEIGHT)}px`;
  };
  const refresh = () => {
    const streaming = isStreamingHere();
    sendButton.hidden = streaming;
    stopButton.hidden = !streaming;
    sendButton.disabled = Boolean(state.turn) || input.value.trim() === "";
  };

  const submit = async () => {
    if (state.turn || input.value.trim() === "") return;
    const text = input.value;
    input.value = "";
    grow();
    refresh();
    await send(text);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    // isComposing: Enter that confirms an IME candidate (Chinese input) must not send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    grow();
    refresh();
  });
  stopButton.addEventListener("click", () => {
    stop();
    input.focus();
  });
  on("turn", refresh);
  on("opened", refresh);
  on("config", () => {
    const max = state.config?.limits?.max_message_chars;
    if (max) input.maxLength = max;
  });
  refresh();
}

export function focusComposer() {
  document.getElementById("composer-input").focus();
}
