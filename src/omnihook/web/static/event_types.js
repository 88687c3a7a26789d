// Event catalog: each event type's description, what turns it on, its JSON Schema and an example body in
// both formats (GET /api/v1/omnihook/event-types: public, no login needed).
"use strict";

const FORMATS = [
  ["rocketchat", "Rocket.Chat format"],
  ["standard", "Standard Webhooks"],
];

function codes(values, none) {
  if (!values.length) return OH.el("span", { class: "hint" }, none);
  return values.flatMap((value, n) => [n ? ", " : "", OH.el("code", {}, value)]);
}

function block(kind, format, title, value) {
  const text = JSON.stringify(value, null, 2);
  const copy = OH.el("button", { type: "button", class: "small" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
    } catch (_) {
      copy.textContent = "Select the text to copy";
    }
  });
  return OH.el(
    "details",
    { class: `${kind} ${format}`, dataset: { kind, format } },
    OH.el("summary", {}, title),
    OH.el("div", { class: "actions" }, copy),
    OH.el("pre", {}, text),
  );
}

function fill(section, entry) {
  section.querySelector(".description").textContent = entry.description;
  section.querySelector(".settings").replaceChildren(...[codes(entry.rocketChatSettings, "none: always sent when the URL is set")].flat());
  section.querySelector(".keys").replaceChildren(...[codes(entry.subscriptionKeys, "")].flat());
  section.querySelector(".bodies").replaceChildren(
    ...FORMATS.flatMap(([format, name]) => [
      block("schema", format, `JSON Schema · ${name}`, entry.schemas[format]),
      block("example", format, `Example · ${name}`, entry.examples[format]),
    ]),
  );
}

document.addEventListener("DOMContentLoaded", async () => {
  await OH.start();
  const catalog = document.getElementById("catalog");
  try {
    const { eventTypes } = await OH.api("GET", "omnihook/event-types", undefined, { auth: false });
    for (const entry of eventTypes) {
      const section = document.getElementById(entry.type);
      if (section) fill(section, entry);
    }
    catalog.setAttribute("aria-busy", "false");
    // The browser scrolled to #Type before the text was there: once more, now that it is.
    if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView();
  } catch (error) {
    OH.showPageError(`The catalog could not be loaded: ${error.message}`);
  }
});
