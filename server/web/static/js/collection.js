// Title suggestions as the learner types in a collection's search box: asks the
// collection's /suggest address (JSON) and lists the matching titles as links.
(function () {
  "use strict";
  var input = document.getElementById("collection-q");
  var list = document.getElementById("collection-suggestions");
  if (!input || !list) return;
  var timer = null;
  var asked = 0;
  function show(items) {
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.textContent = item.title;
      li.appendChild(a);
      list.appendChild(li);
    });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var text = input.value.trim();
    if (!text) { show([]); return; }
    timer = setTimeout(function () {
      var mine = ++asked;
      fetch(input.dataset.suggest + "?q=" + encodeURIComponent(text), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : {suggestions: []}; })
        .then(function (data) { if (mine === asked) show(data.suggestions || []); })
        .catch(function () { show([]); });
    }, 250);
  });
})();
