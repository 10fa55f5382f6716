// A hostile interactive app, written for the sandbox tests. It tries everything an app
// must not be able to do on a learner's tablet and reports, for each attempt, whether it
// got through ("reached") or was stopped ("blocked"), to the parent page by postMessage
// and in its own page. The tests assert every attempt was stopped, and that the app can
// still load its own files.
(function () {
  "use strict";
  // The page is on the other loopback name, same port (the tests' set-up).
  var appHost = location.hostname === "localhost" ? "127.0.0.1" : "localhost";
  var app = location.protocol + "//" + appHost + ":" + location.port;
  var otherCourseFile = app + "/media/__OTHER_SHA__/pic.png";
  var results = {};

  function note(name, reached, detail) {
    results[name] = { reached: !!reached, detail: String(detail || "") };
  }

  function attempt(name, probe) {
    try {
      var value = probe();
      if (value && typeof value.then === "function") {
        return value.then(function (r) { note(name, r[0], r[1]); },
                          function (e) { note(name, false, e); });
      }
      note(name, value[0], value[1]);
    } catch (e) {
      note(name, false, e);
    }
    return Promise.resolve();
  }

  function sent(url, options) {
    // no-cors: a request that leaves at all resolves; only a blocked one rejects.
    return fetch(url, options).then(function (r) { return [true, r.type + " " + r.status]; });
  }

  function image(url) {
    return new Promise(function (resolve) {
      var img = new Image();
      img.onload = function () { resolve([true, "loaded"]); };
      img.onerror = function () { resolve([false, "error"]); };
      img.src = url;
    });
  }

  var probes = [
    attempt("read-cookie", function () {
      return [document.cookie.length > 0, document.cookie];
    }),
    attempt("read-storage", function () {
      return [window.localStorage !== null, "localStorage opened"];
    }),
    attempt("read-csrf-token", function () {
      var lesson = window.parent.document.getElementById("lesson");
      return [!!lesson, lesson ? lesson.getAttribute("data-csrf") : ""];
    }),
    attempt("script-top-page", function () {
      window.top.document.body.setAttribute("data-hacked", "yes");
      return [true, "wrote to the top page"];
    }),
    attempt("post-events-relative", function () {
      return sent("/api/events", { method: "POST", mode: "no-cors", body: "{}" });
    }),
    attempt("post-events-as-learner", function () {
      return sent(app + "/api/events", {
        method: "POST", mode: "no-cors", credentials: "include",
        headers: { "Content-Type": "text/plain" }, body: "{\"events\": []}"
      });
    }),
    attempt("other-course-file", function () { return image(otherCourseFile); }),
    attempt("other-origin-image", function () { return image(app + "/static/favicon.svg?from-app"); }),
    attempt("outside-host", function () {
      return sent("http://outside.invalid/beacon", { mode: "no-cors" });
    }),
    attempt("escape-own-folder", function () {
      // Slashes encoded, so the browser keeps this under the app's own address; the
      // server must still refuse what it names.
      return fetch("..%2f..%2fmedia%2fpic.png").then(function (r) {
        return [r.ok, r.status];
      });
    }),
    attempt("open-window", function () {
      var w = window.open(app + "/learn", "_blank");
      return [!!w, w ? "opened" : "null"];
    }),
    attempt("own-file", function () {
      return fetch("style.css").then(function (r) { return [r.ok, r.status]; });
    }),
    attempt("own-image", function () { return image("star.png"); })
  ];

  Promise.all(probes).then(function () {
    // The form and the navigation go last: if either got through, the frame is gone.
    document.getElementById("results").textContent = JSON.stringify(results);
    window.parent.postMessage({ hostile: results }, "*");
    var form = document.createElement("form");
    form.method = "POST";
    form.action = app + "/signout";
    document.body.appendChild(form);
    try { form.submit(); } catch (e) { /* blocked */ }
    try { window.top.location.href = app + "/account"; } catch (e) { /* blocked */ }
  });
}());
