// Agents: list, create, add and remove livechat agents.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const body = document.querySelector("#agents tbody");
  const newForm = document.getElementById("new-agent");
  const addForm = document.getElementById("add-agent");

  await OH.start();

  function email(user) {
    return (user.emails && user.emails[0] && user.emails[0].address) || "";
  }

  async function load() {
    try {
      const result = await OH.api("GET", "livechat/users/agent?count=200");
      const users = result.users || [];
      body.replaceChildren(
        ...(users.length
          ? users.map((u) =>
              OH.el(
                "tr",
                { dataset: { username: u.username } },
                OH.el("td", {}, u.name || ""),
                OH.el("td", {}, u.username),
                OH.el("td", {}, email(u)),
                OH.el("td", {}, OH.el("span", { class: `badge ${u.statusLivechat}` }, u.statusLivechat || "not-available")),
                OH.el("td", {}, OH.el("button", { type: "button", class: "small danger", onclick: () => remove(u) }, "Remove")),
              ),
            )
          : [OH.el("tr", {}, OH.el("td", { colspan: 5, class: "empty" }, "No agents yet: create one below."))]),
      );
    } catch (err) {
      OH.showPageError(`Could not load the agents: ${err.message}`);
    } finally {
      document.getElementById("agents").setAttribute("aria-busy", "false");
    }
  }

  async function remove(user) {
    if (!confirm(`Remove ${user.username} from the agents?`)) return;
    try {
      await OH.api("DELETE", `livechat/users/agent/${encodeURIComponent(user._id)}`);
    } catch (err) {
      OH.showPageError(err.message);
    }
    await load();
  }

  function fail(form, err) {
    const box = form.querySelector(".field-error");
    box.textContent = err.message;
    box.hidden = false;
  }

  newForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    newForm.querySelector(".field-error").hidden = true;
    const f = newForm.elements;
    try {
      await OH.api("POST", "users.create", {
        username: f.username.value.trim(),
        name: f.name.value.trim(),
        email: f.email.value.trim(),
        password: f.password.value,
        roles: ["livechat-agent"],
      });
      newForm.reset();
      await load();
    } catch (err) {
      fail(newForm, err);
    }
  });

  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    addForm.querySelector(".field-error").hidden = true;
    try {
      await OH.api("POST", "livechat/users/agent", { username: addForm.elements.username.value.trim() });
      addForm.reset();
      await load();
    } catch (err) {
      fail(addForm, err);
    }
  });

  // The routing method (an admin setting; managers see it read-only).
  const routing = document.getElementById("routing-method");
  const routingStatus = document.getElementById("routing-status");
  async function loadRouting() {
    try {
      routing.value = (await OH.api("GET", "settings/Livechat_Routing_Method")).value;
      routing.disabled = false;
    } catch (err) {
      routingStatus.textContent = err.status === 403 ? "Only an admin can change this." : err.message;
    }
  }
  routing.addEventListener("change", async () => {
    routingStatus.textContent = "";
    try {
      await OH.api("POST", "settings/Livechat_Routing_Method", { value: routing.value });
      routingStatus.textContent = "Saved.";
    } catch (err) {
      routingStatus.textContent = `Not saved: ${err.message}`;
      await loadRouting();
    }
  });

  await Promise.all([load(), loadRouting()]);
});
