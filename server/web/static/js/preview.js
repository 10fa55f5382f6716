// The author's preview: reload the page when a file of the course folder changes.
// The server answers /preview/changes with a stamp of the folder; the page knows the
// stamp it was drawn with. Every second, while the tab is visible.
(function () {
  "use strict";
  var body = document.body;
  var drawn = body.getAttribute("data-preview-stamp");
  var changes = body.getAttribute("data-preview-changes");
  var again = body.getAttribute("data-preview-reload") || window.location.pathname;
  if (!drawn || !changes || !window.fetch) { return; }
  var asking = false;
  function ask() {
    if (asking || document.visibilityState !== "visible") { return; }
    asking = true;
    window.fetch(changes, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        asking = false;
        // A plain GET of the page (not a reload, which would send a form again).
        if (data && data.stamp && data.stamp !== drawn) { window.location.replace(again); }
      })
      .catch(function () { asking = false; });
  }
  window.setInterval(ask, 1000);
}());
