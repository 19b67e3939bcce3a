/* "Try another style" on a photo's page: queue the re-rendering, show its progress,
 * and show the page again (with the new variant) when it is done. Without JavaScript
 * the form posts and comes back to the page. */
(function () {
  "use strict";

  var form = document.getElementById("restyle-form");
  var progress = document.getElementById("restyle-progress");
  if (!form || !window.fetch) { return; }

  function say(text) { progress.hidden = false; progress.textContent = text; }

  function poll(url, label) {
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state === "done") { say(_("%(style)s is ready!", { style: label })); window.location.reload(); return; }
        if (s.state === "failed") { say(s.message ? _(s.message) : _("That did not work; please try again.")); form.hidden = false; return; }
        say(s.state === "running" ? _("Drawing you in %(style)s…", { style: label })
          : s.ahead ? _("Waiting for the booth (%(ahead)s before you)…", { ahead: s.ahead })
          : _("Waiting for the booth…"));
        setTimeout(function () { poll(url, label); }, 1500);
      })
      .catch(function () { setTimeout(function () { poll(url, label); }, 3000); });
  }

  form.addEventListener("click", function (e) {
    var button = e.target.closest("button[name=style]");
    if (!button) { return; }
    e.preventDefault();
    var label = button.textContent.trim();
    form.hidden = true;
    say(_("Sending…"));
    fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ style: button.value })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (!res.ok) { say(res.body.error || _("That did not work.")); form.hidden = false; return; }
      poll(res.body.status, label);
    }).catch(function () { say(_("The booth did not answer; please try again.")); form.hidden = false; });
  });
})();
