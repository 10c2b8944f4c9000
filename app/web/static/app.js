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
  // Focus the error summary so screen readers announce it.
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
})();
