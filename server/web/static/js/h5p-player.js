// The H5P player inside the sandbox: h5p-standalone (vendored from npm) runs the lesson's
// H5P folder, served under the same address as this page; every xAPI statement it makes
// goes to the lesson page by postMessage, which checks it and records it. No session, no
// network outside the lesson's own files.
(function () {
  "use strict";
  // The sandbox's origin is opaque: reading localStorage throws, and H5P reads it as it
  // starts. It gets a store in memory instead (nothing is kept between visits).
  function memoryStorage() {
    var items = {};
    return {
      getItem: function (k) { return Object.prototype.hasOwnProperty.call(items, k) ? items[k] : null; },
      setItem: function (k, v) { items[k] = String(v); },
      removeItem: function (k) { delete items[k]; },
      clear: function () { items = {}; },
      key: function (i) { return Object.keys(items)[i] || null; },
      get length() { return Object.keys(items).length; }
    };
  }
  try { void window.localStorage; } catch (e) {
    Object.defineProperty(window, "localStorage", { value: memoryStorage(), configurable: true });
  }
  var container = document.getElementById("h5p-container");
  var options = {
    h5pJsonPath: "..",
    frameJs: "h5p/frame.bundle.js",
    frameCss: "h5p/styles/h5p.css",
    // In the page itself: a frame inside the sandbox would get an origin of its own, and
    // H5P could not reach it.
    embedType: "div",
    frame: false,
    copyright: false,
    export: false,
    icon: false
    // No `user`: H5P would then load and save its state through URLs of its own. Its
    // statements name an anonymous actor; the server knows who the learner is.
  };
  new window.H5PStandalone.H5P(container, options).then(function () {
    window.H5P.externalDispatcher.on("xAPI", function (event) {
      window.parent.postMessage({ stepstone: "xapi", statement: event.data.statement }, "*");
    });
  });
}());
