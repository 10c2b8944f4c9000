// Progressive enhancement only: every form works without this file.
(function () {
  // Live normalised preview of points weightings.
  var form = document.querySelector("[data-points-form]");
  if (form) {
    var inputs = form.querySelectorAll("input[data-points]");
    var update = function () {
      var total = 0;
      inputs.forEach(function (i) { var v = parseFloat(i.value); if (v > 0) total += v; });
      inputs.forEach(function (i) {
        var out = document.getElementById("share-" + i.dataset.points);
        var v = parseFloat(i.value);
        out.textContent = total > 0 && v > 0 ? (100 * v / total).toFixed(1) + "%" : "0.0%";
      });
      var sum = document.getElementById("points-total");
      if (sum) sum.textContent = total.toString();
    };
    inputs.forEach(function (i) { i.addEventListener("input", update); });
    update();
  }
  // Times marked data-local (rendered in UTC) read in the viewer's own time zone; the ISO time stays in
  // the element's datetime attribute and its title.
  document.querySelectorAll("time[data-local]").forEach(function (t) {
    var when = new Date(t.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    t.title = t.textContent + " (" + t.getAttribute("datetime") + ")";
    t.textContent = when.toLocaleString(undefined, {
      day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZoneName: "short"
    });
  });
  // A table wider than the window scrolls sideways inside its wrapper: the wrapper then takes the keyboard
  // focus (so the arrow keys scroll it) and is named after its table; when the table fits it is no tab stop.
  var wraps = document.querySelectorAll(".table-wrap");
  var tableName = function (w) {
    var caption = w.querySelector("caption");
    if (caption) return caption.textContent.trim();
    var table = w.querySelector("table");
    if (table && table.getAttribute("aria-label")) return table.getAttribute("aria-label");
    for (var e = w.previousElementSibling; e; e = e.previousElementSibling) {
      if (/^H[1-6]$/.test(e.tagName)) return e.textContent.trim();
    }
    return "Table";
  };
  var scrollable = function () {
    wraps.forEach(function (w) {
      var wide = w.scrollWidth > w.clientWidth + 1;
      if (wide && !w.hasAttribute("tabindex")) {
        w.setAttribute("tabindex", "0");
        w.setAttribute("role", "region");
        w.setAttribute("aria-label", tableName(w) + " (scrolls sideways)");
        w.setAttribute("data-scroll-focus", "");
      } else if (!wide && w.hasAttribute("data-scroll-focus")) {
        ["tabindex", "role", "aria-label", "data-scroll-focus"].forEach(function (a) { w.removeAttribute(a); });
      }
    });
  };
  if (wraps.length) {
    scrollable();
    window.addEventListener("resize", scrollable);
  }
  // Focus the error summary so screen readers announce it.
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
})();
