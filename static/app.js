// Small keyboard help for all-day use; every action also works without JavaScript.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("table[data-nav] tbody tr"));
  var cur = -1;
  function select(i) {
    if (!rows.length) return;
    if (cur >= 0) rows[cur].classList.remove("current");
    cur = Math.max(0, Math.min(rows.length - 1, i));
    rows[cur].classList.add("current");
    var link = rows[cur].querySelector("a");
    if (link) link.focus();
  }
  document.addEventListener("keydown", function (e) {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") { select(cur + 1); e.preventDefault(); }
    else if (e.key === "k") { select(cur - 1); e.preventDefault(); }
    else if (e.key === "o" && cur >= 0) { var a = rows[cur].querySelector("a"); if (a) a.click(); }
    else if (e.key === "/") { var s = document.getElementById("q") || document.getElementById("code-lookup"); if (s) { s.focus(); e.preventDefault(); } }
  });
})();
