/* Photo, strip or boomerang on the kiosk: the guest's choice (↑/↓ between photos), a
 * strip's shots appearing as they land, and the boomerang's loop on the result screen.
 * kiosk.js passes the booth's "state", "mode" and "shot" events on as DOM events. */
(function () {
  "use strict";

  var box = document.getElementById("mode-choice");
  var list = document.getElementById("mode-list");
  var shots = document.getElementById("shots");
  var shotCount = document.getElementById("shot-count");
  var resultImg = document.getElementById("result-anime");
  var clip = null;

  function render(choice) {
    if (!choice || !choice.modes) { return; }
    box.hidden = choice.modes.length < 2;
    list.textContent = "";
    choice.modes.forEach(function (m) {
      var span = document.createElement("span");
      span.textContent = _(m.label);
      span.setAttribute("data-mode", m.name);
      span.setAttribute("aria-current", m.name === choice.current ? "true" : "false");
      list.appendChild(span);
    });
    document.body.setAttribute("data-moment", choice.current);
  }

  var load = window.boothChoice({ read: "/api/modes", change: "/api/mode", back: "ArrowUp",
                                   next: "ArrowDown", event: "booth:mode", render: render });

  /* --- a strip's shots ------------------------------------------------------- */
  function resetShots(total) {
    shots.textContent = "";
    for (var i = 0; i < total; i++) { shots.appendChild(document.createElement("li")); }
  }

  function showShot(index) {
    var slot = shots.children[index];
    if (!slot) { return; }
    var img = slot.querySelector("img") || document.createElement("img");
    img.alt = _("Shot %(number)s", { number: index + 1 });
    img.src = "/kiosk/shot/" + index + ".jpg?t=" + Date.now();
    img.onerror = function () { img.remove(); };  // the anime version comes a moment later
    slot.className = "taken";
    slot.setAttribute("data-shot", String(index));
    if (!img.parentNode) { slot.appendChild(img); }
  }

  document.addEventListener("booth:shot", function (e) {
    var d = e.detail;
    if (d.stage === "anime") { showShot(d.index); }
    else if (shots.children[d.index]) { shots.children[d.index].className = "taken"; }
  });

  /* --- the states ------------------------------------------------------------ */
  function playClip(photoId) {
    if (!clip) {
      clip = document.createElement("video");
      clip.id = "result-clip";
      clip.muted = true; clip.loop = true; clip.autoplay = true; clip.playsInline = true;
      clip.setAttribute("muted", ""); clip.setAttribute("playsinline", "");
      resultImg.parentNode.insertBefore(clip, resultImg);
    }
    var base = "/p/" + encodeURIComponent(photoId);
    var h264 = clip.canPlayType && clip.canPlayType('video/mp4; codecs="avc1.42E01E"');
    if (h264) {
      clip.hidden = false;
      resultImg.hidden = true;
      clip.src = base + "/boomerang.mp4";
      clip.play().catch(function () {});
    } else {  // this browser has no H.264: the animated WebP loops in the picture's place
      clip.hidden = true;
      resultImg.hidden = false;
      resultImg.src = base + "/boomerang.webp";
    }
    document.body.setAttribute("data-clip", h264 ? "mp4" : "webp");
  }

  function stopClip() {
    if (clip) { clip.pause(); clip.removeAttribute("src"); clip.hidden = true; }
    resultImg.hidden = false;
  }

  /* What the processing screen says, by what is being made. */
  var processText = document.querySelector(".process-text");
  var PROCESS_TEXT = { photo: processText ? processText.textContent : "",
                       strip: _("Putting your photo strip together…"),
                       boomerang: _("Drawing your anime boomerang…") };

  document.addEventListener("booth:state", function (e) {
    var d = e.detail;
    if (d.state === "process" && processText) {
      processText.textContent = PROCESS_TEXT[d.mode || "photo"] || PROCESS_TEXT.photo;
    }
    var strip = d.mode === "strip";
    if (strip && d.state === "countdown" && d.shot === 1) { resetShots(d.shots); }
    shots.hidden = !(strip && d.state !== "result" && d.state !== "failsafe" && d.state !== "idle");
    shotCount.hidden = !(strip && (d.state === "countdown" || d.state === "shot"));
    if (strip && d.shot) {
      shotCount.textContent = d.state === "shot"
        ? _("%(taken)s of %(shots)s — next pose!", { taken: d.taken, shots: d.shots })
        : _("Shot %(shot)s of %(shots)s", { shot: d.shot, shots: d.shots });
    }
    if (d.state === "result" && d.mode === "boomerang" && d.photo_id) {
      // kiosk.js has just set the still as the picture; the loop replaces it.
      setTimeout(function () { playClip(d.photo_id); }, 0);
    } else {
      stopClip();
    }
  });

  load();
  setInterval(load, 30000);
})();
