// The demo front end: every call is a credentialed cross-origin fetch() to the API.
// window.demo is what the buttons use; the browser tests call it too.
"use strict";

const API = window.CREDCORS_DEMO.api;
let csrfToken = null;

// One credentialed call.  Resolves to {blocked: true, error} when fetch()
// rejects (the browser refused CORS), else {blocked: false, status, ok, body}.
async function call(path, { method = "GET", json, headers = {}, withToken = false } = {}) {
  const sent = { ...headers };
  if (json !== undefined) sent["Content-Type"] = "application/json";
  if (withToken) sent["X-CSRFToken"] = csrfToken || "";
  let response;
  try {
    response = await fetch(API + path, {
      method,
      credentials: "include",
      headers: sent,
      body: json === undefined ? undefined : JSON.stringify(json),
    });
  } catch (error) {
    return { blocked: true, error: String(error) };
  }
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { blocked: false, status: response.status, ok: response.ok, body };
}

// The CSRF token comes from a JSON body, not from document.cookie: a front
// end on another site cannot read the API's cookies at all.
async function fetchToken() {
  const result = await call("/api/csrf");
  if (!result.blocked && result.ok) csrfToken = result.body.csrfToken;
  return result;
}

async function login(username, password) {
  const token = await fetchToken();
  if (token.blocked || !token.ok) return token;
  const result = await call("/api/login", { method: "POST", json: { username, password }, withToken: true });
  // Django rotates the token at login; keep the new one.
  if (!result.blocked && result.ok) csrfToken = result.body.csrfToken;
  return result;
}

async function logout() {
  if (!csrfToken) await fetchToken();
  return call("/api/logout", { method: "POST", json: {}, withToken: true });
}

const me = () => call("/api/me");

// Opens /ws/whoami/ and resolves to {name} (what the consumer sent) or
// {refused: code} when the handshake failed: a browser tells a page no more
// than that (close code 1006), so the page cannot say why.
const SOCKET_URL = API.replace(/^http/, "ws") + "/ws/whoami/";
function whoami() {
  return new Promise((resolve) => {
    const socket = new WebSocket(SOCKET_URL);
    socket.onmessage = (event) => {
      resolve({ name: event.data });
      socket.close();
    };
    socket.onclose = (event) => resolve({ refused: event.code });
  });
}
const write = (text, { withToken = true } = {}) => call("/api/notes", { method: "PUT", json: { text }, withToken });
const cookies = () => document.cookie;

window.demo = { api: API, call, fetchToken, login, logout, me, write, cookies, whoami, token: () => csrfToken };

// -- Showing results ---------------------------------------------------------

const STATUS_TEXT = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed" };

// A secret on screen is a secret in every screenshot: show the token's ends only.
function shorten(token) {
  return token.length > 12 ? `${token.slice(0, 6)}…${token.slice(-4)} (${token.length} characters)` : token;
}

function forDisplay(body) {
  return JSON.stringify(body, (key, value) => (key === "csrfToken" && typeof value === "string" ? shorten(value) : value));
}

// Why the API said no, in words.  The example project answers refusals in
// JSON ({"error", "reason"}: its CSRF_FAILURE_VIEW passes on Django's reason,
// such as "CSRF token missing."); an HTML error page is reduced to its text.
function reasonOf(body) {
  if (body && typeof body === "object") return [body.error, body.reason].filter(Boolean).join(": ");
  const page = new DOMParser().parseFromString(String(body), "text/html");
  const parts = ["h1", "#summary p, p", "#info pre, pre"].map((selector) => page.querySelector(selector)?.textContent);
  const words = parts.filter(Boolean).join(" ").replace(/\s+/g, " ").trim();
  return words.length > 200 ? `${words.slice(0, 200)}…` : words || "(no reason given)";
}

// fetch() rejects with a bare "TypeError: Failed to fetch" and the page may
// learn nothing more (the Fetch standard hides the reason from scripts), so
// say what it almost always is and where the reason can be read.
function blockedText(error) {
  return [
    "Blocked by CORS: the browser did not let this page read the API's answer.",
    `fetch() only says: ${error}. (It says the same when the API is down.)`,
    "Where to look:",
    "  - the browser's network panel: the API's response, or its OPTIONS preflight;",
    "    while the API runs with DEBUG, its x-credcors-reason header says why;",
    `  - on the server: python manage.py credcors explain ${location.origin}`,
  ].join("\n");
}

function show(id, result) {
  const out = document.getElementById(id);
  if (typeof result === "string") {
    out.dataset.state = "ok";
    out.textContent = result;
  } else if (result.blocked) {
    out.dataset.state = "blocked";
    out.textContent = blockedText(result.error);
  } else if (result.ok) {
    out.dataset.state = "ok";
    out.textContent = `${result.status} ${forDisplay(result.body)}`;
  } else {
    out.dataset.state = "refused";
    const status = STATUS_TEXT[result.status] || "";
    out.textContent = `${result.status} ${status}: ${reasonOf(result.body)}\n(the API refused; CORS let the page read its answer)`;
  }
}

function busy(id) {
  const out = document.getElementById(id);
  out.dataset.state = "busy";
  out.textContent = "…";
}

document.getElementById("page-origin").textContent = location.origin;
document.getElementById("api-origin").textContent = API;
document.getElementById("admin-link").href = `${API}/admin/credcors/allowedorigin/`;
document.getElementById("refused-link").href = `${API}/admin/credcors/refusedorigin/`;

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  busy("login-result");
  const username = document.getElementById("username").value;
  const password = document.getElementById("password").value;
  show("login-result", await login(username, password));
});
document.getElementById("logout-button").addEventListener("click", async () => {
  busy("login-result");
  show("login-result", await logout());
});
document.getElementById("read-button").addEventListener("click", async () => {
  busy("read-result");
  show("read-result", await me());
});
document.getElementById("write-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  busy("write-result");
  show("write-result", await write(document.getElementById("note").value));
});
document.getElementById("write-no-token-button").addEventListener("click", async () => {
  busy("write-result");
  show("write-result", await write(document.getElementById("note").value, { withToken: false }));
});
document.getElementById("cookies-button").addEventListener("click", () => {
  // Shortened like the token: the csrftoken cookie holds the same secret.
  const visible = cookies().replace(/(csrftoken=)([^;]+)/, (_, name, value) => name + shorten(value));
  show("cookies-result", `document.cookie = ${JSON.stringify(visible)}`);
});
document.getElementById("socket-button").addEventListener("click", async () => {
  busy("socket-result");
  const result = await whoami();
  const out = document.getElementById("socket-result");
  if ("name" in result) {
    out.dataset.state = "ok";
    out.textContent = result.name
      ? `connected: the server says you are ${JSON.stringify(result.name)}`
      : "connected, but nobody is logged in (log in above and try again)";
  } else {
    out.dataset.state = "blocked";
    out.textContent = [
      `Refused: the handshake failed (close code ${result.refused}); the consumer never ran.`,
      "A browser tells the page nothing more. Where to look:",
      `  - on the server: python manage.py credcors explain ${location.origin} --websocket --path /ws/whoami/`,
      "  - the admin's Test an origin page, with Request set to A WebSocket handshake.",
    ].join("\n");
  }
});
