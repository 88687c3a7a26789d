// Departments: list, create and remove, with their agents.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const body = document.querySelector("#departments tbody");
  const form = document.getElementById("new-department");
  const agentsBox = document.getElementById("dep-agents");
  let agents = [];

  await OH.start();

  async function loadAgents() {
    try {
      agents = (await OH.api("GET", "livechat/users/agent?count=200")).users || [];
    } catch (_) {
      agents = [];
    }
    if (agents.length) {
      agentsBox.replaceChildren(
        ...agents.map((a) =>
          OH.el("label", {}, OH.el("input", { type: "checkbox", name: "agent", value: a._id, dataset: { username: a.username } }), ` ${a.name || a.username}`),
        ),
      );
    }
  }

  async function load() {
    try {
      const result = await OH.api("GET", "livechat/department?count=200");
      const departments = result.departments || [];
      body.replaceChildren(
        ...(departments.length
          ? departments.map((d) =>
              OH.el(
                "tr",
                { dataset: { name: d.name } },
                OH.el("td", {}, d.name),
                OH.el("td", {}, d.email || ""),
                OH.el("td", {}, d.enabled ? "yes" : "no"),
                OH.el("td", { class: "num" }, d.numAgents ?? ""),
                OH.el("td", {}, OH.el("button", { type: "button", class: "small danger", onclick: () => remove(d) }, "Remove")),
              ),
            )
          : [OH.el("tr", {}, OH.el("td", { colspan: 5, class: "empty" }, "No departments yet."))]),
      );
    } catch (err) {
      OH.showPageError(`Could not load the departments: ${err.message}`);
    } finally {
      document.getElementById("departments").setAttribute("aria-busy", "false");
    }
  }

  async function remove(department) {
    if (!confirm(`Remove the department ${department.name}?`)) return;
    try {
      await OH.api("DELETE", `livechat/department/${encodeURIComponent(department._id)}`);
    } catch (err) {
      OH.showPageError(err.message);
    }
    await load();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".field-error");
    error.hidden = true;
    const chosen = [...form.querySelectorAll('input[name="agent"]:checked')].map((box) => ({
      agentId: box.value,
      username: box.dataset.username,
    }));
    const department = {
      name: form.elements.name.value.trim(),
      enabled: form.elements.enabled.checked,
      showOnRegistration: true,
      showOnOfflineForm: true,
    };
    const mail = form.elements.email.value.trim();
    if (mail) department.email = mail;
    try {
      await OH.api("POST", "livechat/department", { department, agents: chosen });
      form.reset();
      await load();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });

  await Promise.all([loadAgents(), load()]);
});
