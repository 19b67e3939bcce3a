/* A photo's page: switch between the anime and the original, and share it. */
(function () {
  "use strict";

  var article = document.querySelector(".photo");
  var frames = document.getElementById("frames");
  var buttons = document.querySelectorAll(".seg");

  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      var which = button.getAttribute("data-show");
      frames.className = "frames show-" + which;
      buttons.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
    });
  });

  /* A boomerang plays its MP4 (H.264); a browser that cannot gets the animated WebP. */
  var clip = document.getElementById("clip");
  if (clip) {
    var toWebp = function () {
      var img = document.createElement("img");
      img.src = clip.getAttribute("data-webp");
      img.alt = clip.getAttribute("aria-label") || "";
      img.className = "clip";
      clip.replaceWith(img);
    };
    var source = clip.querySelector("source");
    if (!clip.canPlayType || !clip.canPlayType('video/mp4; codecs="avc1.42E01E"')) { toWebp(); }
    else if (source) { source.addEventListener("error", toWebp); }
  }

  var share = document.getElementById("share");
  if (!navigator.share || !article) { return; }
  // The phone can share: Share is the main action, the downloads step back.
  share.hidden = false;
  document.getElementById("download-anime").classList.add("ghost");
  share.addEventListener("click", function () {
    var url = article.getAttribute("data-url");
    var title = article.getAttribute("data-title");
    // Share the picture itself where the phone can; otherwise its link.
    fetch(article.getAttribute("data-anime"))
      .then(function (r) { return r.blob(); })
      .then(function (blob) {
        var file = new File([blob], article.getAttribute("data-share-name") || "anime-portrait.jpg",
                            { type: article.getAttribute("data-share-type") || "image/jpeg" });
        if (navigator.canShare && navigator.canShare({ files: [file] })) {
          return navigator.share({ files: [file], title: title, url: url });
        }
        return navigator.share({ title: title, url: url });
      })
      .catch(function () {});
  });
})();
