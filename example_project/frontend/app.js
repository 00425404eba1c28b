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
    body = text.slice(0, 300);
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
const write = (text, { withToken = true } = {}) => call("/api/notes", { method: "PUT", json: { text }, withToken });
const cookies = () => document.cookie;

window.demo = { api: API, call, fetchToken, login, logout, me, write, cookies, token: () => csrfToken };

function show(id, result) {
  const out = document.getElementById(id);
  if (typeof result === "string") {
    out.dataset.state = "ok";
    out.textContent = result;
  } else if (result.blocked) {
    out.dataset.state = "blocked";
    out.textContent = `blocked by the browser: ${result.error}`;
  } else {
    out.dataset.state = result.ok ? "ok" : "refused";
    out.textContent = `${result.status} ${JSON.stringify(result.body)}`;
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
  const visible = cookies();
  show("cookies-result", `document.cookie = ${JSON.stringify(visible)}`);
});
