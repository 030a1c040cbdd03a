// A Server-Sent Events reader over a fetch body (EventSource cannot POST).
// Lines end at CR, LF or CRLF only: U+2028/U+2029 inside JSON are not line ends.

/** Split decoded text into lines; keeps the unfinished tail (and a CR that may precede an LF). */
export function createLineSplitter() {
  let buffer = "";
  return function push(text, final = false) {
    buffer += text;
    const lines = [];
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const ch = buffer[i];
      if (ch !== "\n" && ch !== "\r") continue;
      if (ch === "\r" && i + 1 === buffer.length && !final) break; // its LF may be in the next chunk
      lines.push(buffer.slice(start, i));
      if (ch === "\r" && buffer[i + 1] === "\n") i++;
      start = i + 1;
    }
    buffer = buffer.slice(start);
    if (final && buffer) {
      lines.push(buffer);
      buffer = "";
    }
    return lines;
  };
}

/**
 * Turn lines into events `{event, data, id}` as the SSE spec says (comments and unknown fields ignored).
 * `id` is the last event id: an `id:` field sets it and it stays for later events until another one
 * changes it; an id that contains NUL is ignored.
 */
export function createEventParser() {
  let event = "";
  let data = [];
  let lastEventId = "";
  return function line(text) {
    if (text === "") {
      if (data.length === 0) {
        event = "";
        return null;
      }
      const done = { event: event || "message", data: data.join("\n"), id: lastEventId };
      event = "";
      data = [];
      return done;
    }
    if (text.startsWith(":")) return null;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id" && !value.includes("\0")) lastEventId = value;
    return null;
  };
}

/** Yield `{event, data, id}` from a ReadableStream of bytes; always releases the stream. */
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  const split = createLineSplitter();
  const parse = createEventParser();
  let finished = false;
  try {
    while (!finished) {
      const { value, done } = await reader.read();
      finished = done;
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (const line of split(text, done)) {
        const event = parse(line);
        if (event) yield event;
      }
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
