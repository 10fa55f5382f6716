// The interactive lesson's bridge: the only way an app in the sandbox reaches Stepstone.
// The app (someone else's code, framed from the sandbox's origin with sandbox="allow-
// scripts") cannot see this page, its cookies or its CSRF token; it can only post a
// message. This script takes a message only from that frame's own window (a sandboxed
// frame's origin is opaque, so the browser names it "null": the window is the check),
// only of the one shape an app may send, and turns it into an ordinary progress event
// through learn.js's queue, which sends it with the learner's token.
(function () {
  "use strict";
  var frame = document.getElementById("app-frame");
  var status = document.getElementById("app-status");
  if (!frame || !window.postMessage) { return; }
  var finished = false;

  function isDone(data) {
    // {stepstone: "done"} and nothing else: any other shape is ignored.
    if (!data || typeof data !== "object" || Array.isArray(data)) { return false; }
    var keys = Object.keys(data);
    return keys.length === 1 && keys[0] === "stepstone" && data.stepstone === "done";
  }

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow || event.origin !== "null") { return; }
    if (finished || !isDone(event.data)) { return; }
    finished = true;
    document.dispatchEvent(new CustomEvent("stepstone:record", {
      detail: { type: "completed", data: { method: "app" } }
    }));
    if (status) { status.textContent = frame.getAttribute("data-done-text"); }
  });
}());
