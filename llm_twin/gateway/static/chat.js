// The chat page: POSTs to the gateway with fetch() and renders tokens as they arrive.
// EventSource cannot POST, so the SSE stream is read with a ReadableStream reader and parsed
// here. Signing in: on loopback `llm-twin serve` prints a one-time login link (/?login=CODE);
// the page trades the code for an HttpOnly session cookie (POST /login) that the browser
// then sends by itself. Otherwise a typed token stays in this tab only (sessionStorage).
// With the Messages API the page keeps the conversation and sends all of it each time.
// In front of a vLLM endpoint (/session says the backend) a plain generation is a completion
// (/v1/completions), since the gateway serves TGI's generate routes for TGI only.
"use strict";

const TOKEN_KEY = "llm-twin-gateway-token";
let backend = "tgi";

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
let signedIn = false;
const turns = []; // the Messages API conversation: {role, content}, turns that succeeded

function setStatus(state, message) {
  const status = $("status");
  status.dataset.state = state;
  status.textContent = message;
}

function showSignedIn(yes) {
  signedIn = yes;
  $("signed-in").hidden = !yes;
  $("token-form").hidden = yes;
}

// A turn of the conversation; the newest assistant text is #output.
function addTurn(role, text) {
  const turn = document.createElement("div");
  turn.className = `turn ${role}`;
  const label = document.createElement("div");
  label.className = "role";
  label.textContent = role === "user" ? "You" : "LLM Twin";
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  if (role === "assistant") {
    const previous = $("output");
    if (previous) previous.removeAttribute("id");
    body.id = "output";
  }
  turn.append(label, body);
  $("conversation").append(turn);
  return turn;
}

function clearConversation() {
  turns.length = 0;
  $("conversation").replaceChildren();
}

function requestFor(api, messages, prompt) {
  const maxNewTokens = parseInt($("max-new-tokens").value, 10);
  const temperature = parseFloat($("temperature").value);
  const seed = $("seed").value === "" ? null : parseInt($("seed").value, 10);
  if (api === "chat") {
    const body = { messages, stream: true };
    if (maxNewTokens > 0) body.max_tokens = maxNewTokens;
    if (!Number.isNaN(temperature)) body.temperature = temperature;
    if (seed !== null) body.seed = seed;
    return { url: "/v1/chat/completions", body };
  }
  if (backend === "vllm") {
    const body = { prompt, stream: true };
    if (maxNewTokens > 0) body.max_tokens = maxNewTokens;
    if (!Number.isNaN(temperature)) body.temperature = temperature; // vLLM: 0 is greedy
    if (seed !== null) body.seed = seed;
    return { url: "/v1/completions", body };
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
  if (event.error !== undefined && event.error !== null) {
    const message = typeof event.error === "string" ? event.error : event.error.message;
    throw new Error(message);
  }
  if (api === "chat" || backend === "vllm") {
    const choice = (event.choices || [])[0];
    const text = api === "chat" ? choice && choice.delta && choice.delta.content : choice && choice.text;
    return { text: text || "", done: false };
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

function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  $("token").value = "";
  showSignedIn(false);
  $("token").focus();
}

async function send(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  const prompt = $("prompt").value;
  if (!signedIn && !token) {
    setStatus("error", "Enter the gateway token first (or open the login link `llm-twin serve` printed).");
    $("token").focus();
    return;
  }
  if (!prompt.trim()) {
    setStatus("error", "Enter a message.");
    return;
  }
  const headers = { "Content-Type": "application/json" };
  if (!signedIn) {
    sessionStorage.setItem(TOKEN_KEY, token);
    headers.Authorization = `Bearer ${token}`;
  }
  const api = $("api").value;
  if (api !== "chat") clearConversation();
  const messages = [...turns, { role: "user", content: prompt }];
  const { url, body } = requestFor(api, messages, prompt);
  const userTurn = addTurn("user", prompt);
  const assistantTurn = addTurn("assistant", "");
  const output = $("output");
  controller = new AbortController();
  $("send").disabled = true;
  $("stop").disabled = false;
  setStatus("waiting", "Waiting for the first token…");
  let tokens = 0;
  let finished = false;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) {
      if (response.status === 401) forgetToken();
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
      finished = true;
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
  if (finished && api === "chat") {
    turns.push({ role: "user", content: prompt }, { role: "assistant", content: output.textContent });
    $("prompt").value = "";
  } else if (!finished) {
    // Shown, but not sent again: the next message goes after the last turn that succeeded.
    userTurn.classList.add("failed");
    assistantTurn.classList.add("failed");
  }
}

// The login link's code is traded once for the session cookie, and taken out of the address bar.
async function learnBackend() {
  try {
    const session = await (await fetch("/session")).json();
    if (session.backend === "vllm") {
      backend = "vllm";
      document.querySelector('#api option[value="generate"]').textContent = "completions (vLLM, one prompt)";
    }
  } catch (_) {
    // The TGI routes then; a vLLM gateway answers them with a 404 that names the backend.
  }
}

async function signIn() {
  const params = new URLSearchParams(location.search);
  const code = params.get("login");
  if (code === null) {
    try {
      const session = await (await fetch("/session")).json();
      showSignedIn(session.signed_in === true);
    } catch (_) {
      showSignedIn(false);
    }
    return;
  }
  window.history.replaceState(null, "", location.pathname);
  const response = await fetch("/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code }),
  });
  if (response.ok) {
    showSignedIn(true);
    setStatus("idle", "Signed in. Ready.");
  } else {
    showSignedIn(false);
    setStatus("error", `The login link did not work: ${await errorMessage(response)}`);
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
  $("new-chat").addEventListener("click", () => {
    clearConversation();
    setStatus("idle", "Ready.");
  });
  $("api").addEventListener("change", clearConversation);
  learnBackend();
  signIn();
});
