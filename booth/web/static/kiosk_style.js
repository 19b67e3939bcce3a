/* The style choice on the kiosk: the current style's label and sample, changed with
 * the ←/→ keys between photos. The booth also changes it from its style button or a
 * long press; kiosk.js passes those "style" events on as "booth:style". */
(function () {
  "use strict";

  var box = document.getElementById("style-choice");
  if (!box) { return; }
  var label = document.getElementById("style-label");
  var sample = document.getElementById("style-sample");

  function render(choice) {
    if (!choice || !choice.styles) { return; }
    var current = choice.styles.filter(function (s) { return s.name === choice.current; })[0];
    box.hidden = choice.styles.length < 2 || !current;
    if (!current) { return; }
    box.setAttribute("data-style", current.name);
    label.textContent = _(current.label);
    sample.hidden = true;
    sample.onload = function () { sample.hidden = false; };
    sample.src = "/styles/" + encodeURIComponent(current.name) + "/sample.jpg";
  }

  function load() {
    fetch("/api/styles", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(render)
      .catch(function () {});
  }

  function step(by) {
    fetch("/api/style", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ step: by })
    }).then(function (r) { return r.json(); }).then(render).catch(function () {});
  }

  document.addEventListener("keydown", function (e) {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") { return; }
    e.preventDefault();
    if (e.repeat) { return; }
    var state = document.body.getAttribute("data-state");
    if (state !== "idle" && state !== "result") { return; }
    step(e.key === "ArrowRight" ? 1 : -1);
  });
  document.addEventListener("booth:style", function (e) { render(e.detail); });

  load();
  setInterval(load, 30000);  // the model may finish loading after the page (more styles then)
})();
