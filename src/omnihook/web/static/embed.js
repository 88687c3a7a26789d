// The embed snippet's work, done from a file (the page's policy runs no inline script): the widget of
// this server, in the corner of this page.
(function () {
  const url = `${window.location.origin}/livechat`;
  window.RocketChat = function (c) { window.RocketChat._.push(c); };
  window.RocketChat._ = [];
  window.RocketChat.url = url;
  const script = document.createElement("script");
  script.async = true;
  script.src = `${url}/rocketchat-livechat.min.js?_=201903270000`;
  document.head.appendChild(script);
})();
