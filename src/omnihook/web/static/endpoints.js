// Endpoints: the webhook endpoints with their health, a form to create and edit them, and their actions.
"use strict";

const ROCKETCHAT = "rocketchat";

document.addEventListener("DOMContentLoaded", async () => {
  const table = document.getElementById("endpoints");
  const body = table.querySelector("tbody");
  const form = document.getElementById("endpoint-form");
  const formError = document.getElementById("form-error");
  const status = document.getElementById("status");
  const secretBox = document.getElementById("secret-once");
  let editing = null; // the endpoint the form changes; null: the form creates one
  const chosen = new Map(); // endpoint id -> the example type picked, kept when the list reloads

  await OH.start();

  function say(text, link) {
    status.replaceChildren(text, ...(link ? [" ", link] : []));
    status.hidden = !text;
  }

  function showSecret(title, secret) {
    document.getElementById("secret-title").textContent = title;
    document.getElementById("secret-value").textContent = secret;
    secretBox.hidden = false;
    secretBox.scrollIntoView({ block: "nearest" });
  }

  document.getElementById("secret-done").addEventListener("click", () => {
    document.getElementById("secret-value").textContent = "";
    secretBox.hidden = true;
  });
  document.getElementById("secret-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(document.getElementById("secret-value").textContent);
      say("The secret was copied.");
    } catch (_) {
      say("Select the secret and copy it by hand.");
    }
  });

  // --- the form -----------------------------------------------------------------------------------

  function showFormat() {
    const format = form.elements.format.value;
    for (const field of form.querySelectorAll("[data-format]")) field.hidden = field.dataset.format !== format;
  }
  form.elements.format.addEventListener("change", showFormat);

  function openForm(endpoint) {
    editing = endpoint;
    form.reset();
    formError.hidden = true;
    document.getElementById("form-title").textContent = endpoint ? `Edit ${endpoint.name}` : "New endpoint";
    document.getElementById("save").textContent = endpoint ? "Save" : "Create";
    for (const field of form.querySelectorAll("[data-creating]")) field.hidden = Boolean(endpoint);
    if (endpoint) {
      const e = form.elements;
      e.name.value = endpoint.name;
      e.url.value = endpoint.url;
      e.format.value = endpoint.format;
      e.timeoutMs.value = endpoint.timeoutMs;
      e.maxInFlight.value = endpoint.maxInFlight;
      e.ordered.checked = endpoint.ordered;
      e.enabled.checked = endpoint.enabled;
      for (const box of form.querySelectorAll('input[name="eventTypes"]')) box.checked = endpoint.eventTypes.includes(box.value);
      if (endpoint.retrySchedule) e.retrySchedule.value = endpoint.retrySchedule.join(", ");
      if (endpoint.maxRetries !== undefined) e.maxRetries.value = endpoint.maxRetries;
      if (endpoint.retryDelayMs !== undefined) e.retryDelayMs.value = endpoint.retryDelayMs;
    }
    showFormat();
    form.hidden = false;
    form.elements.name.focus();
  }

  function closeForm() {
    form.hidden = true;
    editing = null;
  }

  function number(name) {
    return Number(form.elements[name].value);
  }

  // The API's fields from the form: the retry fields of the chosen format only.
  function fields() {
    const e = form.elements;
    const out = {
      name: e.name.value.trim(),
      url: e.url.value.trim(),
      format: e.format.value,
      eventTypes: [...form.querySelectorAll('input[name="eventTypes"]:checked')].map((box) => box.value),
      timeoutMs: number("timeoutMs"),
      maxInFlight: number("maxInFlight"),
      ordered: e.ordered.checked,
      enabled: e.enabled.checked,
    };
    if (out.format === "standard") {
      const schedule = e.retrySchedule.value.split(/[\s,]+/).filter(Boolean);
      if (schedule.length) out.retrySchedule = schedule.map(Number);
    } else {
      out.maxRetries = number("maxRetries");
      out.retryDelayMs = number("retryDelayMs");
    }
    if (!editing && e.secret.value.trim()) out.secret = e.secret.value.trim();
    return out;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.hidden = true;
    const save = document.getElementById("save");
    save.disabled = true;
    try {
      if (editing) {
        await OH.api("PATCH", `omnihook/endpoints/${encodeURIComponent(editing._id)}`, fields());
        say(`Saved ${form.elements.name.value.trim()}.`);
      } else {
        const { endpoint } = await OH.api("POST", "omnihook/endpoints", fields());
        say(`Created ${endpoint.name}.`);
        showSecret(`The signing secret of ${endpoint.name}`, endpoint.secret);
      }
      closeForm();
      await load();
    } catch (err) {
      formError.textContent = err.message;
      formError.hidden = false;
    } finally {
      save.disabled = false;
    }
  });
  document.getElementById("cancel").addEventListener("click", closeForm);
  document.getElementById("new-endpoint").addEventListener("click", () => openForm(null));

  // --- actions ------------------------------------------------------------------------------------

  async function act(what, call) {
    try {
      await call();
      OH.showPageError("");
    } catch (err) {
      OH.showPageError(`Could not ${what}: ${err.message}`);
    }
    await load();
  }

  const path = (e) => `omnihook/endpoints/${encodeURIComponent(e._id)}`;

  function toggle(e) {
    return act(e.enabled ? "disable it" : "enable it", async () => {
      await OH.api("PATCH", path(e), { enabled: !e.enabled });
      say(
        e.enabled
          ? `${e.name} is disabled: its deliveries are held, and sent in order once it is enabled again.`
          : `${e.name} is enabled${e.heldDeliveries ? `: its ${e.heldDeliveries} held deliveries are on their way` : ""}.`,
      );
    });
  }

  function rotate(e) {
    if (!confirm(`Rotate the secret of ${e.name}? The current one keeps signing requests for 24 hours.`)) return;
    return act("rotate the secret", async () => {
      const { endpoint } = await OH.api("POST", `${path(e)}/rotate-secret`);
      showSecret(`The new signing secret of ${endpoint.name}`, endpoint.secret);
    });
  }

  function remove(e) {
    if (!confirm(`Delete the endpoint ${e.name}? Nothing more is sent to it; its pending deliveries are given up.`)) return;
    return act("delete it", async () => {
      await OH.api("DELETE", path(e));
      say(`Deleted ${e.name}.`);
      if (editing && editing._id === e._id) closeForm();
    });
  }

  async function sendExample(e, select) {
    try {
      const { delivery } = await OH.api("POST", `${path(e)}/send-example`, { eventType: select.value });
      const link = OH.el("a", { href: `/admin/deliveries/${encodeURIComponent(delivery._id)}` }, delivery._id);
      say(`An example ${delivery.type} is on its way to ${e.name}:`, link);
      OH.showPageError("");
    } catch (err) {
      OH.showPageError(`Could not send an example: ${err.message}`);
    }
  }

  // --- the list -----------------------------------------------------------------------------------

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : `${Math.round(rate * 1000) / 10}\u00a0%`;
  }

  function ms(value) {
    return value === null || value === undefined ? "—" : `${value}\u00a0ms`;
  }

  function held(count) {
    return count === 1 ? "1 delivery held" : `${count} deliveries held`;
  }

  function row(e, health) {
    const managed = e._id === ROCKETCHAT;
    const h = health || {};
    const types = [...new Set(e.eventTypes)];
    const select = OH.el(
      "select",
      {
        "aria-label": `Event type of an example for ${e.name}`,
        class: "example-type",
        onchange: (event) => chosen.set(e._id, event.target.value),
      },
      types.map((t) => OH.el("option", { value: t, selected: t === chosen.get(e._id) }, t)),
    );
    const state = e.enabled
      ? OH.el("span", { class: "badge delivered" }, "enabled")
      : OH.el("span", { class: "badge dead", title: e.disabledReason || "" }, "disabled");
    const cells = [
      OH.el(
        "td",
        {},
        OH.el("strong", {}, e.name),
        OH.el("br"),
        OH.el("code", {}, e.url || "no URL"),
      ),
      OH.el("td", {}, e.format === "standard" ? "Standard Webhooks" : "Rocket.Chat"),
      OH.el(
        "td",
        {},
        state,
        e.disabledReason ? OH.el("div", { class: "hint disabled-reason" }, e.disabledReason) : null,
        e.enabled || !e.url ? null : OH.el("div", { class: "hint held" }, held(e.heldDeliveries)),
      ),
      OH.el("td", { class: "num", title: h.attempts ? `${h.succeeded} of ${h.attempts} attempts succeeded` : "no attempt" }, percent(h.successRate)),
      OH.el("td", { class: "num" }, ms(h.p50Ms)),
      OH.el("td", { class: "num" }, ms(h.p99Ms)),
      OH.el(
        "td",
        {},
        types.length && e.enabled
          ? [select, " ", OH.el("button", { type: "button", class: "small", onclick: () => sendExample(e, select) }, "Send example")]
          : "—",
      ),
      OH.el(
        "td",
        { class: "row-actions" },
        managed
          ? [
              OH.el("a", { href: "/admin/webhooks" }, "Edit on the Webhooks page"),
              // Disabled for failing: enabled again here (disabling it is clearing its URL there).
              ...(!e.enabled && e.url
                ? [" ", OH.el("button", { type: "button", class: "small", onclick: () => toggle(e) }, "Enable")]
                : []),
            ]
          : [
              OH.el("button", { type: "button", class: "small", onclick: () => openForm(e) }, "Edit"),
              " ",
              OH.el("button", { type: "button", class: "small", onclick: () => toggle(e) }, e.enabled ? "Disable" : "Enable"),
              " ",
              OH.el("button", { type: "button", class: "small", onclick: () => rotate(e) }, "Rotate secret"),
              " ",
              OH.el("button", { type: "button", class: "small danger", onclick: () => remove(e) }, "Delete"),
            ],
      ),
    ];
    return OH.el("tr", { dataset: { id: e._id, enabled: String(e.enabled) } }, cells);
  }

  async function load() {
    table.setAttribute("aria-busy", "true");
    try {
      const [{ endpoints }, stats] = await Promise.all([
        OH.api("GET", "omnihook/endpoints"),
        OH.api("GET", "omnihook/endpoints/stats"),
      ]);
      body.replaceChildren(
        ...(endpoints.length
          ? endpoints.map((e) => row(e, stats.endpoints[e._id]))
          : [OH.el("tr", {}, OH.el("td", { colspan: 8, class: "empty" }, "No endpoint yet."))]),
      );
    } catch (err) {
      OH.showPageError(`Could not load the endpoints: ${err.message}`);
    } finally {
      table.setAttribute("aria-busy", "false");
    }
  }

  await load();
});
