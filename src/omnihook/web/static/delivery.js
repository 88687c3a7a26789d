// One delivery: what was sent, every attempt and its answer; send it again.
"use strict";

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

  function attemptCard(a) {
    const outcome = a.statusCode !== null && a.statusCode !== undefined ? `status ${a.statusCode}` : "no answer";
    return OH.el(
      "section",
      { class: "attempt", dataset: { attempt: a.attempt } },
      OH.el("h3", {}, `Attempt ${a.attempt} · ${outcome} · ${a.durationMs} ms · ${OH.time(a.startedAt)}`),
      a.error ? OH.el("div", { class: "alert error" }, a.error) : null,
      OH.el("h4", {}, "Request headers"),
      headersTable(a.requestHeaders),
      OH.el("h4", {}, "Response body"),
      a.responseBody ? OH.el("pre", { class: "response-body" }, a.responseBody) : OH.el("p", { class: "hint" }, "empty"),
    );
  }

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
      ...fact("Next attempt", d.status === "pending" ? OH.time(d.nextAttemptAt) : null),
      ...fact("Delivered", OH.time(d.deliveredAt)),
    );
    facts.setAttribute("aria-busy", "false");
    const log = d.attemptsLog || [];
    attempts.replaceChildren(...(log.length ? log.map(attemptCard) : [OH.el("p", { class: "empty" }, "No attempt yet.")]));
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
      result.textContent = "Queued for delivery again. The new attempt appears below once it is made (press Refresh).";
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
});
