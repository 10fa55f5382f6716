// Lesson pages: progress events, media position, time on task, workbook and written-task
// autosave (the written task's word count is word-count.js).
// Progressive enhancement only: without this file every lesson still works through
// plain forms, which record the same events on the server.
(function () {
  "use strict";

  var printButtons = document.querySelectorAll("[data-print]");
  Array.prototype.forEach.call(printButtons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  var article = document.getElementById("lesson");
  if (!article || !window.fetch || !window.JSON) { return; }

  var course = article.getAttribute("data-course");
  var lesson = article.getAttribute("data-lesson");
  var kind = article.getAttribute("data-kind");
  var csrf = article.getAttribute("data-csrf");
  var connection = document.getElementById("connection");
  var statusLabel = document.getElementById("lesson-status");
  var STORE = "stepstone-events";
  var HEARTBEAT_MS = 30000;
  var IDLE_MS = 120000;
  // Progress the tablet reports on its own (time on task, the reading place, where a
  // video or PDF is) waits up to this long and goes in one post with whatever else is
  // waiting; a change of state (finished, answered, paused, an activity's result, a
  // draft) goes at once and takes the waiting ones with it. 0: every event at once.
  var BATCH_MS = 1000 * (parseInt(article.getAttribute("data-batch-seconds") || "0", 10) || 0);

  // ---- The event queue -------------------------------------------------------------
  // Events wait here until the server confirms them; a dropped connection only delays
  // them. The queue is kept in sessionStorage (this tab only) so a reload does not lose
  // it; workbook drafts hold the learner's own words and stay in memory only.
  var queue = [];
  try { queue = JSON.parse(window.sessionStorage.getItem(STORE) || "[]"); } catch (e) { queue = []; }
  var sending = false;
  var timer = null;
  var due = 0;  // when the planned post goes (0: none planned)
  var backoff = 2000;
  var offline = false;

  function persist() {
    try {
      var keep = queue.filter(function (e) { return e.type !== "draft"; });
      window.sessionStorage.setItem(STORE, JSON.stringify(keep));
    } catch (e) { /* storage full or disabled: the memory queue still works */ }
  }

  function newId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // `later`: a periodic report that may wait for the next post (see BATCH_MS).
  function add(type, extra, later) {
    var event = { id: newId(), type: type, course: course, lesson: lesson, at: new Date().toISOString() };
    for (var name in extra) { if (Object.prototype.hasOwnProperty.call(extra, name)) { event[name] = extra[name]; } }
    queue.push(event);
    persist();
    schedule(later ? BATCH_MS : 0);
    return event;
  }

  // Plan the next post in `ms`, unless one is already planned sooner.
  function schedule(ms) {
    var at = Date.now() + ms;
    if (timer !== null && due <= at) { return; }
    window.clearTimeout(timer);
    due = at;
    timer = window.setTimeout(function () { timer = null; due = 0; flush(); }, ms);
  }

  function say(text) {
    if (connection && connection.textContent !== text) { connection.textContent = text; }
  }

  function setOffline(value) {
    if (value === offline) { return; }
    offline = value;
    say(value ? connection.getAttribute("data-offline") : connection.getAttribute("data-online"));
    document.dispatchEvent(new CustomEvent("stepstone:connection", { detail: { offline: value } }));
  }

  function forget(ids) {
    var gone = {};
    ids.forEach(function (id) { gone[id] = true; });
    queue = queue.filter(function (e) { return !gone[e.id]; });
    persist();
  }

  function flush(keepalive) {
    if (sending || !queue.length) { return; }
    sending = true;
    window.clearTimeout(timer);
    timer = null;
    due = 0;
    var batch = queue.slice(0, 50);
    var ids = batch.map(function (e) { return e.id; });
    window.fetch("/api/events", {
      method: "POST",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ events: batch })
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        // Signed out: these events belong to someone who left; drop them.
        queue = []; persist();
        return null;
      }
      // Any other 4xx says this batch will never be taken as it is: drop it, so one bad
      // event cannot block the queue. (Events the server refuses one by one come back
      // under "rejected" in a 200 and are dropped below.) 408, 429 and 5xx are worth
      // another try later: back off.
      var status = response.status;
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        forget(ids);
        return null;
      }
      if (!response.ok) { throw new Error("server " + status); }
      return response.json();
    }).then(function (data) {
      setOffline(false);
      backoff = 2000;
      if (data) {
        forget(data.accepted.concat(data.duplicates, Object.keys(data.rejected)));
        var state = data.lessons[course + "/" + lesson];
        if (state && state.status === "done" && statusLabel) {
          statusLabel.textContent = article.getAttribute("data-done-text");
        }
        // The lesson's new state, for the page's other scripts (the activity's bridge).
        if (state) {
          document.dispatchEvent(new CustomEvent("stepstone:state", { detail: state }));
        }
        // A video or a reading can finish the course by itself: say so where the
        // learner is, without taking them away from the page.
        var finished = document.getElementById("course-finished");
        if (finished && data.certificates && data.certificates.length) { finished.hidden = false; }
        document.dispatchEvent(new CustomEvent("stepstone:sent", { detail: { ids: ids } }));
      }
      sending = false;
      if (queue.length) { schedule(0); }
    }).catch(function () {
      sending = false;
      setOffline(true);
      backoff = Math.min(backoff * 2, 60000);
      schedule(backoff);
    });
  }

  window.addEventListener("online", function () { schedule(0); });
  window.addEventListener("pagehide", function () { flush(true); });
  // A tablet put to sleep or switched to another page may never come back to this one:
  // what waits goes now.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flush(true); }
  });
  var signout = document.getElementById("signout-form");
  if (signout) {
    signout.addEventListener("submit", function () {
      try { window.sessionStorage.removeItem(STORE); } catch (e) { /* ignore */ }
    });
  }
  if (queue.length) { schedule(500); }

  // Other scripts of the page (the interactive lesson's bridge) record events through
  // this one queue; they name only the type and its data, never the course or lesson.
  document.addEventListener("stepstone:record", function (e) {
    var detail = e.detail || {};
    if (detail.type === "completed" || detail.type === "scorm" || detail.type === "h5p") {
      add(detail.type, { data: detail.data || {} });
    }
  });

  // ---- Time on task --------------------------------------------------------------
  // A heartbeat every 30 s, only while the page is visible and the learner did
  // something in the last two minutes (or media is playing). The server bounds it too.
  var lastInput = Date.now();
  var lastBeat = Date.now();
  var playing = false;
  ["pointerdown", "keydown", "scroll", "input", "touchstart"].forEach(function (name) {
    window.addEventListener(name, function () { lastInput = Date.now(); }, { passive: true });
  });
  window.setInterval(function () {
    var now = Date.now();
    var seconds = Math.min(60, Math.round((now - lastBeat) / 1000));
    lastBeat = now;
    if (document.visibilityState === "visible" && (playing || now - lastInput < IDLE_MS)) {
      add("heartbeat", { seconds: seconds }, true);
    }
  }, HEARTBEAT_MS);

  // ---- Reading: reaching the end counts as done ------------------------------------
  var end = document.getElementById("lesson-end");
  var opened = Date.now();
  if (kind === "reading" && end && "IntersectionObserver" in window &&
      article.getAttribute("data-status") !== "done") {
    var seen = false;
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting || seen) { return; }
        var wait = Math.max(0, 10000 - (Date.now() - opened));
        window.setTimeout(function () {
          if (seen) { return; }
          seen = true;
          observer.disconnect();
          add("completed", { data: { method: "reached-end" } });
        }, wait);
      });
    });
    observer.observe(end);
  }

  // ---- Reading: the place to come back to -------------------------------------------
  // The place is the number of the first block (paragraph, heading, item, note) still on
  // screen, not a pixel offset: it stays right when the text size or the tablet changes.
  // Kept by the server as the lesson's position, like a video's, and restored on return
  // (a link to an anchor, such as a footnote, wins over it).
  if (kind === "reading") {
    var blocks = article.querySelectorAll(".lesson-text p, .lesson-text h1, .lesson-text h2, " +
      ".lesson-text h3, .lesson-text h4, .lesson-text li, .lesson-text blockquote, " +
      ".lesson-text pre, .lesson-text table, .lesson-text img");
    var place = parseInt(article.getAttribute("data-position") || "0", 10) || 0;
    if (place > 0 && place < blocks.length && !window.location.hash) {
      blocks[place].scrollIntoView({ block: "start" });
    }
    var placeSent = place;
    var placeTimer = null;
    var firstVisible = function () {
      for (var i = 0; i < blocks.length; i++) {
        if (blocks[i].getBoundingClientRect().bottom > 0) { return i; }
      }
      return 0;
    };
    var reportPlace = function () {
      var now = firstVisible();
      if (now === placeSent) { return; }
      placeSent = now;
      add("progressed", { position: now, duration: blocks.length }, true);
    };
    window.addEventListener("scroll", function () {
      window.clearTimeout(placeTimer);
      placeTimer = window.setTimeout(reportPlace, 1500);
    }, { passive: true });
    window.addEventListener("pagehide", function () { reportPlace(); flush(true); });
  }

  // ---- Video and audio: position and what was played -----------------------------
  var player = document.getElementById("player");
  if (player) {
    var lastSent = 0;
    var start = parseFloat(player.getAttribute("data-start") || "0");
    var playedRanges = function () {
      var ranges = [];
      for (var i = 0; i < player.played.length && i < 200; i++) {
        ranges.push([player.played.start(i), player.played.end(i)]);
      }
      return ranges;
    };
    var report = function (force) {
      var now = Date.now();
      if (!force && now - lastSent < 10000) { return; }
      if (!isFinite(player.duration) || player.duration <= 0) { return; }
      lastSent = now;
      add("progressed", {
        position: Math.max(0, player.currentTime),
        duration: player.duration,
        watched: playedRanges()
      }, !force);
    };
    var length = document.getElementById("media-length");
    player.addEventListener("loadedmetadata", function () {
      if (length && isFinite(player.duration) && player.duration > 0) {
        var total = Math.floor(player.duration);  // as the player itself shows it
        var clock = Math.floor(total / 60) + ":" + ("0" + (total % 60)).slice(-2);
        length.textContent = "· " + length.getAttribute("data-template").replace("%(time)s", clock);
      }
      if (start > 0 && player.currentTime < 1 && start < player.duration - 2) {
        player.currentTime = start;
      }
    });
    player.addEventListener("play", function () { playing = true; });
    player.addEventListener("timeupdate", function () { report(false); });
    player.addEventListener("pause", function () { playing = false; report(true); });
    player.addEventListener("seeked", function () { report(true); });
    player.addEventListener("ended", function () { playing = false; report(true); });
    // Tablet hours end (app.js): stop where the learner is and keep that place.
    document.addEventListener("stepstone:closing", function () {
      if (!player.paused) { player.pause(); } else { report(true); }
    });
  }

  // ---- Other players (pdf-lesson.js): where the learner is, as a "progressed" event ----
  document.addEventListener("stepstone:progress", function (e) {
    add("progressed", { position: e.detail.position, duration: e.detail.duration }, !e.detail.leaving);
    if (e.detail.leaving) { flush(true); }
  });

  // ---- Workbook and written task: autosave drafts -------------------------------------
  var form = document.getElementById("workbook") || document.getElementById("written-form");
  var autosave = document.getElementById("autosave");
  if (form && autosave) {
    var entry = parseInt(form.getAttribute("data-entry") || "0", 10);
    var pending = null;
    var draftTimer = null;
    var answers = function () {
      var found = {};
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || field.name.indexOf("p-") !== 0) { return; }
        var key = field.name.slice(2);
        if (field.type === "checkbox") {
          if (!found[key]) { found[key] = []; }
          if (field.checked) { found[key].push(field.value); }
        } else if (field.type === "radio") {
          if (field.checked) { found[key] = parseInt(field.value, 10); }
          else if (!(key in found)) { found[key] = ""; }
        } else {
          found[key] = field.value;
        }
      });
      return found;
    };
    // The prompts this page labels "only you": the server keeps what is written under
    // them private even if a newer course version has gone live meanwhile.
    var shownPrivate = function () {
      return Array.prototype.filter.call(form.elements, function (field) {
        return field.name === "shown_private";
      }).map(function (field) { return field.value; });
    };
    var saveDraft = function () {
      queue = queue.filter(function (e) { return e.type !== "draft"; });
      pending = add("draft", { data: { answers: answers(), entry: entry, shown_private: shownPrivate() } });
      autosave.textContent = autosave.getAttribute("data-saving");
    };
    form.addEventListener("input", function () {
      window.clearTimeout(draftTimer);
      draftTimer = window.setTimeout(saveDraft, 2000);
    });
    form.addEventListener("change", function () {
      window.clearTimeout(draftTimer);
      draftTimer = window.setTimeout(saveDraft, 800);
    });
    form.addEventListener("submit", function () {
      // The form carries every answer; queued drafts would only repeat them.
      window.clearTimeout(draftTimer);
      queue = queue.filter(function (e) { return e.type !== "draft"; });
      persist();
    });
    document.addEventListener("stepstone:sent", function (e) {
      if (pending && e.detail.ids.indexOf(pending.id) >= 0) {
        pending = null;
        // In the page's language and the facility's time zone, as the server writes
        // times, whatever the tablet is set to.
        var options = { hour: "2-digit", minute: "2-digit", timeZone: autosave.getAttribute("data-time-zone") || "UTC" };
        var time;
        try { time = new Date().toLocaleTimeString(document.documentElement.lang || [], options); }
        catch (e) { time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
        autosave.textContent = autosave.getAttribute("data-saved").replace("%(time)s", time);
      }
    });
    document.addEventListener("stepstone:closing", function () {
      window.clearTimeout(draftTimer);
      saveDraft();
    });
    document.addEventListener("stepstone:connection", function (e) {
      if (e.detail.offline && pending) { autosave.textContent = autosave.getAttribute("data-waiting"); }
    });
  }
}());
