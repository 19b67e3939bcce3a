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
  var SCREENS = ["idle", "countdown", "capture", "process", "result", "failsafe"];
  var PROBLEMS = {
    camera: "The camera is not working",
    model: "The anime model is not ready",
    gpio: "The button is not connected: press Space to take a photo",
    disk: "The booth's disk is full: new photos cannot be saved"
  };
  var state = "idle";
  var backToIdleTimer = null;
  var resultBar = document.getElementById("result-bar");

  function $(id) { return document.getElementById(id); }

  function show(name) {
    if (SCREENS.indexOf(name) < 0) { return; }
    state = name;
    body.setAttribute("data-state", name);
    SCREENS.forEach(function (s) {
      $("screen-" + s).setAttribute("aria-hidden", s === name ? "false" : "true");
    });
    if (name === "idle" || name === "countdown") { startPreview(); }
  }

  /* Fall back to idle by ourselves once `until` has passed (a missed event must not
   * leave a guest's photo on screen forever). */
  function returnToIdleAt(untilEpoch, fallbackSeconds) {
    clearTimeout(backToIdleTimer);
    var seconds = untilEpoch ? untilEpoch - Date.now() / 1000 : fallbackSeconds;
    if (!(seconds > 0)) { seconds = fallbackSeconds; }
    if (resultBar) {
      resultBar.style.transition = "none";
      resultBar.style.transform = "scaleX(1)";
      void resultBar.offsetWidth;  // restart the CSS transition
      resultBar.style.transition = "transform " + seconds + "s linear";
      resultBar.style.transform = "scaleX(0)";
    }
    backToIdleTimer = setTimeout(function () { show("idle"); }, (seconds + 2) * 1000);
  }

  function onState(data) {
    clearTimeout(backToIdleTimer);
    if (data.state === "countdown") {
      var count = $("count");
      count.textContent = String(data.seconds_left != null ? data.seconds_left : "");
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
    } else if (data.state === "failsafe") {
      $("failsafe-text").textContent = data.message || "Something went wrong. Please try again.";
      returnToIdleAt(data.until, 5);
    }
    show(data.state);
  }

  function onHealth(health) {
    var lines = [];
    Object.keys(PROBLEMS).forEach(function (part) {
      var info = health[part];
      if (info && info.ok === false) {
        lines.push(PROBLEMS[part] + (info.message ? " (" + info.message + ")" : "") + ".");
      }
    });
    var box = $("problems");
    box.textContent = "";
    lines.forEach(function (line) {
      var p = document.createElement("p");
      p.textContent = line;
      box.appendChild(p);
    });
    box.hidden = lines.length === 0;
    body.classList.toggle("camera-down", !!(health.camera && health.camera.ok === false));
  }

  var toastTimer = null;
  function showToast() {
    if (state === "idle") { return; }  // a press while idle starts a photo: nothing to explain
    var toast = $("toast");
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toast.hidden = true; }, 2000);
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
    source.addEventListener("press_ignored", function () { showToast(); });
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

  function wantPreview() { return state === "idle" || state === "countdown"; }

  function nextFrame() {
    if (!wantPreview()) { previewRunning = false; return; }
    preview.src = "/preview.jpg?t=" + Date.now();
  }

  function startPreview() {
    if (previewRunning) { return; }
    previewRunning = true;
    nextFrame();
  }

  preview.addEventListener("load", function () {
    preview.hidden = false;
    setTimeout(nextFrame, 40);
  });
  preview.addEventListener("error", function () {
    preview.hidden = true;
    setTimeout(nextFrame, 1000);
  });

  /* --- Space or Enter takes a photo (the keyboard is the spare button) -------- */
  var lastPress = 0;
  document.addEventListener("keydown", function (e) {
    if (e.key !== " " && e.key !== "Enter" && e.code !== "Space") { return; }
    e.preventDefault();
    if (e.repeat || Date.now() - lastPress < 500) { return; }
    lastPress = Date.now();
    fetch("/api/trigger", { method: "POST", credentials: "same-origin" }).catch(function () {});
  });

  show("idle");
  connect();
})();
