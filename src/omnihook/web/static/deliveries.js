// Deliveries: the delivery log with filters; rows link to the detail page and follow the live stream.
"use strict";

const PAGE_SIZE = 50;
// Live notes come in bursts (one per recorded batch): the page reloads at most this often.
const RELOAD_AFTER_MS = 300;

document.addEventListener("DOMContentLoaded", async () => {
  const form = document.getElementById("filters");
  const table = document.getElementById("deliveries");
  const body = table.querySelector("tbody");
  const info = document.getElementById("page-info");
  const prev = document.getElementById("prev");
  const next = document.getElementById("next");
  const replay = document.getElementById("replay-matching");
  const params = new URLSearchParams(location.search);
  const FILTERS = ["status", "type", "endpointId", "roomId", "since", "q"];
  // Pages by cursor (the API's nextCursor): as fast on the millionth row as on the first, and a page
  // stays the same rows while new deliveries arrive. `newer` holds the pages before this one.
  let before = Number(params.get("before")) || null;
  let position = before === null ? 0 : null; // unknown when opened on a later page
  let newer = [];
  // The ids the rows shown depend on (theirs, and the deliveries they are held behind).
  let shown = new Set();

  await OH.start();
  // The endpoint filter lists every endpoint, the Rocket.Chat integration included.
  try {
    const { endpoints } = await OH.api("GET", "omnihook/endpoints");
    const select = form.elements.endpointId;
    for (const e of endpoints || []) select.append(OH.el("option", { value: e._id }, e.name));
  } catch (err) {
    OH.showPageError(`Could not load the endpoints: ${err.message}`);
  }
  for (const name of FILTERS) form.elements[name].value = params.get(name) || "";

  // What the form asks for, as the page's own address keeps it (since: the local time as typed).
  function filters() {
    return {
      status: form.elements.status.value,
      type: form.elements.type.value,
      endpointId: form.elements.endpointId.value,
      roomId: form.elements.roomId.value.trim(),
      since: form.elements.since.value,
      q: form.elements.q.value.trim(),
    };
  }

  // The same for the API, which reads times with their zone.
  function apiFilters(f) {
    return { ...f, since: f.since ? new Date(f.since).toISOString() : "" };
  }

  // Pending, and waiting for an older pending delivery of the same endpoint and room (ordered delivery).
  function heldBehind(d) {
    return OH.el(
      "span",
      { class: "held", title: "Deliveries to this endpoint for this room go out in order: this one waits until that one is delivered or dead." },
      "held behind ",
      OH.el("a", { href: `/admin/deliveries/${encodeURIComponent(d.heldBehind)}` }, OH.el("code", {}, d.heldBehind)),
    );
  }

  function nextRetry(d) {
    if (d.status !== "pending") return "—";
    return d.heldBehind ? heldBehind(d) : OH.time(d.nextAttemptAt);
  }

  function row(d) {
    const link = `/admin/deliveries/${encodeURIComponent(d._id)}`;
    const cells = [
      OH.el("td", {}, OH.el("a", { href: link, title: d._id }, OH.time(d.createdAt))),
      OH.el("td", { title: d.endpointUrl || "" }, d.endpointName || d.endpointId),
      OH.el("td", {}, d.type),
      OH.el(
        "td",
        {},
        d.roomId
          ? OH.el("a", { href: `/admin/deliveries${OH.query({ roomId: d.roomId })}`, title: "Only this room" }, OH.el("code", {}, d.roomId))
          : "—",
      ),
      OH.el("td", {}, OH.el("span", { class: `badge ${d.status}` }, d.status)),
      OH.el("td", { class: "num" }, d.attempts),
      OH.el("td", { class: "num" }, d.lastStatusCode ?? (d.lastError ? "error" : "—")),
      OH.el("td", {}, nextRetry(d)),
      OH.el(
        "td",
        {},
        OH.el("a", { href: link }, "Details"),
        d.status === "dead" ? [" ", OH.el("button", { type: "button", class: "small", onclick: () => redeliver(d) }, "Send again")] : null,
      ),
    ];
    return OH.el("tr", { dataset: { id: d._id, status: d.status, type: d.type } }, cells);
  }

  async function redeliver(d) {
    try {
      await OH.api("POST", `omnihook/deliveries/${encodeURIComponent(d._id)}/redeliver`);
      OH.showPageError("");
    } catch (err) {
      OH.showPageError(`Could not send it again: ${err.message}`);
    }
    await load();
  }

  async function load() {
    table.setAttribute("aria-busy", "true");
    const f = filters();
    history.replaceState(null, "", `${location.pathname}${OH.query({ ...f, before: before || "" })}`);
    // The rows shown, whatever their status: the replay page's own default is dead ones only.
    replay.href = `/admin/replays${OH.query({ ...apiFilters(f), status: f.status || "any" })}`;
    try {
      const result = await OH.api("GET", `omnihook/deliveries${OH.query({ ...apiFilters(f), before: before || "", count: PAGE_SIZE })}`);
      const items = result.deliveries || [];
      body.replaceChildren(
        ...(items.length
          ? items.map(row)
          : [OH.el("tr", {}, OH.el("td", { colspan: 9, class: "empty" }, "No deliveries match."))]),
      );
      shown = new Set(items.flatMap((d) => [d._id, d.heldBehind].filter(Boolean)));
      const total = result.total ?? items.length;
      const range = position === null ? `${items.length}` : `${position + 1}–${position + items.length}`;
      info.textContent = items.length ? `${range} of ${total}${result.totalCapped ? "+" : ""}` : "";
      prev.disabled = before === null;
      next.disabled = result.nextCursor === null || result.nextCursor === undefined;
      next.dataset.cursor = result.nextCursor ?? "";
      next.dataset.count = items.length;
      OH.showPageError("");
    } catch (err) {
      OH.showPageError(`Could not load the deliveries: ${err.message}`);
    } finally {
      table.setAttribute("aria-busy", "false");
    }
  }

  function firstPage() {
    before = null;
    position = 0;
    newer = [];
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    firstPage();
    load();
  });
  for (const select of form.querySelectorAll("select")) select.addEventListener("change", () => form.requestSubmit());
  document.getElementById("refresh").addEventListener("click", load);
  prev.addEventListener("click", () => {
    const page = newer.pop();
    if (page) ({ before, position } = page);
    else firstPage(); // opened on a later page: back to the newest
    load();
  });
  next.addEventListener("click", () => {
    newer.push({ before, position });
    if (position !== null) position += Number(next.dataset.count);
    before = Number(next.dataset.cursor);
    load();
  });

  await load();
  let reload = null;
  function reloadSoon() {
    if (reload === null) {
      reload = setTimeout(() => {
        reload = null;
        load();
      }, RELOAD_AFTER_MS);
    }
  }
  OH.agentStream((note) => {
    if (note.kind === "hello") {
      // Connected (again): what changed since the last load, or while away, is reloaded.
      reloadSoon();
    } else if (note.kind === "deliveries.changed") {
      // An attempt recorded or a status changed: reload when it concerns a row shown.
      if (!note.deliveryIds || note.deliveryIds.some((id) => shown.has(id))) reloadSoon();
    } else if (note.kind === "resync" || before === null) {
      // New chat events mean new deliveries at the top of the newest page.
      reloadSoon();
    }
  });
});
