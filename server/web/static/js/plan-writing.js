// A lesson plan's writing task: the draft saves itself a few seconds after the learner
// stops typing (POST <task>/draft, the same form fields; 204 back). Without this file
// the form's "Save for later" does the same. A failed save is tried again at the next
// change and when the page is left.
(function () {
  "use strict";
  var form = document.getElementById("plan-written-form");
  var status = document.getElementById("autosave");
  if (!form || !status || !window.fetch || !window.FormData || !window.URLSearchParams) { return; }
  var timer = null;
  var dirty = false;
  function save(leaving) {
    window.clearTimeout(timer);
    if (!dirty) { return; }
    dirty = false;
    // A plain urlencoded form, which may carry its CSRF token as a field (plumbing.py).
    var body = new window.URLSearchParams(new window.FormData(form));
    body.delete("action");
    status.textContent = status.getAttribute("data-saving");
    window.fetch(form.getAttribute("action") + "/draft", {
      method: "POST", credentials: "same-origin", body: body, keepalive: !!leaving
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      var options = { hour: "2-digit", minute: "2-digit", timeZone: status.getAttribute("data-time-zone") || "UTC" };
      var time;
      try { time = new Date().toLocaleTimeString(document.documentElement.lang || [], options); }
      catch (e) { time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
      status.textContent = status.getAttribute("data-saved").replace("%(time)s", time);
    }).catch(function () {
      dirty = true;
      status.textContent = status.getAttribute("data-waiting");
    });
  }
  form.addEventListener("input", function () {
    dirty = true;
    window.clearTimeout(timer);
    timer = window.setTimeout(save, 2000);
  });
  form.addEventListener("submit", function () {
    window.clearTimeout(timer);
    dirty = false;
  });
  window.addEventListener("pagehide", function () { save(true); });
}());
