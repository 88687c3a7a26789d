// One delivery: what was sent, every attempt and its answer (a compact timeline, one line an attempt,
// each opening on its request and response); send it again. Follows the live stream.
"use strict";

// Live notes come in bursts (one per recorded batch): the page reloads at most this often.
const RELOAD_AFTER_MS = 300;

document.addEventListener("DOMContentLoaded", async () => {
  const id = document.getElementById("delivery-id").dataset.id;
  const facts = document.getElementById("facts");
  const attempts = document.getElementById("attempts");
  const payload = document.getElementById("payload");
  const redeliver = document.getElementById("redeliver");
  const result = document.getElementById("redeliver-result");

  await OH.start();

  function fact(label, value) {
    return [OH.el("dt", {}, label), OH.el("dd", {}, value === undefined || value === null || value === "" ? "—" : value)];
  }

  function pretty(text) {
    if (text === undefined || text === null) return "";
    if (typeof text !== "string") return JSON.stringify(text, null, 2);
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (_) {
      return text;
    }
  }

  function headersTable(headers) {
    const entries = Object.entries(headers || {});
    if (!entries.length) return OH.el("p", { class: "hint" }, "none recorded");
    return OH.el(
      "table",
      { class: "headers" },
      OH.el("tbody", {}, entries.map(([k, v]) => OH.el("tr", {}, OH.el("th", {}, k), OH.el("td", {}, OH.el("code", {}, v))))),
    );
  }

  function outcome(a) {
    if (a.statusCode !== null && a.statusCode !== undefined) return `status ${a.statusCode}`;
    return a.error ? "error" : "no answer";
  }

  // The attempts the user opened stay open when a live update redraws the timeline.
  const opened = new Set();

  function attemptLine(a) {
    const ok = a.statusCode !== null && a.statusCode !== undefined && a.statusCode >= 200 && a.statusCode < 300 && !a.error;
    const details = OH.el(
      "details",
      { class: `attempt ${ok ? "ok" : "failed"}`, dataset: { attempt: a.attempt }, open: opened.has(a.attempt) },
      OH.el(
        "summary",
        { title: "Show the request headers and the answer" },
        OH.el("span", { class: "no" }, `#${a.attempt}`),
        OH.el("time", { datetime: a.startedAt || "" }, OH.time(a.startedAt)),
        OH.el("span", { class: "duration" }, `${a.durationMs} ms`),
        OH.el("span", { class: "outcome" }, outcome(a)),
        OH.el("span", { class: "error-line" }, a.error || ""),
      ),
      a.error ? OH.el("div", { class: "alert error" }, a.error) : null,
      OH.el("h4", {}, "Request headers"),
      headersTable(a.requestHeaders),
      OH.el("h4", {}, "Response headers"),
      a.responseHeaders ? headersTable(a.responseHeaders) : OH.el("p", { class: "hint" }, "not kept (kept for failed attempts)"),
      OH.el("h4", {}, "Response body"),
      a.responseBody ? OH.el("pre", { class: "response-body" }, a.responseBody) : OH.el("p", { class: "hint" }, "empty"),
    );
    details.addEventListener("toggle", () => (details.open ? opened.add(a.attempt) : opened.delete(a.attempt)));
    return OH.el("li", {}, details);
  }

  function nextAttempt(d) {
    if (d.status !== "pending") return null;
    if (!d.heldBehind) return OH.time(d.nextAttemptAt);
    return OH.el(
      "span",
      { id: "held", class: "held" },
      "held behind ",
      OH.el("a", { href: `/admin/deliveries/${encodeURIComponent(d.heldBehind)}` }, OH.el("code", {}, d.heldBehind)),
      OH.el("span", { class: "hint" }, " (deliveries to this endpoint for this room go out in order: this one waits until that one is delivered or dead)"),
    );
  }

  // The ids this page depends on: its delivery, and the one it is held behind.
  let watched = new Set([id]);

  async function load() {
    facts.setAttribute("aria-busy", "true");
    let d;
    try {
      d = (await OH.api("GET", `omnihook/deliveries/${encodeURIComponent(id)}`)).delivery;
    } catch (err) {
      OH.showPageError(err.status === 404 ? "No such delivery." : `Could not load the delivery: ${err.message}`);
      return;
    }
    OH.showPageError("");
    facts.replaceChildren(
      ...fact("Status", OH.el("span", { class: `badge ${d.status}`, id: "status" }, d.status)),
      ...fact("Event type", d.type),
      ...fact("Room", d.roomId ? OH.el("a", { href: `/admin/deliveries?roomId=${encodeURIComponent(d.roomId)}` }, d.roomId) : null),
      ...fact("Event id", d.eventId),
      ...fact("Endpoint", [d.endpointName, d.endpointUrl].filter(Boolean).join(" · ") || d.endpointId),
      ...fact("Attempts", d.attempts),
      ...fact("Last status code", d.lastStatusCode),
      ...fact("Last error", d.lastError),
      ...fact("Created", OH.time(d.createdAt)),
      ...fact(d.heldBehind ? "Waiting" : "Next attempt", nextAttempt(d)),
      ...fact("Delivered", OH.time(d.deliveredAt)),
    );
    facts.setAttribute("aria-busy", "false");
    const log = d.attemptsLog || [];
    attempts.replaceChildren(
      ...(log.length ? [OH.el("ol", { class: "timeline" }, log.map(attemptLine))] : [OH.el("p", { class: "empty" }, "No attempt yet.")]),
    );
    watched = new Set([id, d.heldBehind].filter(Boolean));
    payload.textContent = pretty(d.payload);
    // Pending deliveries are still being worked on; the others can be sent again.
    redeliver.hidden = d.status === "pending";
  }

  redeliver.addEventListener("click", async () => {
    redeliver.disabled = true;
    result.hidden = false;
    result.className = "alert";
    result.textContent = "Queued again…";
    try {
      await OH.api("POST", `omnihook/deliveries/${encodeURIComponent(id)}/redeliver`);
      result.className = "alert ok";
      result.textContent = "Queued for delivery again. The new attempt appears below once it is made.";
      await load();
    } catch (err) {
      result.className = "alert error";
      result.textContent = `Could not send it again: ${err.message}`;
    } finally {
      redeliver.disabled = false;
    }
  });
  document.getElementById("reload").addEventListener("click", load);

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
    if (note.kind === "hello" || note.kind === "resync") {
      // Connected (again), or notes were lost: what changed since the last load is reloaded.
      reloadSoon();
    } else if (note.kind === "deliveries.changed") {
      if (!note.deliveryIds || note.deliveryIds.some((d) => watched.has(d))) reloadSoon();
    }
  });
});
