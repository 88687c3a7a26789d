// Omnichannel > Webhooks: the CRM integration settings, as Rocket.Chat's page has them.
"use strict";

// Setting id (GET livechat/integrations.settings) → body key (POST omnichannel/integrations).
const SETTING_KEYS = {
  Livechat_webhookUrl: "LivechatWebhookUrl",
  Livechat_secret_token: "LivechatSecretToken",
  Livechat_http_timeout: "LivechatHttpTimeout",
  Livechat_webhook_on_start: "LivechatWebhookOnStart",
  Livechat_webhook_on_close: "LivechatWebhookOnClose",
  Livechat_webhook_on_chat_taken: "LivechatWebhookOnChatTaken",
  Livechat_webhook_on_chat_queued: "LivechatWebhookOnChatQueued",
  Livechat_webhook_on_forward: "LivechatWebhookOnForward",
  Livechat_webhook_on_offline_msg: "LivechatWebhookOnOfflineMsg",
  Livechat_webhook_on_visitor_message: "LivechatWebhookOnVisitorMessage",
  Livechat_webhook_on_agent_message: "LivechatWebhookOnAgentMessage",
  Livechat_webhook_on_capture: "LivechatWebhookOnCapture",
  Send_visitor_navigation_history_livechat_webhook_request: "LivechatWebhookSendNavigation",
  // omnihook's own: how often and how far apart a failed delivery is retried.
  Livechat_webhook_retries: "LivechatWebhookRetries",
  Livechat_webhook_retry_delay: "LivechatWebhookRetryDelay",
};
const NUMBER_KEYS = ["LivechatHttpTimeout", "LivechatWebhookRetries", "LivechatWebhookRetryDelay"];
// Words in an error that point at a field when the error does not name the key itself.
const FIELD_HINTS = [
  [/retry.?delay|retry_delay|RetryDelay/i, "LivechatWebhookRetryDelay"],
  [/retries|retry.?count/i, "LivechatWebhookRetries"],
  [/timeout/i, "LivechatHttpTimeout"],
  [/secret|token/i, "LivechatSecretToken"],
  [/url|address|host|scheme|target/i, "LivechatWebhookUrl"],
];

