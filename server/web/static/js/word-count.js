// A written task's live word count beside the word guide (guidance, never a wall): the
// course's written lessons and lesson plans' writing tasks. Words as the server counts
// them: "don't" and "part-time" are one word each.
(function () {
  "use strict";
  var writing = document.getElementById("p-text");
  var wordCount = document.getElementById("word-count");
  if (!writing || !wordCount) { return; }
  var countWords = function () {
    var words = (writing.value.match(/[\p{L}\p{N}_]+(?:['\u2019-][\p{L}\p{N}_]+)*/gu) || []).length;
    var low = parseInt(writing.getAttribute("data-min-words") || "0", 10);
    var high = parseInt(writing.getAttribute("data-max-words") || "0", 10);
    var text = words === 1 ? wordCount.getAttribute("data-template-one")
      : wordCount.getAttribute("data-template").replace("%(count)s", String(words));
    if (low && words < low) { text += " " + wordCount.getAttribute("data-low"); }
    if (high && words > high) { text += " " + wordCount.getAttribute("data-high"); }
    wordCount.textContent = text;
  };
  writing.addEventListener("input", countWords);
  countWords();
}());
