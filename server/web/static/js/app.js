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
