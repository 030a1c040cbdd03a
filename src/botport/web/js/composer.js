// The message box: grows with its text, Enter sends, Shift+Enter breaks the line, Stop while streaming.

import { send, stop, turnHere } from "./chat.js";
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
    // Only an answer running in the open conversation blocks sending; other conversations run their own.
    const turn = turnHere();
    const streaming = Boolean(turn && !turn.stopped);
    sendButton.hidden = streaming;
    stopButton.hidden = !streaming;
    sendButton.disabled = Boolean(turn) || input.value.trim() === "";
  };

  const submit = async () => {
    if (turnHere() || input.value.trim() === "") return;
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
  // A question that was not sent (another tab's answer was running) comes back to the box.
  on("draft", (text) => {
    if (input.value.trim() !== "") return;
    input.value = text;
    grow();
    refresh();
  });
  on("config", () => {
    const max = state.config?.limits?.max_message_chars;
    if (max) input.maxLength = max;
  });
  refresh();
}

export function focusComposer() {
  document.getElementById("composer-input").focus();
}