document.addEventListener("DOMContentLoaded", async () => {
  const form = document.getElementById("webhooks-form");
  const saveButton = document.getElementById("save");
  const resetButton = document.getElementById("reset");
  const testButton = document.getElementById("send-test");
  const testResult = document.getElementById("test-result");
  const formError = document.getElementById("form-error");
  const formStatus = document.getElementById("form-status");
  let saved = null;

  await OH.start();

  const secretInput = document.getElementById("secret-token");
  const secretClear = document.getElementById("secret-token-clear");
  const secretState = document.getElementById("secret-token-state");

  function readForm() {
    const values = {};
    for (const input of form.querySelectorAll("input[name]")) {
      if (input === secretInput) {
        // Write-only: sent only when a new one is typed or the saved one is removed; else the server keeps it.
        if (secretClear.checked) values[input.name] = "";
        else if (input.value.trim() !== "") values[input.name] = input.value.trim();
      } else if (input.type === "checkbox") values[input.name] = input.checked;
      else if (NUMBER_KEYS.includes(input.name)) {
        if (input.closest(".field").hidden) continue;
        values[input.name] = input.value.trim() === "" ? "" : Number(input.value);
      } else values[input.name] = input.value.trim();
    }
    return values;
  }

  function fillForm(values) {
    for (const input of form.querySelectorAll("input[name]")) {
      const value = values[input.name];
      if (input === secretInput) {
        // The server sends only a mask (its last characters at most): never put it in the field.
        const masked = typeof value === "string" ? value : "";
        input.value = "";
        input.placeholder = masked ? "Type a new token to replace the saved one" : "";
        secretState.textContent = masked ? `Saved: ${masked}` : "Not set.";
        secretClear.checked = false;
        secretClear.closest("label").hidden = !masked;
        input.disabled = false;
      } else if (input.type === "checkbox") input.checked = Boolean(value);
      else input.value = value === undefined || value === null ? "" : String(value);
    }
    refresh();
  }

  // The form as it reads right after the saved values were put in: the baseline for "dirty".
  let savedForm = null;

  function isDirty() {
    return savedForm !== null && JSON.stringify(readForm()) !== savedForm;
  }

  function refresh() {
    const dirty = isDirty();
    saveButton.disabled = !saved || !dirty;
    resetButton.disabled = !saved || !dirty;
    // As in Rocket.Chat: testing needs a saved URL and no unsaved change.
    const canTest = Boolean(saved && saved.LivechatWebhookUrl) && !dirty;
    testButton.disabled = !canTest;
    testButton.title = canTest
      ? "Send a sample LivechatSession payload to the saved Webhook URL"
      : dirty
        ? "Save your changes first"
        : "Save a Webhook URL first";
  }

  function clearErrors() {
    formError.hidden = true;
    for (const box of form.querySelectorAll(".field-error")) {
      box.hidden = true;
      box.textContent = "";
    }
    for (const field of form.querySelectorAll(".field")) field.classList.remove("invalid");
  }

  function fieldFor(err) {
    const text = `${err.body.error || ""} ${err.body.details || ""}`;
    for (const field of form.querySelectorAll(".field[data-field]")) {
      if (text.includes(field.dataset.field)) return field;
    }
    for (const [pattern, key] of FIELD_HINTS) {
      if (pattern.test(text)) return form.querySelector(`.field[data-field="${key}"]`);
    }
    return null;
  }

  function showError(err) {
    const message = err.body.details && err.body.details !== err.body.error
      ? `${err.body.details}`
      : err.message;
    const field = err.status === 400 ? fieldFor(err) : null;
    if (field) {
      field.classList.add("invalid");
      const box = field.querySelector(".field-error");
      // Name the field as the page does, not by its API key.
      const label = field.querySelector("label, legend");
      box.textContent = label ? message.replace(field.dataset.field, label.textContent.trim()) : message;
      box.hidden = false;
      const input = field.querySelector("input");
      if (input) input.focus();
    } else {
      formError.textContent = message;
      formError.hidden = false;
    }
  }

  async function load() {
    const result = await OH.api("GET", "livechat/integrations.settings");
    const values = {};
    for (const setting of result.settings) {
      const key = SETTING_KEYS[setting._id];
      if (key) values[key] = setting.value;
    }
    // Hide our extra fields if this server does not have them.
    for (const key of ["LivechatWebhookRetries", "LivechatWebhookRetryDelay"]) {
      form.querySelector(`.field[data-field="${key}"]`).hidden = !(key in values);
    }
    saved = values;
    fillForm(values);
    savedForm = JSON.stringify(readForm());
    refresh();
    form.setAttribute("aria-busy", "false");
  }

  secretClear.addEventListener("change", () => {
    secretInput.disabled = secretClear.checked;
    if (secretClear.checked) secretInput.value = "";
  });

  form.addEventListener("input", () => {
    formStatus.hidden = true;
    refresh();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    formStatus.hidden = true;
    testResult.hidden = true;
    saveButton.disabled = true;
    try {
      await OH.api("POST", "omnichannel/integrations", readForm());
      await load();
      formStatus.textContent = "Saved.";
      formStatus.hidden = false;
    } catch (err) {
      showError(err);
      refresh();
    }
  });

  resetButton.addEventListener("click", () => {
    clearErrors();
    formStatus.hidden = true;
    fillForm(saved);
  });

  testButton.addEventListener("click", async () => {
    testButton.disabled = true;
    testResult.hidden = false;
    testResult.className = "alert";
    testResult.textContent = `Sending a test to ${saved.LivechatWebhookUrl} …`;
    try {
      await OH.api("POST", "livechat/webhook.test");
      testResult.className = "alert ok";
      testResult.textContent = "It works: your endpoint answered with status 200.";
    } catch (err) {
      testResult.className = "alert error";
      testResult.replaceChildren(...describeTestFailure(err));
    } finally {
      refresh();
    }
  });

  function describeTestFailure(err) {
    const body = err.body || {};
    const details = typeof body.details === "string" ? body.details : "";
    // "…; a 200 is expected. Start of its answer: <body>": the answer is shown as it came.
    const [summary, answer] = details.split(/\. Start of its answer: /s);
    const parts = [OH.el("strong", {}, "Send Test failed: "), summary || body.error || err.message];
    if (answer !== undefined) parts.push(OH.el("div", {}, "Start of its answer:"), OH.el("pre", { class: "body" }, answer));
    if (body.error && details) parts.push(OH.el("div", { class: "hint" }, body.error));
    return parts;
  }

  // How the integration is doing: what waits for a retry, what gave up.
  async function summarize() {
    const box = document.getElementById("delivery-summary");
    try {
      const [pending, dead] = await Promise.all(
        ["pending", "dead"].map((status) => OH.api("GET", `omnihook/deliveries${OH.query({ status, count: 1 })}`).then((r) => r.total || 0)),
      );
      if (!pending && !dead) return;
      box.className = dead ? "alert warn" : "alert";
      box.replaceChildren(
        `Deliveries: ${pending} pending, ${dead} dead. `,
        OH.el("a", { href: dead ? "/admin/deliveries?status=dead" : "/admin/deliveries?status=pending" }, "See them"),
      );
      box.hidden = false;
    } catch (_) {
      box.hidden = true;
    }
  }

  try {
    await load();
  } catch (err) {
    OH.showPageError(`Could not load the settings: ${err.message}`);
  }
  await summarize();
});
