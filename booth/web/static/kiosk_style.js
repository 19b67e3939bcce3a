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

  var load = window.boothChoice({ read: "/api/styles", change: "/api/style", back: "ArrowLeft",
                                   next: "ArrowRight", event: "booth:style", render: render });

  load();
  setInterval(load, 30000);  // the model may finish loading after the page (more styles then)
})();
