// A SCORM 1.2 SCO written for the tests: it finds the API the usual way (this window,
// then its parents), resumes from suspend_data, saves its page, and finishes with a score.
(function () {
  "use strict";
  function findAPI(win) {
    for (var i = 0; win && i < 10; i++) {
      try { if (win.API) { return win.API; } } catch (e) { return null; }
      if (win.parent === win) { break; }
      win = win.parent;
    }
    return null;
  }
  var api = findAPI(window);
  var where = document.getElementById("where");
  if (!api) { where.textContent = "No API"; return; }
  api.LMSInitialize("");
  var page = parseInt((api.LMSGetValue("cmi.suspend_data").split("=")[1]) || "1", 10);
  where.textContent = "Page " + page + " (" + api.LMSGetValue("cmi.core.entry") + ")";
  api.LMSSetValue("cmi.core.lesson_status", "incomplete");
  document.getElementById("next").addEventListener("click", function () {
    page += 1;
    api.LMSSetValue("cmi.suspend_data", "page=" + page);
    api.LMSSetValue("cmi.core.lesson_location", String(page));
    api.LMSCommit("");
    where.textContent = "Page " + page + " (saved)";
  });
  document.getElementById("finish").addEventListener("click", function () {
    api.LMSSetValue("cmi.core.score.raw", "80");
    api.LMSSetValue("cmi.core.score.max", "100");
    api.LMSSetValue("cmi.core.lesson_status", "passed");
    api.LMSFinish("");
    where.textContent = "Finished";
  });
}());
