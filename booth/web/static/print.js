/* The kiosk's print box. kiosk.js passes the booth's "state", "print_offer", "print"
 * and "printer" events on as DOM events ("booth:print" ...); this script only shows
 * them: the Print offer on the result screen (ask mode: the button, Enter or this
 * Print button prints, nothing after the offer's time), then the guest's print in
 * plain words until it is done. */
(function () {
  "use strict";

  var box = document.getElementById("print-box");
  var text = document.getElementById("print-text");
  var button = document.getElementById("print-button");
  if (!box) { return; }
  var offerTimer = null;
  var hideTimer = null;
  var followed = null;  // the photo id of the guest's print being followed
  var printerMessage = "";
  var followedState = "";

  function say(message, tone, hideAfterS) {
    clearTimeout(hideTimer);
    text.textContent = message;
    box.setAttribute("data-tone", tone || "ok");
    box.hidden = false;
    if (hideAfterS) { hideTimer = setTimeout(hide, hideAfterS * 1000); }
  }

  function hide() {
    box.hidden = true;
    button.hidden = true;
  }

  function endOffer() {
    clearTimeout(offerTimer);
    if (!button.hidden) { hide(); }
  }

  function askHost(message) { return _("%(problem)s — please ask the host.", { problem: _(message) }); }

  function onOffer(data) {
    if (data.budget_left === 0) { return; }
    followed = null;
    say(_("Want it on paper? Press the button again!"), "ok");
    button.hidden = false;
    var seconds = (data.until || 0) - Date.now() / 1000;
    clearTimeout(offerTimer);
    offerTimer = setTimeout(endOffer, Math.max(1, seconds) * 1000);
  }

  function onPrint(data) {
    var job = data.job;
    if (data.state === "refused") {
      clearTimeout(offerTimer);
      button.hidden = true;
      say(data.message ? _(data.message) : _("No more prints, sorry."), "bad", 6);
      return;
    }
    if (!job || (job.source !== "guest" && job.source !== "auto")) { return; }
    clearTimeout(offerTimer);
    button.hidden = true;
    followed = job.photo_id;
    showJob(job.state, job.message);
  }

  function showJob(state, message) {
    followedState = state;
    var problem = message || printerMessage;
    if (state === "queued" || state === "printing") {
      if (problem) { say(askHost(problem), "bad"); } else { say(state === "printing" ? _("Printing your photo…") : _("Your photo is next in the printer…"), "ok"); }
    } else if (state === "held") {
      say(askHost(problem || _("The printer is paused")), "bad");
    } else if (state === "done") {
      followed = null;
      say(_("Your print is ready — take it from the printer!"), "ok", 8);
    } else if (state === "failed") {
      followed = null;
      say(askHost(_("The print did not work")), "bad", 10);
    } else {
      followed = null;
      hide();
    }
  }

  function onPrinter(data) {
    printerMessage = data.ok ? "" : (data.message || "");
    if (followed && ["queued", "held", "printing"].indexOf(followedState) >= 0) {
      showJob(followedState, "");
    }
  }

  function onState(data) {
    if (data.state !== "result") { endOffer(); }
  }

  button.addEventListener("click", function () {
    fetch("/api/trigger", { method: "POST", credentials: "same-origin" }).catch(function () {});
  });
  document.addEventListener("booth:print_offer", function (e) { onOffer(e.detail || {}); });
  document.addEventListener("booth:print", function (e) { onPrint(e.detail || {}); });
  document.addEventListener("booth:printer", function (e) { onPrinter(e.detail || {}); });
  document.addEventListener("booth:state", function (e) { onState(e.detail || {}); });
})();
