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
  // The proposal form's running totals: net per year and the totals, live as amounts are typed. The page
  // already shows them as worked out on save; this reads amounts by the same rule as the server (app.money:
  // £, commas between groups of three, at most two decimal places; spaces ignored), in whole pence.
  var money = document.querySelector("table[data-running-totals]");
  if (money) {
    var pence = function (raw) {
      var t = raw.replace(/\s+/g, "");
      if (t === "") return 0;
      var m = /^([-+]?)£?([-+]?)(\d{1,3}(?:,\d{3})+|\d*)(?:\.(\d{0,2}))?$/.exec(t);
      if (!m || (m[1] && m[2]) || !(m[3] || m[4])) return null;
      var whole = m[3].replace(/,/g, "") || "0";
      if (whole.length > 12) return null;
      var p = Number(whole) * 100 + Number(((m[4] || "") + "00").slice(0, 2));
      return (m[1] === "-" || m[2] === "-") ? -p : p;
    };
    var pounds = function (p) {
      if (p === null) return "–";
      var abs = Math.abs(p), whole = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
      return (p < 0 ? "-£" : "£") + whole + "." + ("0" + (abs % 100)).slice(-2);
    };
    var add = function (a, b) { return a === null || b === null ? null : a + b; };
    var recount = function () {
      var totals = { cost: 0, saving: 0 };
      money.querySelectorAll("output[data-net]").forEach(function (out) {
        var y = out.getAttribute("data-net");
        var c = pence(document.getElementById("cost_" + y).value);
        var s = pence(document.getElementById("saving_" + y).value);
        if (c !== null && c < 0) c = null;  // a negative amount is refused on save
        if (s !== null && s < 0) s = null;
        totals.cost = add(totals.cost, c);
        totals.saving = add(totals.saving, s);
        out.textContent = pounds(c === null || s === null ? null : c - s);
      });
      document.getElementById("total-cost").textContent = pounds(totals.cost);
      document.getElementById("total-saving").textContent = pounds(totals.saving);
      document.getElementById("total-net").textContent = pounds(
        totals.cost === null || totals.saving === null ? null : totals.cost - totals.saving);
    };
    money.querySelectorAll("input[data-money]").forEach(function (i) { i.addEventListener("input", recount); });
  }
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
  // The cycle form's scale labels follow the lowest and highest point as they are typed (without this
  // file, the "Show the points of this scale" button redraws the form). A label already typed is kept:
  // rows outside the new scale stay while they hold text, so nothing typed is dropped.
  var labels = document.querySelector("table[data-scale-labels] tbody");
  var lowest = document.getElementById("scale_min");
  var highest = document.getElementById("scale_max");
  if (labels && lowest && highest) {
    var redraw = document.querySelector("button[data-show-points]");
    if (redraw) redraw.remove();
    var whole = function (v) { return /^-?\d{1,3}$/.test(v.trim()) ? parseInt(v, 10) : null; };
    var row = function (point, value) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = String(point);
      var td = document.createElement("td");
      var label = document.createElement("label");
      label.className = "visually-hidden";
      label.htmlFor = "label_" + point;
      label.textContent = "Label for point " + point;
      var input = document.createElement("input");
      input.type = "text";
      input.id = input.name = "label_" + point;
      input.value = value;
      td.appendChild(label);
      td.appendChild(input);
      tr.appendChild(th);
      tr.appendChild(td);
      return tr;
    };
    var follow = function () {
      var lo = whole(lowest.value), hi = whole(highest.value);
      if (lo === null || hi === null || lo >= hi || hi - lo > 110) return;
      var typed = {};
      labels.querySelectorAll("input[name^='label_']").forEach(function (i) {
        typed[i.name.slice(6)] = i.value;
      });
      var points = [];
      for (var p = lo; p <= hi; p++) points.push(p);
      Object.keys(typed).forEach(function (k) {
        var n = parseInt(k, 10);
        if ((n < lo || n > hi) && typed[k].trim() !== "") points.push(n);
      });
      points.sort(function (a, b) { return a - b; });
      var rows = document.createDocumentFragment();
      points.forEach(function (n) { rows.appendChild(row(n, typed[String(n)] || "")); });
      labels.replaceChildren(rows);
    };
    lowest.addEventListener("change", follow);
    highest.addEventListener("change", follow);
  }
  // Focus the error summary so screen readers announce it.
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
})();
