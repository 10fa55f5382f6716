// Read-aloud: the Listen control (templates/learn/_listen.html).
// The page is read as a list of units in reading order: the sentences the server marked
// in lesson text (<span data-s="N"> inside [data-readable]) and, elsewhere in <main>, each
// text block (heading, paragraph, list item, question, choice ...). A lesson with
// narration plays its audio for its marked sentences, following the WebVTT cues "sN";
// everything else is spoken by the browser's own speech synthesis when it has a voice for
// the language. The sentence being read is highlighted; focus never moves and nothing is
// announced, so a screen reader is not disturbed.
(function () {
  "use strict";

  var bar = document.querySelector("[data-listen]");
  if (!bar) { return; }
  var scope = document.getElementById("main") || document.body;
  var playButton = bar.querySelector("[data-listen-play]");
  var playLabel = bar.querySelector("[data-listen-label]");
  var backButton = bar.querySelector("[data-listen-back]");
  var rateButton = bar.querySelector("[data-listen-rate]");
  var audio = bar.querySelector("[data-listen-audio]");
  var synth = window.speechSynthesis || null;
  var RATES = [0.75, 1, 1.25, 1.5];
  var RATE_KEY = "stepstone-listen-rate";
  var BLOCKS = "h1, h2, h3, h4, h5, h6, p, li, dt, dd, legend, label, figcaption, th, td, summary";
  var SKIP = "[data-listen], [data-listen-skip], [hidden], [aria-hidden='true'], .visually-hidden, nav, form.text-size, .reading-tools, .filters, .breadcrumb";

  var units = [];
  var current = -1;
  var playing = false;
  var paused = false;
  var speaking = 0; // bumped on every utterance, so a cancelled one's "end" is ignored
  var rate = 1;
  try { rate = Number(window.localStorage.getItem(RATE_KEY)) || 1; } catch (e) { rate = 1; }
  if (RATES.indexOf(rate) < 0) { rate = 1; }

  // ---- What there is to read ----------------------------------------------------------
  function collect() {
    var found = [];
    var byKey = {};
    var containers = [];
    var nodes = scope.querySelectorAll("[data-s], " + BLOCKS);
    Array.prototype.forEach.call(nodes, function (el) {
      if (el.closest(SKIP)) { return; }
      var folded = el.closest("details:not([open])");
      if (folded && !el.closest("summary")) { return; } // what a closed fold hides is not read
      var readable = el.closest("[data-readable]");
      if (el.hasAttribute("data-s")) {
        if (!readable) { return; }
        var c = containers.indexOf(readable);
        if (c < 0) { containers.push(readable); c = containers.length - 1; }
        var key = c + ":" + el.getAttribute("data-s");
        if (byKey[key]) { byKey[key].els.push(el); return; }
        byKey[key] = {
          els: [el], sentence: el.getAttribute("data-s"),
          narrated: readable.hasAttribute("data-narrated")
        };
        found.push(byKey[key]);
        return;
      }
      if (readable || el.querySelector(BLOCKS)) { return; } // the server marked it, or not a leaf
      if (!el.textContent.trim()) { return; }
      found.push({ els: [el], sentence: null, narrated: false });
    });
    found.forEach(function (unit) {
      unit.text = unit.els.map(function (el) { return el.textContent; }).join(" ").replace(/\s+/g, " ").trim();
      var withLang = unit.els[0].closest("[lang]");
      unit.lang = withLang ? withLang.getAttribute("lang") : bar.getAttribute("data-lang");
    });
    return found;
  }

  // ---- Voices ---------------------------------------------------------------------------
  function voiceFor(lang) {
    if (!synth) { return null; }
    var want = (lang || "").toLowerCase().split("-")[0];
    var voices = synth.getVoices();
    for (var i = 0; i < voices.length; i += 1) {
      if (voices[i].lang.toLowerCase().split(/[-_]/)[0] === want) { return voices[i]; }
    }
    return null;
  }

  function canSpeak(unit) { return !!voiceFor(unit.lang); }
  function canPlay(unit) { return (unit.narrated && audio && cueFor(unit)) || canSpeak(unit); }

  // ---- Highlight --------------------------------------------------------------------------
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function highlight(index) {
    Array.prototype.forEach.call(scope.querySelectorAll(".listen-now"), function (el) {
      el.classList.remove("listen-now");
    });
    current = index;
    var unit = units[index];
    if (!unit) { return; }
    unit.els.forEach(function (el) { el.classList.add("listen-now"); });
    var box = unit.els[0].getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) {
      unit.els[0].scrollIntoView({ block: "center", behavior: reduceMotion ? "auto" : "smooth" });
    }
  }

  // ---- Narration audio ------------------------------------------------------------------
  var track = null;
  if (audio && audio.textTracks && audio.textTracks.length) {
    track = audio.textTracks[0];
    track.mode = "hidden"; // load the cues without drawing them
  }

  function cueFor(unit) {
    if (!track || !track.cues || !unit.sentence) { return null; }
    return track.cues.getCueById("s" + unit.sentence);
  }

  function unitOfCue(cue) {
    for (var i = 0; i < units.length; i += 1) {
      if (units[i].narrated && "s" + units[i].sentence === cue.id) { return i; }
    }
    return -1;
  }

  function followAudio() {
    if (!playing || !track || !track.activeCues) { return; }
    var active = track.activeCues;
    if (active.length) {
      var index = unitOfCue(active[active.length - 1]);
      if (index >= 0 && index !== current) { highlight(index); }
    }
  }

  function afterNarration() {
    var last = -1;
    units.forEach(function (unit, i) { if (unit.narrated) { last = i; } });
    return last + 1;
  }

  if (audio) {
    audio.addEventListener("timeupdate", followAudio);
    if (track) { track.addEventListener("cuechange", followAudio); }
    audio.addEventListener("ended", function () {
      if (playing) { playFrom(afterNarration()); }
    });
  }

  // ---- Playing ----------------------------------------------------------------------------
  function label() {
    playLabel.textContent = bar.getAttribute(playing ? "data-pause" : (paused ? "data-resume" : "data-play"));
  }

  function stopAll() {
    speaking += 1;
    if (synth) { synth.cancel(); }
    if (audio && !audio.paused) { audio.pause(); }
  }

  function finish() {
    stopAll();
    playing = false;
    paused = false;
    highlight(-1);
    label();
  }

  function playFrom(index) {
    while (index < units.length && !canPlay(units[index])) { index += 1; }
    if (index >= units.length) { finish(); return; }
    var unit = units[index];
    highlight(index);
    var cue = unit.narrated && audio ? cueFor(unit) : null;
    if (cue) {
      speaking += 1;
      if (synth) { synth.cancel(); }
      audio.playbackRate = rate;
      if (Math.abs(audio.currentTime - cue.startTime) > 0.25) { audio.currentTime = cue.startTime; }
      var started = audio.play();
      if (started && started.catch) { started.catch(function () { finish(); }); }
      return;
    }
    if (audio && !audio.paused) { audio.pause(); }
    speak(index);
  }

  function speak(index) {
    var unit = units[index];
    var mine = (speaking += 1);
    synth.cancel();
    var utterance = new window.SpeechSynthesisUtterance(unit.text);
    utterance.lang = unit.lang;
    utterance.voice = voiceFor(unit.lang);
    utterance.rate = rate;
    utterance.onend = function () {
      if (mine === speaking && playing) { playFrom(index + 1); }
    };
    utterance.onerror = utterance.onend;
    synth.speak(utterance);
  }

  function play() {
    playing = true;
    paused = false;
    label();
    if (current >= 0 && units[current] && units[current].narrated && audio && audio.paused && cueFor(units[current])) {
      audio.playbackRate = rate;
      audio.play();
      return;
    }
    playFrom(current >= 0 ? current : 0);
  }

  function pause() {
    stopAll();
    playing = false;
    paused = true;
    label();
  }

  playButton.addEventListener("click", function () {
    if (playing) { pause(); } else { play(); }
  });

  backButton.addEventListener("click", function () {
    var target = Math.max(0, current - 1);
    while (target > 0 && !canPlay(units[target])) { target -= 1; }
    if (playing) {
      var unit = units[target];
      var cue = unit && unit.narrated ? cueFor(unit) : null;
      if (cue && audio) { audio.currentTime = cue.startTime; }
      playFrom(target);
    } else {
      highlight(target);
      var c = units[target] && units[target].narrated ? cueFor(units[target]) : null;
      if (c && audio) { audio.currentTime = c.startTime; }
      paused = true;
      label();
    }
  });

  function showRate() {
    var shown = String(rate).replace(".", bar.getAttribute("lang") === "es" || document.documentElement.lang === "es" ? "," : ".") + "×";
    rateButton.textContent = bar.getAttribute("data-speed").replace("%(rate)s", shown);
  }

  rateButton.addEventListener("click", function () {
    rate = RATES[(RATES.indexOf(rate) + 1) % RATES.length];
    try { window.localStorage.setItem(RATE_KEY, String(rate)); } catch (e) { /* not kept: fine */ }
    showRate();
    if (audio) { audio.playbackRate = rate; }
    if (playing && current >= 0 && !(units[current].narrated && cueFor(units[current]))) { speak(current); }
  });

  // ---- Start --------------------------------------------------------------------------------
  function ready() {
    if (playing) { return; }
    units = collect();
    var any = units.some(function (unit) { return canPlay(unit); });
    bar.hidden = !any;
  }

  showRate();
  label();
  ready();
  if (synth && synth.addEventListener) { synth.addEventListener("voiceschanged", ready); }
  if (track) {
    // Cues arrive after the page; the control may only now have something to play.
    var trackElement = audio.querySelector("track");
    if (trackElement) { trackElement.addEventListener("load", ready); }
  }
  window.addEventListener("pagehide", function () { if (synth) { synth.cancel(); } });
}());
