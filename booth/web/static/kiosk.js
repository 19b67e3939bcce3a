/* The kiosk screen: one page, driven by the booth's server-sent events.
 *
 * The daemon publishes "state" events (idle, countdown, capture, process, result,
 * failsafe) and "health" events; this script only shows them. It never reloads:
 * if the daemon restarts, the event stream reconnects by itself and the first
 * events it receives are the current health and state.
 */
(function () {
  "use strict";

  var body = document.body;
  var SCREENS = ["idle", "warming", "resting", "consent", "countdown", "capture", "shot", "burst",
                 "process", "result", "failsafe"];
  /* What a guest reads when a press cannot make a photo (the daemon says why). */
  var TOASTS = {
    busy: _("One at a time — your photo is on its way!"),
    warming: _("Almost ready — the booth is warming up!"),
    camera: _("The camera is resting — please ask the host."),
    model: _("The booth is resting — please ask the host."),
    stuck: _("The anime machine is stuck — please ask the host."),
    disk: _("The booth is resting — please ask the host.")
  };
  var state = "idle";
  /* "ready", "warming" (the model loads) or "resting" (camera, model or disk down):
   * while idle, the kiosk invites presses only when it can honour them. */
  var mode = "ready";
  var backToIdleTimer = null;
  var resultBar = document.getElementById("result-bar");

  function $(id) { return document.getElementById(id); }

  function show(name) {
    if (SCREENS.indexOf(name) < 0) { return; }
    state = name;
    body.setAttribute("data-state", name);
    var shown = name === "idle" && mode !== "ready" ? mode : name;
    SCREENS.forEach(function (s) {
      var screen = $("screen-" + s);  // the consent question exists only when the booth asks
      if (screen) { screen.setAttribute("aria-hidden", s === shown ? "false" : "true"); }
    });
    if (wantPreview()) { startPreview(); }
  }

  /* Fall back to idle by ourselves once `until` has passed (a missed event must not
   * leave a guest's photo on screen forever). */
  function returnToIdleAt(untilEpoch, fallbackSeconds, bar) {
    clearTimeout(backToIdleTimer);
    var seconds = untilEpoch ? untilEpoch - Date.now() / 1000 : fallbackSeconds;
    if (!(seconds > 0)) { seconds = fallbackSeconds; }
    bar = bar || resultBar;
    if (bar) {
      bar.style.transition = "none";
      bar.style.transform = "scaleX(1)";
      void bar.offsetWidth;  // restart the CSS transition
      bar.style.transition = "transform " + seconds + "s linear";
      bar.style.transform = "scaleX(0)";
    }
    backToIdleTimer = setTimeout(function () { show("idle"); }, (seconds + 2) * 1000);
  }

  /* [cycle] spoken_countdown: each number said aloud (WAV files rendered at install;
   * data-voice is their folder's URL, absent when the countdown is silent). */
  var voice = body.getAttribute("data-voice");
  function say(number) {
    if (!voice || !(number > 0)) { return; }
    new Audio(voice + number + ".wav").play().catch(function () {});
  }

  function onState(data) {
    clearTimeout(backToIdleTimer);
    if (data.state === "countdown") {
      var count = $("count");
      count.textContent = String(data.seconds_left != null ? data.seconds_left : "");
      say(data.seconds_left);
      count.classList.remove("pop");
      void count.offsetWidth;
      count.classList.add("pop");
    } else if (data.state === "result" && data.photo_id) {
      var base = "/p/" + encodeURIComponent(data.photo_id);
      $("result-anime").src = base + "/anime.jpg";
      $("result-original").src = base + "/original.jpg";
      $("result-qr").src = base + "/qr.svg";
      body.setAttribute("data-photo", data.photo_id);
      returnToIdleAt(data.until, parseFloat(body.getAttribute("data-show-result")) || 12);
    } else if (data.state === "consent") {
      returnToIdleAt(data.until, 10, $("consent-bar"));
    } else if (data.state === "failsafe") {
      // The daemon's sentence, in the kiosk's language (words.js has the daemon's words too).
      $("failsafe-text").textContent = data.message ? _(data.message) : _("Something went wrong. Please try again.");
      returnToIdleAt(data.until, 5);
    }
    show(data.state);
  }

  /* Health switches the idle screen; organisers' details (messages with paths or
   * exceptions) are never shown here: they are on /admin and /healthz. */
  function onHealth(health) {
    // The daemon's own verdict (what a press would meet); the parts' flags otherwise.
    var why = health.not_ready;
    if (why === undefined) {
      var model = health.model || {}, camera = health.camera || {}, disk = health.disk || {};
      why = model.loading ? "warming" : camera.ok === false ? "camera"
        : (model.ok === false || disk.ok === false) ? "model" : null;
    }
    mode = why === "warming" ? "warming" : why ? "resting" : "ready";
    $("resting-title").textContent = why === "camera" ? _("Camera resting")
      : why === "stuck" ? _("Anime machine stuck") : _("Booth resting");
    if (mode !== body.getAttribute("data-mode")) {  // a toast about the old state is stale now
      clearTimeout(toastTimer);
      $("toast").hidden = true;
    }
    body.setAttribute("data-mode", mode);
    if (health.gpio) { body.setAttribute("data-keyboard", health.gpio.real ? "no" : "yes"); }
    show(state);
  }

  /* A photo deleted (by its guest, the host or retention) leaves the screen at once. */
  function onDeleted(data) {
    if (body.getAttribute("data-photo") !== data.photo_id) { return; }
    ["result-anime", "result-original", "result-qr"].forEach(function (id) { $(id).removeAttribute("src"); });
    body.removeAttribute("data-photo");
    if (state === "result") { show("idle"); }
  }

  var toastTimer = null;
  function showToast(reason) {
    if (reason === "busy" && state === "idle") { return; }  // a photo is starting anyway
    var toast = $("toast");
    toast.textContent = TOASTS[reason] || TOASTS.busy;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toast.hidden = true; }, 2500);
  }

  /* --- the event stream, reconnecting with a gentle back-off ------------------ */
  var source = null;
  var retryMs = 1000;

  function connect() {
    source = new EventSource("/events");
    source.addEventListener("open", function () {
      retryMs = 1000;
      body.setAttribute("data-connected", "yes");
      $("connection").hidden = true;
    });
    source.addEventListener("state", function (e) { onState(JSON.parse(e.data).data); });
    source.addEventListener("health", function (e) { onHealth(JSON.parse(e.data).data); });
    source.addEventListener("deleted", function (e) { onDeleted(JSON.parse(e.data).data); });
    source.addEventListener("press_ignored", function (e) {
      showToast(JSON.parse(e.data).data.reason || "busy");
    });
    // Other parts of the screen (print.js) follow these events as DOM events.
    ["state", "print_offer", "print", "printer", "mode", "shot"].forEach(function (kind) {
      source.addEventListener(kind, function (e) {
        document.dispatchEvent(new CustomEvent("booth:" + kind, { detail: JSON.parse(e.data).data }));
      });
    });
    source.addEventListener("preview", function (e) { onPreviewMode(JSON.parse(e.data).data); });
    source.addEventListener("style", function (e) {  // for kiosk_style.js
      document.dispatchEvent(new CustomEvent("booth:style", { detail: JSON.parse(e.data).data }));
    });
    source.addEventListener("error", function () {
      body.setAttribute("data-connected", "no");
      $("connection").hidden = false;
      // The browser retries by itself unless the server answered with an error
      // (e.g. during a restart); then we start a new stream ourselves.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 10000);
      }
    });
  }

  /* --- the live preview: the next frame is asked for when the last has arrived - */
  var preview = $("preview");
  var previewRunning = false;

  /* The guest sees themselves while posing: idle, the consent question, countdowns,
   * between a strip's shots, and during a boomerang's burst. */
  function wantPreview() {
    return state === "idle" || state === "consent" || state === "countdown" || state === "shot" ||
      state === "burst";
  }

  function nextFrame() {
    if (!wantPreview()) { previewRunning = false; return; }
    preview.src = "/preview.jpg?t=" + Date.now();
  }

  function startPreview() {
    if (previewRunning) { return; }
    previewRunning = true;
    nextFrame();
  }

  /* The anime mirror: the booth says when the preview is stylized ("anime") or the
   * plain camera ("plain"); the stylized frames come at up to max_fps, so they are
   * asked for about that often. */
  var previewDelayMs = 40;
  function onPreviewMode(data) {
    var anime = data.mode === "anime";
    body.setAttribute("data-preview", anime ? "anime" : "plain");
    previewDelayMs = anime ? Math.max(5, 1000 / (data.max_fps || 24) - 20) : 40;
  }

  preview.addEventListener("load", function () {
    preview.hidden = false;
    setTimeout(nextFrame, previewDelayMs);
  });
  preview.addEventListener("error", function () {
    preview.hidden = true;
    setTimeout(nextFrame, 1000);
  });

  /* --- Space or Enter takes a photo (the keyboard is the spare button) -------- */
  var lastPress = 0;
  /* While the booth asks for consent, the key acts like the button: a tap is yes
   * (on release), a hold of data-hold-ms is no. */
  var holdMs = parseInt(body.getAttribute("data-hold-ms"), 10) || 1000;
  var consentKeyDown = false;
  var holdTimer = null;
  function isPressKey(e) { return e.key === " " || e.key === "Enter" || e.code === "Space"; }
  function post(url) { fetch(url, { method: "POST", credentials: "same-origin" }).catch(function () {}); }
  document.addEventListener("keydown", function (e) {
    if (!isPressKey(e)) { return; }
    e.preventDefault();
    if (e.repeat) { return; }
    if (state === "consent") {
      consentKeyDown = true;
      holdTimer = setTimeout(function () { consentKeyDown = false; post("/api/cancel"); }, holdMs);
      return;
    }
    if (Date.now() - lastPress < 500) { return; }
    lastPress = Date.now();
    post("/api/trigger");
  });
  document.addEventListener("keyup", function (e) {
    if (!isPressKey(e) || !consentKeyDown) { return; }  // the press that asked is not an answer
    consentKeyDown = false;
    clearTimeout(holdTimer);
    if (state === "consent") { post("/api/trigger"); }
  });

  show("idle");
  connect();
})();
