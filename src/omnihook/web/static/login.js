// The login page: POST /api/v1/login, keep the token, go back where the user was heading.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");

  // A path on this origin, or null: never an open redirect ("/\\evil", "/\t/evil", "//evil" are refused).
  function sameOriginPath(next) {
    if (!next.startsWith("/") || /[\\\u0000-\u001f\u007f]/.test(next)) return null;
    let url;
    try {
      url = new URL(next, location.origin);
    } catch {
      return null;
    }
    return url.origin === location.origin ? url.pathname + url.search + url.hash : null;
  }

  function nextPage(me) {
    const next = new URLSearchParams(location.search).get("next") || "";
    return sameOriginPath(next) || (OH.isManager(me) ? "/admin/webhooks" : "/agent");
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
