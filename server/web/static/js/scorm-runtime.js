// The SCORM runtime API inside a SCO's own frame (served by Stepstone on the sandbox's
// origin and put at the top of each SCO page). A sandboxed SCO cannot reach the lesson
// page's window (another origin), so the API a SCO looks for (window.API for SCORM 1.2,
// window.API_1484_11 for 2004) is this adapter: it starts from the values the page put in
// the frame's address (#stepstone=..., the learner's attempt to resume), answers reads
// from them, and on each commit posts the values that changed to the lesson page, which
// checks them and records them on the server. It never sees the learner's session.
(function () {
  "use strict";
  var KEPT = {
    "1.2": ["cmi.core.lesson_status", "cmi.core.lesson_location", "cmi.core.score.raw",
            "cmi.core.score.min", "cmi.core.score.max", "cmi.core.exit",
            "cmi.core.session_time", "cmi.suspend_data"],
    "2004": ["cmi.completion_status", "cmi.success_status", "cmi.location",
             "cmi.score.scaled", "cmi.score.raw", "cmi.score.min", "cmi.score.max",
             "cmi.exit", "cmi.session_time", "cmi.suspend_data"]
  };
  var ERRORS = { "0": "No error", "101": "General exception", "301": "Not initialized",
                 "122": "Retrieve data before initialization", "132": "Store data before initialization",
                 "401": "Not implemented error" };
  var state = { v: "1.2", cmi: {} };
  try {
    var found = /[#&]stepstone=([A-Za-z0-9_-]*)/.exec(window.location.hash);
    if (found) {
      var text = window.atob(found[1].replace(/-/g, "+").replace(/_/g, "/"));
      state = JSON.parse(decodeURIComponent(escape(text)));
    }
  } catch (e) { /* no saved values: a first attempt */ }
  var version = state.v === "2004" ? "2004" : "1.2";
  var values = {};
  var name;
  for (name in state.cmi) { if (Object.prototype.hasOwnProperty.call(state.cmi, name)) { values[name] = String(state.cmi[name]); } }
  var changed = {};
  var running = false;
  var lastError = "0";

  function entry() { return values["cmi.suspend_data"] || values["cmi.core.lesson_location"] || values["cmi.location"] ? "resume" : "ab-initio"; }
  function defaults(key) {
    if (key === "cmi.core.entry" || key === "cmi.entry") { return entry(); }
    if (key === "cmi.core.lesson_status") { return "not attempted"; }
    if (key === "cmi.completion_status" || key === "cmi.success_status") { return "unknown"; }
    if (key === "cmi.core.lesson_mode" || key === "cmi.mode") { return "normal"; }
    if (key === "cmi.core.credit" || key === "cmi.credit") { return "credit"; }
    return "";
  }
  function initialize() { running = true; lastError = "0"; return "true"; }
  function read(key) {
    if (!running) { lastError = version === "1.2" ? "301" : "122"; return ""; }
    lastError = "0";
    return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : defaults(String(key));
  }
  function write(key, value) {
    if (!running) { lastError = version === "1.2" ? "301" : "132"; return "false"; }
    values[key] = String(value);
    if (KEPT[version].indexOf(key) >= 0) { changed[key] = String(value); }
    lastError = "0";
    return "true";
  }
  function commit() {
    if (!running) { lastError = "301"; return "false"; }
    var out = {};
    var any = false;
    for (var key in changed) { if (Object.prototype.hasOwnProperty.call(changed, key)) { out[key] = changed[key]; any = true; } }
    changed = {};
    if (any) { window.parent.postMessage({ stepstone: "scorm", cmi: out }, "*"); }
    lastError = "0";
    return "true";
  }
  function finish() { var done = commit(); running = false; return done; }
  function error() { return lastError; }
  function says(code) { return ERRORS[String(code)] || ""; }

  if (version === "1.2") {
    window.API = { LMSInitialize: initialize, LMSFinish: finish, LMSGetValue: read,
      LMSSetValue: write, LMSCommit: commit, LMSGetLastError: error,
      LMSGetErrorString: says, LMSGetDiagnostic: says };
  } else {
    window.API_1484_11 = { Initialize: initialize, Terminate: finish, GetValue: read,
      SetValue: write, Commit: commit, GetLastError: error,
      GetErrorString: says, GetDiagnostic: says };
  }
}());
