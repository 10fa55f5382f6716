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

  // SCORM: the runtime in the SCO's frame posts {stepstone: "scorm", cmi: {...}} on
  // each commit; only the elements the server keeps, as strings, of this SCORM version.
  var KEPT = {
    "1.2": ["cmi.core.lesson_status", "cmi.core.lesson_location", "cmi.core.score.raw",
            "cmi.core.score.min", "cmi.core.score.max", "cmi.core.exit",
            "cmi.core.session_time", "cmi.suspend_data"],
    "2004": ["cmi.completion_status", "cmi.success_status", "cmi.location",
             "cmi.score.scaled", "cmi.score.raw", "cmi.score.min", "cmi.score.max",
             "cmi.exit", "cmi.session_time", "cmi.suspend_data"]
  };
  var version = frame.getAttribute("data-scorm");

  function scormValues(data) {
    if (!version || !data || typeof data !== "object" || Array.isArray(data)) { return null; }
    var keys = Object.keys(data);
    if (keys.length !== 2 || data.stepstone !== "scorm") { return null; }
    var cmi = data.cmi;
    if (!cmi || typeof cmi !== "object" || Array.isArray(cmi)) { return null; }
    var out = {};
    var names = Object.keys(cmi);
    if (!names.length || names.length > KEPT[version].length) { return null; }
    for (var i = 0; i < names.length; i++) {
      if (KEPT[version].indexOf(names[i]) < 0 || typeof cmi[names[i]] !== "string" ||
          cmi[names[i]].length > 64000) { return null; }
      out[names[i]] = cmi[names[i]];
    }
    return out;
  }

  // H5P: the player posts {stepstone: "xapi", statement: {...}} for each xAPI statement;
  // an object of at most 32 KB with a verb, passed on as it is (the server reads it).
  var h5p = frame.getAttribute("data-h5p") === "1";
  function xapiStatement(data) {
    if (!h5p || !data || typeof data !== "object" || data.stepstone !== "xapi") { return null; }
    var statement = data.statement;
    if (Object.keys(data).length !== 2 || !statement || typeof statement !== "object" ||
        !statement.verb || typeof statement.verb.id !== "string") { return null; }
    try { if (JSON.stringify(statement).length > 32000) { return null; } } catch (e) { return null; }
    return statement;
  }

  // SCORM and H5P finish by what the server (or the preview) makes of their reports:
  // once it says the lesson is done, the page says so, with the score when there is one.
  document.addEventListener("stepstone:state", function (event) {
    var state = event.detail || {};
    if (!(version || h5p) || state.status !== "done" || !status) { return; }
    var text = frame.getAttribute("data-done-text");
    if (typeof state.score === "number") {
      text += " " + frame.getAttribute("data-score-text")
        .replace("%(score)s", String(Math.round(state.score)));
    }
    status.textContent = text;
  });

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow || event.origin !== "null") { return; }
    var statement = xapiStatement(event.data);
    if (statement) {
      document.dispatchEvent(new CustomEvent("stepstone:record", {
        detail: { type: "h5p", data: { statement: statement } }
      }));
      return;
    }
    var cmi = scormValues(event.data);
    if (cmi) {
      document.dispatchEvent(new CustomEvent("stepstone:record", {
        detail: { type: "scorm", data: {
          sco: frame.getAttribute("data-sco"),
          attempt: parseInt(frame.getAttribute("data-attempt"), 10),
          cmi: cmi
        } }
      }));
      return;
    }
    if (version || h5p || finished || !isDone(event.data)) { return; }
    finished = true;
    document.dispatchEvent(new CustomEvent("stepstone:record", {
      detail: { type: "completed", data: { method: "app" } }
    }));
    if (status) { status.textContent = frame.getAttribute("data-done-text"); }
  });
}());
