// The budget game: spread the month's take-home pay over its needs with + and - buttons.
// The budget works when every need has at least its minimum, savings has at least $50,
// and no dollar is left over or overspent; then it tells the lesson page it is done.
(function () {
  "use strict";
  var PAY = 1600;
  var STEP = 25;
  var LINES = [
    { key: "rent", name: "Rent (a shared room)", need: 650 },
    { key: "food", name: "Food", need: 300 },
    { key: "bus", name: "Bus pass", need: 90 },
    { key: "phone", name: "Phone", need: 45 },
    { key: "fees", name: "Court fees and supervision", need: 60 },
    { key: "clothes", name: "Work clothes and boots", need: 0 },
    { key: "fun", name: "Something for you", need: 0 },
    { key: "savings", name: "Savings", need: 50 }
  ];
  var amounts = {};
  var finished = false;
  var box = document.getElementById("lines");

  function dollars(n) { return "$" + n.toLocaleString("en-US"); }
  function spent() {
    return LINES.reduce(function (sum, line) { return sum + amounts[line.key]; }, 0);
  }

  function check() {
    var left = PAY - spent();
    document.getElementById("left").textContent =
      left >= 0 ? "Left to give a job: " + dollars(left) : "Overspent by " + dollars(-left);
    var short = LINES.filter(function (line) { return amounts[line.key] < line.need; });
    var message = document.getElementById("message");
    message.className = "message";
    if (short.length) {
      message.textContent = short[0].name + " needs at least " + dollars(short[0].need) + ".";
    } else if (left < 0) {
      message.textContent = "You planned more than you earn. Take some money off a line.";
    } else if (left > 0) {
      message.textContent = "Every need is covered. Give the last " + dollars(left) +
        " a job: savings is a good one.";
    } else {
      message.className = "message good";
      message.textContent = "Your budget works! Every need is covered and " +
        dollars(amounts.savings) + " goes to savings.";
      if (!finished) {
        finished = true;
        window.parent.postMessage({ stepstone: "done" }, "*");
      }
    }
  }

  function change(line, by, shown) {
    amounts[line.key] = Math.max(0, amounts[line.key] + by);
    shown.textContent = dollars(amounts[line.key]);
    check();
  }

  LINES.forEach(function (line) {
    amounts[line.key] = 0;
    var row = document.createElement("div");
    row.className = "line";
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = line.name;
    if (line.need) {
      var need = document.createElement("span");
      need.className = "need";
      need.textContent = " (at least " + dollars(line.need) + ")";
      name.appendChild(need);
    }
    var shown = document.createElement("span");
    shown.className = "amount";
    shown.setAttribute("aria-live", "polite");
    shown.textContent = dollars(0);
    var less = document.createElement("button");
    less.type = "button";
    less.textContent = "\u2212";
    less.setAttribute("aria-label", "Less for " + line.name);
    less.addEventListener("click", function () { change(line, -STEP, shown); });
    var more = document.createElement("button");
    more.type = "button";
    more.textContent = "+";
    more.setAttribute("aria-label", "More for " + line.name);
    more.addEventListener("click", function () { change(line, STEP, shown); });
    row.appendChild(name);
    row.appendChild(less);
    row.appendChild(shown);
    row.appendChild(more);
    box.appendChild(row);
  });
  check();
}());
