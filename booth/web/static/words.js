/* The page's words in its language: _("English") answers the translation the server
 * put in the page (#booth-words, booth.web.i18n.script_words), and fills in
 * %(name)s from `values`. pybabel extracts every _("...") of the scripts. */
(function () {
  "use strict";
  var holder = document.getElementById("booth-words");
  var words = holder ? JSON.parse(holder.textContent) : {};
  window._ = function (text, values) {
    var said = Object.prototype.hasOwnProperty.call(words, text) ? words[text] : text;
    return said.replace(/%\((\w+)\)s/g, function (all, name) {
      return values && values[name] != null ? String(values[name]) : all;
    });
  };
})();
