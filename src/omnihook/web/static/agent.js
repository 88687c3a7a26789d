// The agent console: availability, the live queue, my chats, the conversation, forward and close.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const $ = (id) => document.getElementById(id);
  const available = $("available");
  const queueList = $("queue");
  const roomsList = $("my-rooms");
  const messagesBox = $("messages");
  const composer = $("composer");
  const input = $("message-input");
  const forwardForm = $("forward-form");
  const closeForm = $("close-form");
  let selected = null; // the room shown on the right
  let myRooms = [];
  const unread = new Set(); // my rooms with visitor messages not yet looked at

  const me = await OH.start();

  // --- availability --------------------------------------------------------------------------
  function showAvailability(status) {
    available.checked = status === "available";
    $("availability-label").textContent = available.checked ? "Available" : "Not available";
  }
  showAvailability(me.statusLivechat);
  available.disabled = false;
  available.addEventListener("change", async () => {
    const status = available.checked ? "available" : "not-available";
    available.disabled = true;
    try {
      await OH.api("POST", "livechat/agent.status", { status });
      showAvailability(status);
      OH.showPageError("");
    } catch (err) {
      showAvailability(status === "available" ? "not-available" : "available");
      OH.showPageError(`Could not change your availability: ${err.message}`);
    } finally {
      available.disabled = false;
    }
  });

  // --- queue and my chats --------------------------------------------------------------------
  function visitorName(room) {
    return room.fname || room.label || (room.v && (room.v.name || room.v.username)) || room._id;
  }

  async function loadQueue() {
    let inquiries = [];
    try {
      inquiries = (await OH.api("GET", "livechat/inquiries.queued?count=100")).inquiries || [];
    } catch (err) {
      OH.showPageError(`Could not load the queue: ${err.message}`);
      return;
    }
    $("queue-count").textContent = inquiries.length;
    $("queue-empty").hidden = inquiries.length > 0;
    queueList.replaceChildren(
      ...inquiries.map((inquiry) =>
        OH.el(
          "li",
          { dataset: { inquiry: inquiry._id, rid: inquiry.rid } },
          OH.el("div", {}, OH.el("div", {}, inquiry.name || "Visitor"), OH.el("div", { class: "meta" }, `waiting since ${OH.clock(inquiry.ts)}`)),
          OH.el("button", { type: "button", class: "small primary", onclick: () => take(inquiry) }, "Take"),
        ),
      ),
    );
  }

  async function take(inquiry) {
    try {
      await OH.api("POST", "livechat/inquiries.take", { inquiryId: inquiry._id });
      OH.showPageError("");
      await Promise.all([loadQueue(), loadRooms()]);
      await select(inquiry.rid);
    } catch (err) {
      OH.showPageError(`Could not take this chat: ${err.message}`);
      await loadQueue();
    }
  }

  async function loadRooms() {
    try {
      const result = await OH.api("GET", `livechat/rooms${OH.query({ "agents[]": me._id, open: "true", count: 100 })}`);
      myRooms = result.rooms || [];
    } catch (err) {
      OH.showPageError(`Could not load your chats: ${err.message}`);
      return;
    }
    $("rooms-count").textContent = myRooms.length;
    $("rooms-empty").hidden = myRooms.length > 0;
    roomsList.replaceChildren(
      ...myRooms.map((room) =>
        OH.el(
          "li",
          { class: selected && selected._id === room._id ? "selected" : "", dataset: { rid: room._id } },
          OH.el(
            "button",
            { type: "button", class: "pick", onclick: () => select(room._id) },
            OH.el("div", {}, visitorName(room), unread.has(room._id) ? OH.el("span", { class: "badge unread" }, "new") : null),
            OH.el("div", { class: "meta" }, room.lm ? `last message ${OH.clock(room.lm)}` : `since ${OH.clock(room.ts)}`),
          ),
        ),
      ),
    );
  }

  // --- the conversation ----------------------------------------------------------------------
  async function roomInfo(rid) {
    try {
      return (await OH.api("GET", `rooms.info${OH.query({ roomId: rid })}`)).room;
    } catch (_) {
      return myRooms.find((room) => room._id === rid) || { _id: rid };
    }
  }

  async function select(rid) {
    unread.delete(rid);
    selected = await roomInfo(rid);
    $("no-chat").hidden = true;
    $("chat-view").hidden = false;
    for (const li of roomsList.children) {
      li.classList.toggle("selected", li.dataset.rid === rid);
      if (li.dataset.rid === rid) li.querySelector(".unread")?.remove();
    }
    showRoom();
    await loadMessages();
    input.focus();
  }

  function isOpen(room) {
    return room.open !== false && !room.closedAt;
  }

  function showRoom() {
    const open = isOpen(selected);
    const mine = selected.servedBy && selected.servedBy._id === me._id;
    $("chat-title").textContent = visitorName(selected);
    $("chat-room-id").textContent = selected._id;
    const status = $("chat-status");
    status.textContent = open ? (mine ? "open" : "served by someone else") : "closed";
    status.className = `badge ${open ? "served" : "dead"}`;
    for (const control of composer.elements) control.disabled = !open || !mine;
    $("chat-tools").hidden = !open || !mine;
  }

  function messageNode(m) {
    if (m.t) {
      const text = m.t === "livechat-close" ? `Chat closed${m.msg ? `: ${m.msg}` : ""}` : m.msg || m.t;
      return OH.el("div", { class: "msg system", dataset: { id: m._id } }, text);
    }
    const mine = m.u && m.u._id === me._id;
    const from = mine ? "You" : (m.u && (m.u.name || m.u.username)) || "";
    return OH.el(
      "div",
      { class: mine ? "msg mine" : "msg", dataset: { id: m._id } },
      OH.el("span", { class: "from" }, `${from} · ${OH.clock(m.ts)}`),
      m.msg,
    );
  }

  async function loadMessages() {
    if (!selected) return;
    const rid = selected._id;
    let messages;
    try {
      messages = (await OH.api("GET", `livechat/messages.history/${encodeURIComponent(rid)}?limit=500`)).messages || [];
    } catch (err) {
      OH.showPageError(`Could not load the messages: ${err.message}`);
      return;
    }
    if (!selected || selected._id !== rid) return;
    // Oldest first, whatever order the API returns them in.
    messages.sort((a, b) => new Date(a.ts) - new Date(b.ts));
    messagesBox.replaceChildren(...messages.map(messageNode));
    messagesBox.scrollTop = messagesBox.scrollHeight;
  }

  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const msg = input.value.trim();
    if (!msg || !selected) return;
    input.value = "";
    try {
      await OH.api("POST", "chat.sendMessage", { message: { rid: selected._id, msg } });
      OH.showPageError("");
      await loadMessages();
    } catch (err) {
      input.value = msg;
      OH.showPageError(`Could not send: ${err.message}`);
    }
  });

  // --- forward and close ---------------------------------------------------------------------
  async function loadForwardTargets() {
    const select = $("forward-target");
    // Listing agents may be reserved to managers: then only departments are offered.
    const [agents, departments] = await Promise.all([
      OH.api("GET", "livechat/users/agent?count=200").then((r) => r.users || [], () => null),
      OH.api("GET", "livechat/department?count=200").then((r) => r.departments || [], () => []),
    ]);
    const others = (agents || []).filter((a) => a._id !== me._id);
    select.replaceChildren(
      OH.el("option", { value: "" }, "Choose…"),
      agents === null
        ? null
        : OH.el(
            "optgroup",
            { label: "Agents" },
            others.map((a) => OH.el("option", { value: `agent:${a._id}` }, `${a.name || a.username} (${a.statusLivechat || "not-available"})`)),
          ),
      OH.el(
        "optgroup",
        { label: "Departments" },
        departments.filter((d) => d.enabled !== false).map((d) => OH.el("option", { value: `department:${d._id}` }, d.name)),
      ),
    );
  }

  function formError(form, text) {
    const box = form.querySelector(".field-error");
    box.textContent = text;
    box.hidden = !text;
  }

  forwardForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError(forwardForm, "");
    const target = forwardForm.elements.target.value;
    if (!target) {
      formError(forwardForm, "Choose an agent or a department.");
      return;
    }
    const [kind, id] = target.split(/:(.*)/s);
    const body = { roomId: selected._id };
    if (kind === "agent") body.userId = id;
    else body.departmentId = id;
    const comment = forwardForm.elements.comment.value.trim();
    if (comment) body.comment = comment;
    try {
      await OH.api("POST", "livechat/room.forward", body);
      forwardForm.reset();
      selected = await roomInfo(selected._id);
      showRoom();
      await loadRooms();
    } catch (err) {
      formError(forwardForm, err.message);
    }
  });

  closeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError(closeForm, "");
    const comment = closeForm.elements.comment.value.trim();
    const tags = closeForm.elements.tags.value
      .split(",")
      .map((tag) => tag.trim())
      .filter(Boolean);
    const body = { rid: selected._id };
    if (comment) body.comment = comment;
    if (tags.length) body.tags = tags;
    try {
      await OH.api("POST", "livechat/room.closeByUser", body);
      closeForm.reset();
      selected = await roomInfo(selected._id);
      selected.open = false;
      showRoom();
      await Promise.all([loadRooms(), loadMessages()]);
    } catch (err) {
      formError(closeForm, err.message);
    }
  });

  // --- live updates --------------------------------------------------------------------------
  let refreshLists = null;
  async function reloadAll() {
    await Promise.all([loadQueue(), loadRooms(), loadForwardTargets()]);
    if (selected) await select(selected._id);
  }
  OH.agentStream(async (note) => {
    if (note.kind === "hello" || note.kind === "resync") {
      await reloadAll();
      return;
    }
    if (note.kind.startsWith("room.")) {
      clearTimeout(refreshLists);
      refreshLists = setTimeout(() => Promise.all([loadQueue(), loadRooms()]), 100);
    }
    if (note.kind === "message.sent" && note.byVisitor && (!selected || note.roomId !== selected._id)) {
      if (myRooms.some((room) => room._id === note.roomId)) {
        unread.add(note.roomId);
        await loadRooms();
      }
    }
    if (selected && note.roomId === selected._id) {
      if (note.kind !== "message.sent") {
        selected = await roomInfo(selected._id);
        showRoom();
      }
      await loadMessages();
    }
  });
});
