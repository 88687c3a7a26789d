// The visitor widget: register, chat live with an agent, end the chat; the offline form otherwise.
// It uses the Livechat REST API as Rocket.Chat's widget does, keyed by a token kept in localStorage.
"use strict";

const VISITOR_KEY = "omnihook.visitor";

document.addEventListener("DOMContentLoaded", async () => {
  const $ = (id) => document.getElementById(id);
  const sections = ["loading", "register", "conversation", "closed", "offline", "offline-sent"];
  const messagesBox = $("messages");
  const input = $("message-input");
  let visitor = JSON.parse(localStorage.getItem(VISITOR_KEY) || "null"); // {token, name, email, rid?}
  let room = null;
  let source = null;
  let config = {};

  function show(name) {
    for (const id of sections) $(id).hidden = id !== name;
  }

  function remember() {
    localStorage.setItem(VISITOR_KEY, JSON.stringify(visitor));
  }

  function error(text) {
    $("widget-error").textContent = text;
    $("widget-error").hidden = !text;
  }

  function newToken() {
    const bytes = new Uint8Array(24);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function header(online) {
    $("widget-header").classList.toggle("offline", !online);
    $("widget-title").textContent = online ? "Chat with us" : "Leave a message";
    $("widget-subtitle").textContent = online ? "We are online" : "We are offline";
  }

  let agentName = null; // the serving agent's name, as agent.info tells a visitor

  function showRoomState() {
    const agent = room && room.servedBy;
    const who = agent && (agentName || agent.username);
    $("room-state").textContent = !room ? "" : agent ? `Chatting with ${who}` : "Waiting for an agent…";
    const settings = config.settings || {};
    $("end-chat").hidden = !room || settings.visitorsCanCloseChat === false;
  }

  async function loadAgentName() {
    agentName = null;
    if (!room || !room.servedBy) return;
    try {
      const path = `livechat/agent.info/${encodeURIComponent(room._id)}/${encodeURIComponent(visitor.token)}`;
      const agent = (await OH.api("GET", path, undefined, { auth: false })).agent;
      agentName = agent.name || agent.username;
    } catch (_) {
      agentName = null;
    }
  }

  // --- start-up ------------------------------------------------------------------------------
  async function boot() {
    try {
      config = (await OH.api("GET", `livechat/config${OH.query({ token: visitor && visitor.token })}`, undefined, { auth: false })).config || {};
    } catch (err) {
      show("loading");
      error(`The chat is not reachable: ${err.message}`);
      return;
    }
    if (config.enabled === false) {
      header(false);
      $("widget-subtitle").textContent = "Chat is switched off";
      show("loading");
      $("loading").replaceChildren(OH.el("p", {}, "Sorry, the chat is not available."));
      return;
    }
    const departments = (config.departments || []).filter((d) => d.showOnRegistration !== false);
    if (departments.length) {
      $("visitor-department").replaceChildren(
        OH.el("option", { value: "" }, "Any"),
        ...departments.map((d) => OH.el("option", { value: d._id }, d.name)),
      );
      $("department-field").hidden = false;
    }
    if (visitor && visitor.rid) {
      const resumed = await resume();
      if (resumed) return;
    }
    header(config.online !== false);
    if (config.online === false) {
      show("offline");
      const messages = config.messages || {};
      if (messages.offlineMessage) $("offline-intro").textContent = messages.offlineMessage;
      if (messages.offlineSuccessMessage) $("offline-sent-text").textContent = messages.offlineSuccessMessage;
      // Without the offline form, the widget only says that nobody is there.
      $("offline-fields").hidden = (config.settings || {}).displayOfflineForm === false;
      if (visitor) {
        $("offline-name").value = visitor.name || "";
        $("offline-email").value = visitor.email || "";
      }
      return;
    }
    if (visitor && visitor.name) {
      show("conversation");
      showRoomState();
      return;
    }
    show("register");
  }

  async function resume() {
    try {
      room = (await OH.api("GET", `livechat/room${OH.query({ token: visitor.token, rid: visitor.rid })}`, undefined, { auth: false })).room;
    } catch (_) {
      delete visitor.rid;
      remember();
      return false;
    }
    if (room.open === false || room.closedAt) {
      delete visitor.rid;
      remember();
      room = null;
      return false;
    }
    header(true);
    show("conversation");
    await loadAgentName();
    showRoomState();
    listen();
    await loadMessages();
    return true;
  }

  // --- registration --------------------------------------------------------------------------
  $("register").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const box = form.querySelector(".field-error");
    box.hidden = true;
    const name = form.elements.name.value.trim();
    const email = form.elements.email.value.trim();
    if (!name || !email) {
      box.textContent = "Please give your name and your email.";
      box.hidden = false;
      return;
    }
    const token = (visitor && visitor.token) || newToken();
    const payload = { token, name, email };
    const department = form.elements.department.value;
    if (department) payload.department = department;
    try {
      await OH.api("POST", "livechat/visitor", { visitor: payload }, { auth: false });
    } catch (err) {
      box.textContent = err.message;
      box.hidden = false;
      return;
    }
    visitor = { token, name, email };
    remember();
    show("conversation");
    showRoomState();
    input.focus();
  });

  // --- the conversation ----------------------------------------------------------------------
  async function openRoom() {
    const result = await OH.api("GET", `livechat/room${OH.query({ token: visitor.token })}`, undefined, { auth: false });
    room = result.room;
    visitor.rid = room._id;
    remember();
    showRoomState();
    listen();
  }

  function listen() {
    if (source) source.close();
    source = OH.stream(`/api/v1/omnihook/stream/visitor${OH.query({ token: visitor.token, rid: visitor.rid })}`, onNote);
  }

  async function onNote(note) {
    if (note.kind === "room.closed") {
      await loadMessages();
      ended();
      return;
    }
    if (note.kind === "hello" || note.kind === "resync" || note.kind.startsWith("room.")) await refreshRoom();
    await loadMessages();
  }

  async function refreshRoom() {
    try {
      room = (await OH.api("GET", `livechat/room${OH.query({ token: visitor.token, rid: visitor.rid })}`, undefined, { auth: false })).room;
      await loadAgentName();
      showRoomState();
    } catch (_) {
      // A closed room is refused here; its room.closed note says so.
    }
  }

  function messageNode(m) {
    if (m.t) {
      const text = m.t === "livechat-close" ? `Chat closed${m.msg ? `: ${m.msg}` : ""}` : m.msg || "";
      return OH.el("div", { class: "msg system", dataset: { id: m._id } }, text);
    }
    const mine = Boolean(m.token) || (m.u && visitor.username && m.u.username === visitor.username);
    const from = mine ? "You" : (m.u && (m.u.name || m.u.username)) || "Agent";
    return OH.el(
      "div",
      { class: mine ? "msg mine" : "msg", dataset: { id: m._id } },
      OH.el("span", { class: "from" }, `${from} · ${OH.clock(m.ts)}`),
      m.msg,
    );
  }

  async function loadMessages() {
    if (!visitor || !visitor.rid) return;
    let messages;
    try {
      const path = `livechat/messages.history/${encodeURIComponent(visitor.rid)}${OH.query({ token: visitor.token, limit: 500 })}`;
      messages = (await OH.api("GET", path, undefined, { auth: false })).messages || [];
    } catch (err) {
      error(`Could not load the messages: ${err.message}`);
      return;
    }
    messages.sort((a, b) => new Date(a.ts) - new Date(b.ts));
    messagesBox.replaceChildren(...messages.map(messageNode));
    messagesBox.scrollTop = messagesBox.scrollHeight;
  }

  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const msg = input.value.trim();
    if (!msg) return;
    input.value = "";
    try {
      if (!visitor.rid) await openRoom();
      await OH.api("POST", "livechat/message", { token: visitor.token, rid: visitor.rid, msg }, { auth: false });
      error("");
      await loadMessages();
    } catch (err) {
      input.value = msg;
      error(`Your message was not sent: ${err.message}`);
    }
  });

  function ended() {
    if (source) source.close();
    source = null;
    room = null;
    if (visitor) {
      delete visitor.rid;
      remember();
    }
    show("closed");
    // Keep the transcript in view above the closing note.
    $("closed").prepend(messagesBox);
  }

  $("end-chat").addEventListener("click", async () => {
    if (!visitor.rid) return;
    try {
      await OH.api("POST", "livechat/room.close", { token: visitor.token, rid: visitor.rid }, { auth: false });
      await loadMessages();
      ended();
    } catch (err) {
      error(`Could not end the chat: ${err.message}`);
    }
  });

  $("new-chat").addEventListener("click", () => {
    $("conversation").prepend(messagesBox);
    messagesBox.replaceChildren();
    boot();
  });

  // --- offline form --------------------------------------------------------------------------
  $("offline").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const box = form.querySelector(".field-error");
    box.hidden = true;
    const body = {
      name: form.elements.name.value.trim(),
      email: form.elements.email.value.trim(),
      message: form.elements.message.value.trim(),
    };
    if (!body.name || !body.email || !body.message) {
      box.textContent = "Please fill in your name, your email and your message.";
      box.hidden = false;
      return;
    }
    try {
      const result = await OH.api("POST", "livechat/offline.message", body, { auth: false });
      if (result && result.message && !(config.messages || {}).offlineSuccessMessage) {
        $("offline-sent-text").textContent = result.message;
      }
      show("offline-sent");
    } catch (err) {
      box.textContent = err.message;
      box.hidden = false;
    }
  });

  await OH.start();
  await boot();
});
