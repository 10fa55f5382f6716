// The grading page: the rubric's total, computed as the educator picks a level for each
// criterion. The server computes it again from the levels when the grade is saved.
(function () {
  "use strict";
  var form = document.querySelector(".rubric-form");
  var total = document.getElementById("rubric-total");
  if (!form || !total) { return; }
  var pass = parseFloat(total.getAttribute("data-pass-mark")) || 0;
  function update() {
    var sum = 0;
    var picked = form.querySelectorAll("input[data-points]:checked");
    Array.prototype.forEach.call(picked, function (input) {
      sum += parseFloat(input.getAttribute("data-points")) || 0;
    });
    sum = Math.round(sum * 100) / 100;
    var text = total.getAttribute("data-template")
      .replace("%(total)s", String(sum)).replace("%(max)s", total.getAttribute("data-max"));
    text += " " + total.getAttribute(sum >= pass ? "data-pass" : "data-fail");
    total.textContent = text;
  }
  form.addEventListener("change", update);
  if (form.querySelector("input[data-points]:checked")) { update(); }
}());
