// Progressive enhancements only: every page works without this file.
(function () {
  "use strict";
  // Shared tablets: when the server is about to sign the person out for being idle,
  // warn a minute before, then leave the page so nobody else reads it.
  var seconds = parseInt(document.body.getAttribute("data-idle-seconds") || "0", 10);
  if (!seconds) { return; }
  var warning = document.getElementById("idle-warning");
  var stay = document.getElementById("idle-stay");
  var warnTimer, leaveTimer;
  function arm() {
    clearTimeout(warnTimer); clearTimeout(leaveTimer);
    if (warning) { warning.hidden = true; }
    warnTimer = setTimeout(function () {
      if (warning) { warning.hidden = false; if (stay) { stay.focus(); } }
    }, Math.max(seconds - 60, 1) * 1000);
    leaveTimer = setTimeout(function () {
      try { window.sessionStorage.clear(); } catch (e) { /* ignore */ }
      window.location.assign("/signin?notice=idle");
    }, seconds * 1000);
  }
  if (stay) {
    stay.addEventListener("click", function () {
      // A request to the server counts as activity there too.
      fetch("/account", { credentials: "same-origin", cache: "no-store" }).finally(arm);
    });
  }
  arm();
}());

(function () {
  "use strict";
  // Tablet hours (learners only): warn five minutes before they end, ask the page to
  // save the learner's work (learn.js) shortly before, then leave for the sign-in page.
  // The server refuses the session after the end whatever this script does; it also
  // answers a poll, so a lockdown or a changed schedule reaches a page left open.
  var body = document.body;
  var poll = parseInt(body.getAttribute("data-access-poll") || "0", 10);
  if (!poll || !window.fetch) { return; }
  var WARN_S = 300, SAVE_S = 20, LEAVE_AFTER_SAVE_MS = 4000;
  var box = document.getElementById("hours-warning");
  var text = document.getElementById("hours-text");
  var timers = [];
  var leaving = false;
  function clear() { timers.forEach(function (t) { clearTimeout(t); }); timers = []; }
  function later(fn, seconds) { timers.push(setTimeout(fn, Math.max(seconds, 0) * 1000)); }
  function show(message) {
    if (!box || !text) { return; }
    text.textContent = message;
    box.hidden = false;
  }
  function save() { document.dispatchEvent(new CustomEvent("stepstone:closing")); }
  function leave(notice) {
    if (leaving) { return; }
    leaving = true;
    clear();
    window.location.assign("/signin?notice=" + notice);
  }
  function arm(closesIn, closesAt) {
    clear();
    if (box) { box.hidden = true; }
    if (closesIn === null || isNaN(closesIn)) { return; }
    var warning = text ? text.getAttribute("data-template").replace("%(time)s", closesAt) : "";
    later(function () { show(warning); }, closesIn - WARN_S);
    later(save, closesIn - SAVE_S);
    later(function () { leave("closed-hours"); }, closesIn + 1);
  }
  function closed(reason) {
    if (leaving) { return; }
    clear();
    if (text) { show(text.getAttribute("data-closed")); }
    save();
    timers.push(setTimeout(function () { leave("closed-" + reason); }, LEAVE_AFTER_SAVE_MS));
  }
  function ask() {
    fetch("/api/access", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401) { leave("signed-out"); return null; }
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (!data || leaving) { return; }
      if (!data.open) { closed(data.reason); return; }
      arm(data.closes_in === null ? null : data.closes_in, data.closes_at);
    }).catch(function () { /* offline: the timers already set still run */ });
  }
  var first = body.getAttribute("data-closes-in");
  arm(first === null ? null : parseInt(first, 10), body.getAttribute("data-closes-at") || "");
  setInterval(ask, poll * 1000);
}());
