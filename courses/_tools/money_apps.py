"""The interactive parts of the "Money Basics" demo course, written out by make_media.py.

    courses/money-basics/apps/budget/          an HTML5 activity: spread $1,600 over the
                                               month's needs; done when the budget works
    courses/money-basics/scorm/money-traps/    a SCORM 1.2 package, one SCO: four questions,
                                               resumed from suspend_data, passed at 3 of 4

Plain text files from the strings below: the same bytes on every run. The activity tells
the lesson page it is finished with `postMessage({stepstone: "done"})`; the SCO finds the
SCORM 1.2 API the usual way (this window, then its parents) and reports its score.
"""

from __future__ import annotations

from pathlib import Path

STYLE = """\
/* Large, high-contrast controls for shared tablets: every button at least 48 px. */
body { font-family: sans-serif; font-size: 1.15rem; line-height: 1.5; color: #111;
       background: #fff; margin: 0; padding: 1rem; max-width: 40rem; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
button { font-size: 1.15rem; min-height: 48px; min-width: 48px; padding: .4rem .9rem;
         border: 2px solid #1a4f8b; border-radius: 8px; background: #e8f0fa; color: #0b2a4d;
         cursor: pointer; }
button:focus-visible, input:focus-visible { outline: 3px solid #b34700; outline-offset: 2px; }
button.primary { background: #1a4f8b; color: #fff; }
.line { display: flex; align-items: center; gap: .6rem; padding: .4rem 0;
        border-bottom: 1px solid #ccc; flex-wrap: wrap; }
.line .name { flex: 1 1 10rem; }
.line .amount { min-width: 5rem; text-align: right; font-weight: bold; }
.need { color: #444; font-size: .95rem; }
.total { font-size: 1.3rem; font-weight: bold; margin: 1rem 0 .3rem; }
.message { padding: .6rem; border-radius: 6px; background: #f3f3f3; }
.message:empty { padding: 0; background: none; }  /* kept in the page: a live region */
.message.good { background: #e3f4e3; color: #0d4d12; }
fieldset { border: 1px solid #999; border-radius: 8px; margin: 0 0 1rem; padding: .6rem; }
legend { font-weight: bold; padding: 0 .3rem; }
label { display: flex; align-items: center; gap: .6rem; min-height: 48px; }
input[type=radio] { width: 28px; height: 28px; }
"""

BUDGET_HTML = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The budget game</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<h1>The budget game</h1>
<p>Take-home pay this month: <strong>$1,600</strong>. Give every dollar a job.</p>
<div id="lines"></div>
<p class="total" id="left" aria-live="polite"></p>
<p class="message" id="message" role="status"></p>
<script src="budget.js"></script>
</body>
</html>
"""

BUDGET_JS = """\
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
    less.textContent = "\\u2212";
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
"""

MANIFEST = """\
<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="org.stepstone.demo.money-traps" version="1"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>1.2</schemaversion>
  </metadata>
  <organizations default="money-traps">
    <organization identifier="money-traps">
      <title>Spot the money trap</title>
      <item identifier="item-money-traps" identifierref="res-money-traps">
        <title>Spot the money trap</title>
        <adlcp:masteryscore>75</adlcp:masteryscore>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="res-money-traps" type="webcontent" adlcp:scormtype="sco"
      href="index.html">
      <file href="index.html"/>
      <file href="traps.js"/>
      <file href="style.css"/>
    </resource>
  </resources>
</manifest>
"""

TRAPS_HTML = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Spot the money trap</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<h1>Spot the money trap</h1>
<p id="where" role="status">Question 1 of 4</p>
<div id="quiz">
<fieldset>
<legend id="question"></legend>
<div id="choices"></div>
</fieldset>
<button type="button" class="primary" id="answer">Check my answer</button>
</div>
<p class="message" id="feedback" aria-live="polite"></p>
<button type="button" id="next" hidden>Next question</button>
<script src="traps.js"></script>
</body>
</html>
"""

