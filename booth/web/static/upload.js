/* The upload page: send the chosen photos one at a time, show each one's progress,
 * wait for the booth, then show the anime result with its link and QR code.
 * The server has the last word on every check; this only saves phones a pointless send. */
(function () {
  "use strict";

  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var inputs = [document.getElementById("camera"), document.getElementById("library")];
  var chosen = document.getElementById("chosen");
  var list = document.getElementById("uploads");
  var sendButton = document.getElementById("send");
  var pin = document.getElementById("pin");
  var consent = document.getElementById("consent");  // [privacy] consent = "ask"
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
  var POLL_MS = 1000;
  var waiting = [];   // items chosen and not sent yet
  var busy = false;
  // Choosing a photo sends it: a "Send" button is only needed while a PIN is missing.
  sendButton.hidden = !pin && !consent;
  if (pin) { chosen.textContent = _("Type the event PIN, choose your photos, then Send."); }
  else if (consent) { chosen.textContent = _("Tick the box, choose your photos, then Send."); }

  function ready() { return (!pin || pin.value) && (!consent || consent.checked); }
  function askForWhatIsMissing() {
    if (pin && !pin.value) { chosen.textContent = _("Type the event PIN, then Send."); pin.focus(); }
    else if (consent && !consent.checked) { chosen.textContent = _("Tick the box first, then Send."); consent.focus(); }
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  /* Megabytes the way the page's language writes numbers (1.5, 1,5, ١٫٥ ...). */
  function megabytes(bytes, digits) {
    return (bytes / 1e6).toLocaleString(document.documentElement.lang || undefined,
                                         { maximumFractionDigits: digits });
  }

  function setMessage(item, text, state) {
    item.msg.textContent = text;
    if (state) { item.li.setAttribute("data-state", state); }
  }

  function addFile(file) {
    var li = el("li", "item");
    li.setAttribute("data-state", "ready");
    var name = el("p", "item-name", file.name || "photo");
    var bar = el("progress", "item-bar");
    bar.max = 100; bar.value = 0;
    var msg = el("p", "item-msg", _("Ready to send."));
    var result = el("div", "item-result");
    li.appendChild(name); li.appendChild(bar); li.appendChild(msg); li.appendChild(result);
    list.insertBefore(li, list.firstChild);  // the newest on top, where the eye is
    var item = { file: file, li: li, bar: bar, msg: msg, result: result };
    if (maxBytes && file.size > maxBytes) {
      setMessage(item, _("This photo is %(size)s MB; the booth takes photos up to %(most)s MB.", {
        size: megabytes(file.size, 1), most: megabytes(maxBytes, 0) }), "error");
      return;
    }
    waiting.push(item);
  }

  inputs.forEach(function (input) {
    if (!input) { return; }
    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files, addFile);
      input.value = "";  // the same photo can be chosen again; files now live in `waiting`
      chosen.textContent = waiting.length === 1 ? _("1 photo ready to send.")
        : waiting.length ? _("%(count)s photos ready to send.", { count: waiting.length })
        : _("No photo chosen yet.");
      if (waiting.length && !busy && ready()) { sendAll(); }
      else if (waiting.length) { askForWhatIsMissing(); }
    });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!waiting.length) { chosen.textContent = _("Choose or take a photo first."); return; }
    if (!ready()) { askForWhatIsMissing(); return; }
    sendAll();
  });

  function sendAll() {
    if (busy) { return; }
    var item = waiting.shift();
    if (!item) { chosen.textContent = _("All sent. Choose more whenever you like."); return; }
    busy = true;
    sendButton.disabled = true;
    send(item, function () {
      busy = false;
      sendButton.disabled = false;
      sendAll();
    });
  }

  function retryAfter(xhr) {
    var s = parseInt(xhr.getResponseHeader("Retry-After") || "5", 10);
    return isNaN(s) ? 5 : Math.max(1, Math.min(s, 120));
  }

  function errorText(xhr) {
    try { return JSON.parse(xhr.responseText).error; } catch (e) { return ""; }
  }

  function send(item, next) {
    var data = new FormData();
    if (pin) { data.append("pin", pin.value); }
    if (consent && consent.checked) { data.append("consent", "yes"); }
    data.append("photo", item.file, item.file.name || "photo.jpg");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action"));
    xhr.setRequestHeader("Accept", "application/json");
    setMessage(item, _("Sending…"), "sending");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { item.bar.value = Math.round(100 * e.loaded / e.total); }
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 202) {
        item.bar.value = 100;
        setMessage(item, _("Sent. The booth is turning it into anime…"), "queued");
        poll(item, JSON.parse(xhr.responseText).status);
        next();
      } else if (xhr.status === 429 || xhr.status === 503) {
        var s = retryAfter(xhr);
        countdown(item, errorText(xhr) || _("The booth is busy."), s, function () { send(item, next); });
      } else {
        setMessage(item, errorText(xhr) || _("The booth refused this photo."), "error");
        if (xhr.status === 403 && pin) { pin.focus(); }
        next();
      }
    });
    xhr.addEventListener("error", function () {
      countdown(item, _("The booth cannot be reached."), 5, function () { send(item, next); });
    });
    xhr.send(data);
  }

  function countdown(item, text, seconds, then) {
    var left = seconds;
    var base = text.replace(/;?\s*try again in \d+ s\.?$/, "");
    (function tick() {
      if (left <= 0) { then(); return; }
      setMessage(item, base + " " + _("Trying again in %(seconds)s s…", { seconds: left }), "busy");
      left -= 1;
      setTimeout(tick, 1000);
    })();
  }

  function poll(item, url) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.addEventListener("load", function () {
      var status = null;
      try { status = JSON.parse(xhr.responseText); } catch (e) { status = null; }
      if (xhr.status === 200 && status && status.state === "done") {
        showResult(item, status);
      } else if (xhr.status === 200 && status && status.state === "queued") {
        setTimeout(function () { poll(item, url); }, POLL_MS);
      } else {
        setMessage(item, (status && (status.message ? _(status.message) : status.error)) || _("The booth could not finish this photo."), "error");
      }
    });
    xhr.addEventListener("error", function () { setTimeout(function () { poll(item, url); }, 3 * POLL_MS); });
    xhr.send();
  }

  function showResult(item, status) {
    setMessage(item, _("Ready! Open it, or let a friend scan the code."), "done");
    item.bar.hidden = true;
    var base = "/p/" + status.photo_id;
    var link = el("a", "item-thumb");
    link.href = status.page;
    var img = el("img");
    img.src = base + "/thumb.jpg";
    img.alt = _("Anime portrait of %(name)s", { name: item.file.name });
    link.appendChild(img);
    var qr = el("img", "item-qr");
    qr.src = status.qr || base + "/qr.svg";
    qr.alt = _("QR code of this photo's page");
    var open = el("a", "button", _("Open your photo"));
    open.href = status.page;
    item.result.appendChild(link);
    item.result.appendChild(qr);
    item.result.appendChild(open);
  }
})();
