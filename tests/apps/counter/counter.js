// A small well-behaved app: after three presses it tells the page it is done.
(function () {
  "use strict";
  var n = 0;
  document.getElementById("count").addEventListener("click", function () {
    n += 1;
    document.getElementById("n").textContent = String(n);
    if (n === 3) { window.parent.postMessage({ stepstone: "done" }, "*"); }
  });
}());