TRAPS_JS = """\
// Spot the money trap: a SCORM 1.2 SCO of four questions. It resumes at the question the
// learner reached (cmi.suspend_data holds the question and the right answers so far),
// commits after each answer, and finishes with the score: passed at 3 right of 4.
(function () {
  "use strict";
  var QUESTIONS = [
    {
      text: "You need $300 before payday. Which choice costs you the least?",
      choices: [
        "A payday loan: $45 fee for two weeks",
        "A small loan from a credit union at 18% a year",
        "A title loan on your car"
      ],
      right: 1,
      why: "A $45 fee for two weeks on $300 is close to 400% a year." +
        " A credit union loan costs a few dollars."
    },
    {
      text: "What is the cheapest way to get your paycheck into cash?",
      choices: [
        "A check-cashing store",
        "A prepaid card with a monthly fee",
        "Direct deposit into a free bank or credit union account"
      ],
      right: 2,
      why: "Check cashing can cost $20 or more per check. A free account costs nothing."
    },
    {
      text: "A store offers a $600 TV for $25 a week, no credit check, for 2 years. What is it?",
      choices: [
        "A good deal: small payments",
        "A trap: you would pay $2,600 for a $600 TV",
        "The same as saving for it"
      ],
      right: 1,
      why: "104 weeks at $25 is $2,600. Saving $25 a week buys the TV in 24 weeks."
    },
    {
      text: "A company asks $99 up front to \\"erase\\" your bad credit. What should you do?",
      choices: [
        "Pay: it is fast",
        "Say no, and get your free credit reports to fix mistakes yourself",
        "Give them your Social Security number so they can check"
      ],
      right: 1,
      why: "No one can erase true late payments. Asking for money up front" +
        " for credit repair is against the law."
    }
  ];
  var PASS = 3;

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
  var feedback = document.getElementById("feedback");
  var next = document.getElementById("next");
  var answer = document.getElementById("answer");
  if (!api) { where.textContent = "This activity needs the learning site to run."; return; }
  api.LMSInitialize("");

  // suspend_data: "q=<index of the question>;r=<right answers so far>"
  var saved = {};
  api.LMSGetValue("cmi.suspend_data").split(";").forEach(function (part) {
    var pair = part.split("=");
    if (pair.length === 2) { saved[pair[0]] = parseInt(pair[1], 10) || 0; }
  });
  var current = Math.min(saved.q || 0, QUESTIONS.length - 1);
  var right = saved.r || 0;
  if (api.LMSGetValue("cmi.core.lesson_status") === "not attempted") {
    api.LMSSetValue("cmi.core.lesson_status", "incomplete");
  }

  function save() {
    api.LMSSetValue("cmi.suspend_data", "q=" + current + ";r=" + right);
    api.LMSSetValue("cmi.core.lesson_location", String(current + 1));
    api.LMSCommit("");
  }

  function show() {
    var q = QUESTIONS[current];
    where.textContent = "Question " + (current + 1) + " of " + QUESTIONS.length;
    document.getElementById("question").textContent = q.text;
    var choices = document.getElementById("choices");
    choices.textContent = "";
    q.choices.forEach(function (text, i) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "radio";
      input.name = "choice";
      input.value = String(i);
      label.appendChild(input);
      label.appendChild(document.createTextNode(text));
      choices.appendChild(label);
    });
    feedback.textContent = "";
    answer.hidden = false;
    next.hidden = true;
  }

  function finish() {
    var score = Math.round(right / QUESTIONS.length * 100);
    api.LMSSetValue("cmi.core.score.raw", String(score));
    api.LMSSetValue("cmi.core.score.min", "0");
    api.LMSSetValue("cmi.core.score.max", "100");
    api.LMSSetValue("cmi.core.lesson_status", right >= PASS ? "passed" : "failed");
    api.LMSSetValue("cmi.suspend_data", "");
    api.LMSFinish("");
    document.getElementById("quiz").hidden = true;
    next.hidden = true;
    where.textContent = right + " of " + QUESTIONS.length + " right";
    if (right >= PASS) {
      feedback.textContent = "You passed. You know the traps: keep your money for your plans.";
    } else {
      // The attempt is over; opening the lesson again starts a new one.
      feedback.textContent = "Not passed yet. Read the answers again, then open this" +
        " lesson again to try again.";
    }
  }

  // A click, not a form: the sandbox does not let a lesson submit forms.
  answer.addEventListener("click", function () {
    var picked = document.querySelector("input[name=choice]:checked");
    if (!picked) { feedback.textContent = "Choose an answer first."; return; }
    var q = QUESTIONS[current];
    var good = parseInt(picked.value, 10) === q.right;
    if (good) { right += 1; }
    feedback.textContent = (good ? "Right. " : "Not quite. ") + q.why;
    answer.hidden = true;
    if (current + 1 < QUESTIONS.length) {
      current += 1;
      save();
      next.hidden = false;
      next.focus();
    } else {
      finish();
    }
  });
  next.addEventListener("click", show);
  show();
}());
"""

FILES = {
    "apps/budget/index.html": BUDGET_HTML,
    "apps/budget/budget.js": BUDGET_JS,
    "apps/budget/style.css": STYLE,
    "scorm/money-traps/imsmanifest.xml": MANIFEST,
    "scorm/money-traps/index.html": TRAPS_HTML,
    "scorm/money-traps/traps.js": TRAPS_JS,
    "scorm/money-traps/style.css": STYLE,
}


def make_money_apps(course_dir: Path) -> list[Path]:
    """Write the activity and the SCORM package into `course_dir`; returns the files."""
    outs = []
    for name, text in FILES.items():
        path = course_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        outs.append(path)
    return outs
