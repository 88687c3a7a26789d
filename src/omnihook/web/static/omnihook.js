// Shared helpers for the pages: REST calls with the stored login, DOM building, live streams.
"use strict";

const OH = (() => {
  const KEY_USER = "omnihook.userId";
  const KEY_TOKEN = "omnihook.authToken";

  class ApiError extends Error {
    constructor(status, body) {
      const text = (body && (body.details || body.error || body.message)) || `HTTP ${status}`;
      super(text);
      this.status = status;
      this.body = body || {};
    }
  }

  function credentials() {
    const userId = localStorage.getItem(KEY_USER);
    const authToken = localStorage.getItem(KEY_TOKEN);
    return userId && authToken ? { userId, authToken } : null;
  }

  function saveCredentials(userId, authToken) {
    localStorage.setItem(KEY_USER, userId);
    localStorage.setItem(KEY_TOKEN, authToken);
  }

  function forgetCredentials() {
    localStorage.removeItem(KEY_USER);
    localStorage.removeItem(KEY_TOKEN);
  }

  // Calls /api/v1/<path>; throws ApiError with the Rocket.Chat envelope on any non-2xx answer.
  async function api(method, path, body, { auth = true } = {}) {
    const headers = { Accept: "application/json" };
    const creds = credentials();
    if (auth && creds) {
      headers["X-User-Id"] = creds.userId;
      headers["X-Auth-Token"] = creds.authToken;
    }
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`/api/v1/${path}`, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      if (response.status === 401 && auth) {
        toLogin();
      }
      throw new ApiError(response.status, data);
    }
    return data;
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null || value === "") continue;
      if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
      else search.append(key, String(value));
    }
    const text = search.toString();
    return text ? `?${text}` : "";
  }

  function toLogin() {
    forgetCredentials();
    const next = location.pathname + location.search;
    location.assign(`/admin/login?next=${encodeURIComponent(next)}`);
  }

  function isManager(me) {
    return me.roles.includes("admin") || me.roles.includes("livechat-manager");
  }

  function isAgent(me) {
    return isManager(me) || me.roles.includes("livechat-agent");
  }

  // Resolves to the logged-in user allowed on this page, or sends the browser to the login page.
  async function start() {
    const role = document.body.dataset.role;
    if (role === "anyone") {
      if (credentials()) showUser().catch(() => {});
      return null;
    }
    if (!credentials()) {
      toLogin();
      return new Promise(() => {});
    }
    const me = await showUser();
    const allowed = role === "manager" ? isManager(me) : isAgent(me);
    if (!allowed) {
      showPageError(
        `Your account (${me.username}) cannot use this page: it needs the ` +
          (role === "manager" ? "admin or livechat-manager role." : "livechat-agent role."),
      );
      return new Promise(() => {});
    }
    return me;
  }

  async function showUser() {
    const me = await api("GET", "me");
    // Agents see the console, not the administration links they cannot use.
    if (!isManager(me)) for (const link of document.querySelectorAll("[data-managers]")) link.hidden = true;
    const who = document.getElementById("whoami");
    if (who) who.textContent = `${me.name || me.username} (${me.username})`;
    const logout = document.getElementById("logout");
    if (logout) {
      logout.hidden = false;
      logout.onclick = async () => {
        try {
          await api("POST", "logout");
        } catch (_) {
          // Logged out either way.
        }
        forgetCredentials();
        location.assign("/admin/login");
      };
    }
    return me;
  }

  function showPageError(text) {
    const box = document.getElementById("page-error");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  // el("a", {href: "/x", class: "y"}, "text", child): builds elements; text is never parsed as HTML.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function time(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
  }

  function clock(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString();
  }

  // A Server-Sent Events stream; `onNote` gets each note, including {kind: "hello"} on every
  // (re)connection, the moment to reload what the page shows.
  function stream(url, onNote) {
    const source = new EventSource(url);
    source.onmessage = (event) => {
      let note;
      try {
        note = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      onNote(note);
    };
    return source;
  }

  function agentStream(onNote) {
    const creds = credentials();
    return stream(`/api/v1/omnihook/stream/agent${query(creds || {})}`, onNote);
  }

  return {
    ApiError,
    api,
    query,
    credentials,
    saveCredentials,
    forgetCredentials,
    start,
    showPageError,
    el,
    time,
    clock,
    stream,
    agentStream,
    isManager,
    isAgent,
  };
})();
