/* One guest's choice on the kiosk (the style, the mode): read from the booth, stepped
 * with two arrow keys between photos, and followed when the booth changes it itself.
 * kiosk_style.js and kiosk_moments.js each make one with their own render(). */
window.boothChoice = function (options) {
  "use strict";

  function load() {
    fetch(options.read, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(options.render).catch(function () {});
  }

  function step(by) {
    fetch(options.change, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ step: by })
    }).then(function (r) { return r.json(); }).then(options.render).catch(function () {});
  }

  document.addEventListener("keydown", function (e) {
    if (e.key !== options.back && e.key !== options.next) { return; }
    e.preventDefault();
    if (e.repeat) { return; }
    var state = document.body.getAttribute("data-state");
    if (state !== "idle" && state !== "result") { return; }
    step(e.key === options.next ? 1 : -1);
  });
  document.addEventListener(options.event, function (e) { options.render(e.detail); });
  return load;
};
