// A SCORM 2004 SCO written for the tests: it finds API_1484_11, and on "Finish" reports
// itself completed and passed with a scaled score.
(function () {
  "use strict";
  var api = window.API_1484_11 || null;
  var where = document.getElementById("where");
  if (!api) { where.textContent = "No API"; return; }
  api.Initialize("");
  where.textContent = "Started (" + api.GetValue("cmi.entry") + ")";
  api.SetValue("cmi.completion_status", "incomplete");
  api.Commit("");
  document.getElementById("finish").addEventListener("click", function () {
    api.SetValue("cmi.score.scaled", "0.9");
    api.SetValue("cmi.success_status", "passed");
    api.SetValue("cmi.completion_status", "completed");
    api.Terminate("");
    where.textContent = "Finished";
  });
}());
