// Replays: start a bulk replay or a backfill (the count of what matches shown first), follow the jobs.
"use strict";

const POLL_MS = 2000;
const FILTERS = ["status", "type", "endpointId", "roomId", "since", "until", "q"];

document.addEventListener("DOMContentLoaded", async () => {
  const form = document.getElementById("replay-form");
  const count = document.getElementById("rp-count");
  const error = document.getElementById("rp-error");
  const start = document.getElementById("rp-start");
  const body = document.querySelector("#jobs tbody");
  const table = document.getElementById("jobs");
  const names = {};

  await OH.start();
  try {
    const { endpoints } = await OH.api("GET", "omnihook/endpoints");
    for (const e of endpoints || []) {
      names[e._id] = e.name;
      form.elements.endpointId.append(OH.el("option", { value: e._id }, e.name));
    }
  } catch (err) {
    OH.showPageError(`Could not load the endpoints: ${err.message}`);
  }

  // A time from the address (the API's ISO form, or a datetime-local one) as the input shows it.
  function localInput(value) {
    if (!value) return "";
    if (!/[zZ]|[+-]\d\d:?\d\d$/.test(value)) return value.slice(0, 16);
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return "";
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  // The filters may come from the address: /admin/replays?status=dead&endpointId=...
  const params = new URLSearchParams(location.search);
  for (const name of FILTERS) {
    if (!params.has(name)) continue;
    const value = params.get(name);
    if (name === "status") {
      if (["dead", "delivered", "any"].includes(value)) form.elements.status.value = value;
      else {
        const note = document.getElementById("rp-note");
        note.textContent = `Status ${value}: only dead, delivered or any can be sent again (a pending delivery is being sent already).`;
        note.hidden = false;
      }
    }
    else if (name === "since" || name === "until") form.elements[name].value = localInput(value);
    else form.elements[name].value = value;
  }
  if (params.get("kind") === "backfill") form.elements.kind.value = "backfill";
  if (params.get("ratePerSecond")) form.elements.ratePerSecond.value = params.get("ratePerSecond");

  function backfill() {
    return form.elements.kind.value === "backfill";
  }

  function showKind() {
    for (const node of form.querySelectorAll("[data-replay-only]")) node.hidden = backfill();
    document.getElementById("rp-endpoint-label").textContent = backfill() ? "Endpoint to backfill" : "Endpoint";
    form.elements.endpointId.options[0].textContent = backfill() ? "Choose one" : "All";
  }

  // What the form asks for, as the API takes it (times with their zone).
  function request(dryRun) {
    const filter = {};
    for (const name of ["type", "roomId", "q"]) {
      const value = form.elements[name].value.trim();
      if (value) filter[name] = value;
    }
    for (const name of ["since", "until"]) {
      const value = form.elements[name].value;
      if (value) filter[name] = new Date(value).toISOString();
    }
    const asked = { filter, ratePerSecond: Number(form.elements.ratePerSecond.value), dryRun };
    if (backfill()) {
      asked.backfillTo = form.elements.endpointId.value;
    } else {
      filter.status = form.elements.status.value;
      if (form.elements.endpointId.value) filter.endpointId = form.elements.endpointId.value;
    }
    return asked;
  }

  function showError(text) {
    error.textContent = text;
    error.hidden = !text;
  }

  let counting = 0;
  async function dryRun() {
    const mine = ++counting;
    start.disabled = true;
    if (backfill() && !form.elements.endpointId.value) {
      count.textContent = "Choose the endpoint to backfill.";
      showError("");
      return;
    }
    count.textContent = "Counting…";
    try {
      const { matching } = await OH.api("POST", "omnihook/replays", request(true));
      if (mine !== counting) return;
      const what = backfill() ? (matching === 1 ? "event" : "events") : matching === 1 ? "delivery" : "deliveries";
      count.textContent = `${matching} ${what} match${matching === 1 ? "es" : ""}.`;
      count.dataset.matching = String(matching);
      start.disabled = matching === 0;
      showError("");
    } catch (err) {
      if (mine !== counting) return;
      count.textContent = "";
      showError(err.message);
    }
  }

  let pendingCount = null;
  function recount() {
    clearTimeout(pendingCount);
    pendingCount = setTimeout(dryRun, 300);
  }
  form.addEventListener("input", recount);
  form.elements.kind.addEventListener("change", () => {
    showKind();
    recount();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    start.disabled = true;
    try {
      await OH.api("POST", "omnihook/replays", request(false));
      showError("");
      await loadJobs();
    } catch (err) {
      showError(err.message);
    }
    await dryRun();
  });

  function filterText(job) {
    const parts = Object.entries(job.filter).map(([key, value]) =>
      key === "endpointId" ? `endpoint ${names[value] || value}` : `${key} ${key === "since" || key === "until" ? OH.time(value) : value}`,
    );
    if (job.kind === "backfill") parts.unshift(`to ${names[job.backfillTo] || job.backfillTo}`);
    return parts.join(", ") || "—";
  }

  // The job's deliveries on the Deliveries page (whatever their status now; a backfill's: its endpoint's).
  function deliveriesLink(job) {
    const f = job.filter;
    const shown = { type: f.type, roomId: f.roomId, q: f.q, since: localInput(f.since) };
    shown.endpointId = job.kind === "backfill" ? job.backfillTo : f.endpointId;
    return `/admin/deliveries${OH.query(shown)}`;
  }

  async function cancel(job) {
    try {
      await OH.api("POST", `omnihook/replays/${encodeURIComponent(job._id)}/cancel`);
      OH.showPageError("");
    } catch (err) {
      OH.showPageError(`Could not cancel the job: ${err.message}`);
    }
    await loadJobs();
  }

  function row(job) {
    const done = job.replayed + job.skipped;
    const progress = OH.el(
      "td",
      { class: "progress" },
      OH.el("progress", { max: Math.max(1, job.total), value: done }),
      " ",
      OH.el("span", { class: "progress-text" }, `${job.replayed} of ${job.total} sent again`),
      job.inFlight ? OH.el("span", { class: "hint" }, ` · ${job.inFlight} in flight`) : null,
    );
    return OH.el(
      "tr",
      { dataset: { id: job._id, status: job.status } },
      OH.el("td", { title: job._id }, OH.time(job.createdAt)),
      OH.el("td", {}, job.kind === "backfill" ? "Backfill" : "Replay"),
      OH.el(
        "td",
        {},
        OH.el("a", { href: deliveriesLink(job), title: "These deliveries on the Deliveries page" }, filterText(job)),
        OH.el("div", { class: "hint" }, `${job.ratePerSecond}/s per endpoint`),
      ),
      OH.el("td", {}, OH.el("span", { class: `badge ${job.status}` }, job.status)),
      progress,
      OH.el("td", { class: "num" }, job.skipped),
      OH.el("td", {}, job.createdBy, job.cancelledBy ? OH.el("div", { class: "hint" }, `cancelled by ${job.cancelledBy}`) : null),
      OH.el(
        "td",
        {},
        job.status === "running" ? OH.el("button", { type: "button", class: "small", onclick: () => cancel(job) }, "Cancel") : null,
      ),
    );
  }

  async function loadJobs() {
    try {
      const { jobs } = await OH.api("GET", "omnihook/replays");
      body.replaceChildren(
        ...(jobs.length ? jobs.map(row) : [OH.el("tr", {}, OH.el("td", { colspan: 8, class: "empty" }, "No replay yet."))]),
      );
      OH.showPageError("");
    } catch (err) {
      OH.showPageError(`Could not load the replay jobs: ${err.message}`);
    } finally {
      table.setAttribute("aria-busy", "false");
    }
  }

  showKind();
  await Promise.all([loadJobs(), dryRun()]);
  // Progress, live enough: the jobs again every two seconds while the page is shown.
  setInterval(() => {
    if (!document.hidden) loadJobs();
  }, POLL_MS);
});
