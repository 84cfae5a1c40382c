// The chat page: POSTs to the gateway with fetch() and renders tokens as they arrive.
// EventSource cannot POST or send an Authorization header, so the SSE stream is read
// with a ReadableStream reader and parsed here. The token stays in this tab only
// (sessionStorage), never in localStorage or a cookie.
"use strict";

const TOKEN_KEY = "llm-twin-gateway-token";

// Splits a byte stream into server-sent events (WHATWG rules: LF, CRLF or CR line ends,
// "data:" lines joined with LF, a blank line dispatches, comments and other fields ignored).
class SseParser {
  constructor() {
    this.decoder = new TextDecoder();
    this.buffer = "";
    this.data = null;
  }

  // Returns the data of every event the chunk completes.
  push(bytes) {
    this.buffer += this.decoder.decode(bytes, { stream: true });
    const events = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== "\n" && c !== "\r") continue;
      if (c === "\r" && i + 1 === this.buffer.length) break; // maybe half of a CRLF: wait
      this.line(this.buffer.slice(start, i), events);
      if (c === "\r" && this.buffer[i + 1] === "\n") i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  line(line, events) {
    if (line === "") {
      if (this.data !== null) events.push(this.data);
      this.data = null;
    } else if (line.startsWith("data")) {
      const colon = line.indexOf(":");
      if (colon !== 4 && line !== "data") return;
      let value = colon === 4 ? line.slice(5) : "";
      if (value.startsWith(" ")) value = value.slice(1);
      this.data = this.data === null ? value : this.data + "\n" + value;
    }
  }
}

const $ = (id) => document.getElementById(id);
let controller = null;

function setStatus(state, message) {
  const status = $("status");
  status.dataset.state = state;
  status.textContent = message;
}

function requestFor(api, prompt) {
  const maxNewTokens = parseInt($("max-new-tokens").value, 10);
  const temperature = parseFloat($("temperature").value);
  const seed = $("seed").value === "" ? null : parseInt($("seed").value, 10);
  if (api === "chat") {
    const body = { messages: [{ role: "user", content: prompt }], stream: true };
    if (maxNewTokens > 0) body.max_tokens = maxNewTokens;
    if (!Number.isNaN(temperature)) body.temperature = temperature;
    if (seed !== null) body.seed = seed;
    return { url: "/v1/chat/completions", body };
  }
  const parameters = {};
  if (maxNewTokens > 0) parameters.max_new_tokens = maxNewTokens;
  // TGI refuses temperature 0; greedy decoding is do_sample false instead.
  if (temperature === 0) parameters.do_sample = false;
  else if (!Number.isNaN(temperature)) parameters.temperature = temperature;
  if (seed !== null) parameters.seed = seed;
  return { url: "/generate_stream", body: { inputs: prompt, parameters } };
}

// The visible text an event adds, whether the stream is over, and its final text if any.
function readEvent(api, data) {
  if (data === "[DONE]") return { text: "", done: true };
  const event = JSON.parse(data);
  if (event.error !== undefined) {
    const message = typeof event.error === "string" ? event.error : event.error.message;
    throw new Error(message);
  }
  if (api === "chat") {
    const choice = (event.choices || [])[0];
    return { text: (choice && choice.delta && choice.delta.content) || "", done: false };
  }
  const text = event.token && !event.token.special ? event.token.text : "";
  const final = typeof event.generated_text === "string" ? event.generated_text : null;
  return { text, done: final !== null, final };
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    const error = typeof body.error === "string" ? body.error : body.error && body.error.message;
    return `${response.status}: ${error || response.statusText}`;
  } catch (_) {
    return `${response.status}: ${response.statusText}`;
  }
}

async function send(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  const prompt = $("prompt").value;
  if (!token) {
    setStatus("error", "Enter the gateway token first.");
    $("token").focus();
    return;
  }
  if (!prompt.trim()) {
    setStatus("error", "Enter a prompt.");
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  const api = $("api").value;
  const { url, body } = requestFor(api, prompt);
  const output = $("output");
  output.textContent = "";
  controller = new AbortController();
  $("send").disabled = true;
  $("stop").disabled = false;
  setStatus("waiting", "Waiting for the first token…");
  let tokens = 0;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) {
      if (response.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        $("token").value = "";
        $("token").focus();
      }
      throw new Error(await errorMessage(response));
    }
    const reader = response.body.getReader();
    const parser = new SseParser();
    let done = false;
    while (!done) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      // One DOM update per network read: every token that arrived is shown now, and a
      // burst of tokens costs one reflow, not one each.
      let text = "";
      let final = null;
      for (const data of parser.push(value)) {
        const read = readEvent(api, data);
        text += read.text;
        tokens += read.text ? 1 : 0;
        if (read.final != null) final = read.final;
        if (read.done) done = true;
      }
      if (final !== null) output.textContent = final; // the server's own text is the reference
      else if (text) output.append(text);
      if (!done) setStatus("streaming", `Streaming… ${tokens} tokens`);
    }
    if (done) {
      await reader.cancel().catch(() => {});
      setStatus("done", `Done: ${tokens} tokens.`);
    } else {
      setStatus("error", "The stream ended before the generation finished; the text above is what arrived.");
    }
  } catch (error) {
    if (error.name === "AbortError") setStatus("stopped", "Stopped; the text above is what arrived.");
    else setStatus("error", `Error: ${error.message}`);
  } finally {
    controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
  $("prompt-form").addEventListener("submit", send);
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("prompt").focus();
  });
  $("stop").addEventListener("click", () => controller && controller.abort());
});
