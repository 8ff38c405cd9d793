// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // The browser's time zone, for dates shown in it until the user chooses one in the
  // header (the server takes only a known zone name from this cookie).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var cookie = "dief_tz=" + zone;
    if (/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone || "") && document.cookie.split("; ").indexOf(cookie) < 0) {
      document.cookie = cookie + "; path=/; max-age=31536000; SameSite=Lax" +
        (window.location.protocol === "https:" ? "; Secure" : "");
      // drawn in another zone than the browser's (the first page, or after travelling):
      // draw it again, once, now that the server is told
      var body = document.body;
      if (document.cookie.split("; ").indexOf(cookie) >= 0 && body.hasAttribute("data-zone") &&
          body.getAttribute("data-zone-chosen") !== "1" && body.getAttribute("data-zone") !== zone) {
        window.location.reload();
      }
    }
  } catch (e) { /* no Intl: the console's default zone */ }

  // Upload forms: show progress while the file goes up, then follow the server's redirect.
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) return;
      event.preventDefault();
      var bar = form.querySelector("progress");
      var button = form.querySelector("button[type=submit]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Console-Upload", "1");
      if (bar) { bar.hidden = false; bar.value = 0; }
      if (button) button.disabled = true;
      xhr.upload.addEventListener("progress", function (e) {
        if (bar && e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
      });
      xhr.addEventListener("load", function () {
        var next = null;
        try { next = JSON.parse(xhr.responseText).next; } catch (e) { next = null; }
        if (typeof next === "string" && next.charAt(0) === "/" && next.charAt(1) !== "/") {
          window.location.assign(next);
        } else {
          window.location.reload();
        }
      });
      xhr.addEventListener("error", function () { if (button) button.disabled = false; form.submit(); });
      xhr.send(new FormData(form));
    });
  });

  // Forms asking for confirmation (archive).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // Silence procedure countdowns: days left until the end date (UTC days, as the rules count).
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var end = Date.parse(el.getAttribute("data-countdown") + "T00:00:00Z");
    if (isNaN(end)) return;
    var days = Math.max(0, Math.ceil((end - Date.now()) / 86400000));
    el.setAttribute("title", days + " d");
  });
})();
