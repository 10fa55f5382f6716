// The author's preview: reload the page when a file of the course folder changes.
// The server answers /preview/changes with a stamp of the folder; the page knows the
// stamp it was drawn with. Every second, while the tab is visible. The reloaded page
// opens where the author was reading, not at the top.
(function () {
  "use strict";
  var body = document.body;
  var drawn = body.getAttribute("data-preview-stamp");
  var changes = body.getAttribute("data-preview-changes");
  var again = body.getAttribute("data-preview-reload") || window.location.pathname;
  var SCROLL = "stepstone-preview-scroll";
  if (!drawn || !changes || !window.fetch) { return; }

  try {
    var kept = JSON.parse(window.sessionStorage.getItem(SCROLL) || "null");
    window.sessionStorage.removeItem(SCROLL);
    if (kept && kept.path === window.location.pathname) { window.scrollTo(0, kept.y); }
  } catch (e) { /* storage disabled: the page opens at the top */ }

  var asking = false;
  function reload() {
    try {
      window.sessionStorage.setItem(SCROLL, JSON.stringify({ path: again, y: window.scrollY }));
    } catch (e) { /* see above */ }
    // A plain GET of the page (not a reload, which would send a form again).
    window.location.replace(again);
  }
  function ask() {
    if (asking || document.visibilityState !== "visible") { return; }
    asking = true;
    window.fetch(changes, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        asking = false;
        if (data && data.stamp && data.stamp !== drawn) { reload(); }
      })
      .catch(function () { asking = false; });
  }
  window.setInterval(ask, 1000);
}());
