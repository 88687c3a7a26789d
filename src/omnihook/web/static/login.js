// The login page: POST /api/v1/login, keep the token, go back where the user was heading.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");

  function nextPage(me) {
    const next = new URLSearchParams(location.search).get("next") || "";
    // Only paths on this server: never an open redirect.
    if (next.startsWith("/") && !next.startsWith("//")) return next;
    return OH.isManager(me) ? "/admin/webhooks" : "/agent";
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const user = form.elements.user.value.trim();
    const password = form.elements.password.value;
    if (!user || !password) {
      error.textContent = "Enter your username (or email) and your password.";
      error.hidden = false;
      return;
    }
    try {
      const result = await OH.api("POST", "login", { user, password }, { auth: false });
      OH.saveCredentials(result.data.userId, result.data.authToken);
      location.assign(nextPage(result.data.me));
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong username or password." : err.message;
      error.hidden = false;
    }
  });
});
