// Deliveries: the delivery log with filters; rows link to the detail page.
"use strict";

const PAGE_SIZE = 50;

document.addEventListener("DOMContentLoaded", async () => {
  const form = document.getElementById("filters");
  const table = document.getElementById("deliveries");
  const body = table.querySelector("tbody");
  const info = document.getElementById("page-info");
  const prev = document.getElementById("prev");
  const next = document.getElementById("next");
  const params = new URLSearchParams(location.search);
  let offset = Number(params.get("offset") || 0);
  const FILTERS = ["status", "type", "endpointId", "roomId", "since", "q"];

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
      OH.el("td", {}, d.status === "pending" ? OH.time(d.nextAttemptAt) : "—"),
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
    history.replaceState(null, "", `${location.pathname}${OH.query({ ...f, offset: offset || "" })}`);
    try {
      const result = await OH.api("GET", `omnihook/deliveries${OH.query({ ...apiFilters(f), offset, count: PAGE_SIZE })}`);
      const items = result.deliveries || [];
      body.replaceChildren(
        ...(items.length
          ? items.map(row)
          : [OH.el("tr", {}, OH.el("td", { colspan: 9, class: "empty" }, "No deliveries match."))]),
      );
      const total = result.total ?? items.length;
      info.textContent = items.length ? `${offset + 1}–${offset + items.length} of ${total}` : "";
      prev.disabled = offset === 0;
      next.disabled = offset + items.length >= total;
      OH.showPageError("");
    } catch (err) {
      OH.showPageError(`Could not load the deliveries: ${err.message}`);
    } finally {
      table.setAttribute("aria-busy", "false");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    load();
  });
  for (const select of form.querySelectorAll("select")) select.addEventListener("change", () => form.requestSubmit());
  document.getElementById("refresh").addEventListener("click", load);
  prev.addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    load();
  });
  next.addEventListener("click", () => {
    offset += PAGE_SIZE;
    load();
  });

  await load();
  // New chat events mean new deliveries: reload when the first page is shown (debounced).
  let pending = null;
  OH.agentStream((note) => {
    if (note.kind === "hello" || offset !== 0) return;
    clearTimeout(pending);
    pending = setTimeout(load, 300);
  });
});
