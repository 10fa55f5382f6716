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
      text: "A company asks $99 up front to \"erase\" your bad credit. What should you do?",
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
