// The publishers page, while a sync runs: fetch the page again every few seconds and put
// the new "Last syncs" tables in place, until no sync runs. Without this file the page
// shows a link to look again.
(function () {
  "use strict";
  var EVERY_MS = 3000;
  var GIVE_UP_MS = 15 * 60 * 1000; // polling keeps the session awake; do not do it for ever
  var started = Date.now();
  var status = document.getElementById("sync-status");

  function running(root) { return root.querySelectorAll("[data-sync-runs][data-running]"); }

  function refresh() {
    fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (text) {
        var page = new DOMParser().parseFromString(text, "text/html");
        var fresh = page.querySelectorAll("[data-sync-runs]");
        Array.prototype.forEach.call(fresh, function (block) {
          var here = document.getElementById(block.id);
          if (here) { here.replaceWith(document.importNode(block, true)); }
        });
        if (running(document).length && Date.now() - started < GIVE_UP_MS) {
          setTimeout(refresh, EVERY_MS);
        } else if (status) {
          status.textContent = status.getAttribute("data-done");
        }
      })
      .catch(function () { /* the link to look again stays */ });
  }

  if (running(document).length) { setTimeout(refresh, EVERY_MS); }
}());
