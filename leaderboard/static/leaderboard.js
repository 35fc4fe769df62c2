(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("leaderboard-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#8C6D1F", "#000000"];
  var DASHES = ["", "6 3", "2 3", "8 3 2 3"];
  var sections = {};
  DATA.sections.forEach(function (s) { sections[s.id] = s; });

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function log10(v) { return Math.log(v) / Math.LN10; }
  function plural(n, noun) { return n + " " + noun + (n === 1 ? "" : "s"); }
  /* A row's name in a plot: the model family is named where the task has several. */
  function named(r, name, families) { return families.length > 1 ? name + " \u00b7 " + r.model_family : name; }
  function pct(v) {
    var p = v * 100;
    return (p >= 1 ? p.toFixed(0) : p >= 0.1 ? p.toFixed(1) : p >= 0.01 ? p.toFixed(2) : p.toPrecision(1)) + "%";
  }

  /* ---- sorting ---- */
  function sortBy(table, th) {
    var ths = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var col = ths.indexOf(th);
    var numeric = th.getAttribute("data-type") === "num";
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (tr, i) {
      var raw = tr.cells[col].getAttribute("data-value");
      return { tr: tr, i: i, missing: raw === "" || raw === null, v: numeric ? parseFloat(raw) : raw };
    });
    rows.sort(function (a, b) {
      if (a.missing !== b.missing) return a.missing ? 1 : -1;  /* missing values last, either way */
      if (!a.missing && a.v !== b.v) return (a.v < b.v ? -1 : 1) * sign;
      return a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.tr); });
    ths.forEach(function (other) { if (other !== th) other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.board"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = th.textContent;
      button.title = "Sort by " + th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () { sortBy(table, th); });
    });
  });

  /* ---- ROC plot (log-log) ---- */
  function rocPlot(rows, families) {
    var curves = rows.filter(function (r) { return r.roc && !r.apart; });
    if (!curves.length) return null;
    curves.sort(function (a, b) { return (b.tpr_1 === null ? -1 : b.tpr_1) - (a.tpr_1 === null ? -1 : a.tpr_1); });
    var total = curves.length;
    curves = curves.slice(0, DATA.max_curves);
    var lo = 1;
    curves.forEach(function (r) { r.roc.fpr.forEach(function (f) { if (f > 0 && f < lo) lo = f; }); });
    lo = Math.max(1e-5, Math.min(1e-2, Math.pow(10, Math.floor(log10(lo) + 1e-9))));
    var W = 460, H = 340, L = 52, R = 22, T = 10, B = 40, w = W - L - R, h = H - T - B, span = -log10(lo);
    function x(v) { return L + (log10(Math.max(v, lo)) - log10(lo)) / span * w; }
    function y(v) { return T + h - (log10(Math.max(v, lo)) - log10(lo)) / span * h; }
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "ROC curves, log-log axes" });
    for (var p = log10(lo); p <= 1e-9; p++) {
      var v = Math.pow(10, p);
      svg.appendChild(el("line", { "class": "grid", x1: x(v), x2: x(v), y1: T, y2: T + h }));
      svg.appendChild(el("line", { "class": "grid", x1: L, x2: L + w, y1: y(v), y2: y(v) }));
      svg.appendChild(el("text", { x: x(v), y: T + h + 14, "text-anchor": "middle" }, pct(v)));
      svg.appendChild(el("text", { x: L - 5, y: y(v) + 4, "text-anchor": "end" }, pct(v)));
    }
    svg.appendChild(el("rect", { x: L, y: T, width: w, height: h, fill: "none", "class": "axis" }));
    svg.appendChild(el("line", { x1: x(lo), y1: y(lo), x2: x(1), y2: y(1), stroke: "currentColor",
      "stroke-dasharray": "3 3", opacity: "0.5" }));
    svg.appendChild(el("text", { x: L + w / 2, y: H - 6, "text-anchor": "middle" }, "false positive rate"));
    svg.appendChild(el("text", { x: 12, y: T + h / 2, "text-anchor": "middle",
      transform: "rotate(-90 12 " + (T + h / 2) + ")" }, "true positive rate"));
    var legend = document.createElement("ul");
    legend.className = "legend";
    curves.forEach(function (r, i) {
      var color = COLORS[i % COLORS.length], dash = DASHES[Math.floor(i / COLORS.length) % DASHES.length];
      var pts = r.roc.fpr.map(function (f, j) { return x(f).toFixed(1) + "," + y(r.roc.tpr[j]).toFixed(1); });
      var line = el("polyline", { points: pts.join(" "), fill: "none", stroke: color, "stroke-width": "1.8" });
      if (dash) line.setAttribute("stroke-dasharray", dash);
      var name = named(r, r.attack + (r.defense !== "none" ? " / " + r.defense : ""), families);
      line.appendChild(el("title", {}, name + ": TPR " + (r.tpr_1 === null ? "n/a" : r.tpr_1 + "%") + " @ 1% FPR"));
      svg.appendChild(line);
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.borderTopColor = color;
      if (dash) sw.style.borderTopStyle = "dashed";
      li.appendChild(sw);
      li.appendChild(document.createTextNode(name));
      legend.appendChild(li);
    });
    var chance = document.createElement("li");
    var csw = document.createElement("span");
    csw.className = "swatch";
    csw.style.borderTopStyle = "dashed";
    csw.style.borderTopColor = "currentColor";
    chance.appendChild(csw);
    chance.appendChild(document.createTextNode("chance (TPR = FPR)"));
    legend.appendChild(chance);
    return figure("ROC, log-log" + (total > curves.length ? " (top " + curves.length + " of " + total +
      " by TPR @ 1% FPR)" : ""), svg, legend, "roc");
  }

  /* ---- privacy-utility scatter ---- */
  function utilityPlot(points, families) {
    if (!points.some(function (r) { return r.defense !== "none"; })) return null;
    var xs = points.map(function (r) { return r.test_accuracy; });
    var xmin = Math.min.apply(null, xs), xmax = Math.max.apply(null, xs);
    var pad = Math.max((xmax - xmin) * 0.08, 0.5);
    xmin -= pad; xmax += pad;
    var positive = points.map(function (r) { return r.tpr_1; }).filter(function (v) { return v > 0; });
    var ylo = Math.pow(10, Math.floor(log10(positive.length ? Math.min.apply(null, positive) : 0.01)));
    var yhi = Math.pow(10, Math.ceil(log10(positive.length ? Math.max.apply(null, positive) : 100) + 1e-9));
    if (yhi <= ylo) yhi = ylo * 10;
    var W = 460, H = 340, L = 52, R = 22, T = 10, B = 40, w = W - L - R, h = H - T - B;
    function x(v) { return L + (v - xmin) / (xmax - xmin) * w; }
    function y(v) { return T + h - (log10(Math.max(v, ylo)) - log10(ylo)) / (log10(yhi) - log10(ylo)) * h; }
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": "Privacy-utility scatter: test accuracy against TPR at 1% FPR" });
    for (var p = log10(ylo); p <= log10(yhi) + 1e-9; p++) {
      [1, 2, 5].forEach(function (m) {
        var v = m * Math.pow(10, p);
        if (v > yhi * 1.0001) return;
        svg.appendChild(el("line", { "class": "grid", x1: L, x2: L + w, y1: y(v), y2: y(v),
          opacity: m === 1 ? 1 : 0.5 }));
        svg.appendChild(el("text", { x: L - 5, y: y(v) + 4, "text-anchor": "end" },
          (v >= 1 ? v.toFixed(0) : v.toPrecision(1)) + "%"));
      });
    }
    var step = Math.pow(10, Math.floor(log10((xmax - xmin) / 2)));
    if ((xmax - xmin) / step > 8) step *= 2;
    if ((xmax - xmin) / step > 8) step *= 2.5;
    for (var t = Math.ceil(xmin / step) * step; t <= xmax; t += step) {
      svg.appendChild(el("line", { "class": "grid", x1: x(t), x2: x(t), y1: T, y2: T + h }));
      svg.appendChild(el("text", { x: x(t), y: T + h + 14, "text-anchor": "middle" }, (+t.toFixed(2)) + "%"));
    }
    svg.appendChild(el("rect", { x: L, y: T, width: w, height: h, fill: "none", "class": "axis" }));
    svg.appendChild(el("text", { x: L + w / 2, y: H - 6, "text-anchor": "middle" }, "test accuracy"));
    svg.appendChild(el("text", { x: 12, y: T + h / 2, "text-anchor": "middle",
      transform: "rotate(-90 12 " + (T + h / 2) + ")" }, "TPR @ 1% FPR, strongest attack"));
    /* Labels: greedy placement beside each point, nudged up or down (with a leader line) to avoid the
       labels and points already placed; a label that fits nowhere is left to the point's tooltip. */
    var boxes = points.map(function (r) {
      var cx = x(r.test_accuracy), cy = y(r.tpr_1);
      return { x0: cx - 6, x1: cx + 6, y0: cy - 6, y1: cy + 6 };
    });
    function free(b) {
      if (b.x0 < L + 2 || b.x1 > L + w - 2 || b.y0 < T + 1 || b.y1 > T + h - 1) return false;
      return boxes.every(function (o) { return b.x1 < o.x0 || b.x0 > o.x1 || b.y1 < o.y0 || b.y0 > o.y1; });
    }
    var byHeight = points.slice().sort(function (a, b) {
      return (a.defense === "none" ? -1 : 0) - (b.defense === "none" ? -1 : 0) || b.tpr_1 - a.tpr_1;
    });
    byHeight.forEach(function (r) {
      var cx = x(r.test_accuracy), cy = y(r.tpr_1), none = r.defense === "none";
      var g = el("g", {}), name = named(r, r.defense, families);
      g.appendChild(el("title", {}, name + ": test acc " + r.test_accuracy + "%, TPR " + r.tpr_1 +
        "% @ 1% FPR (strongest attack: " + r.attack + ")"));
      g.appendChild(el("circle", { cx: cx, cy: cy, r: none ? 5.5 : 4, fill: none ? "none" : "#0072B2",
        stroke: none ? "#D55E00" : "#ffffff", "stroke-width": none ? 2.5 : 1 }));
      var label = none ? named(r, "none (no defense)", families) : name, width = label.length * (none ? 6.6 : 6.1) + 2;
      var sides = cx < L + w * 0.6 ? [1, -1] : [-1, 1], placed = null;
      [0, -13, 13, -26, 26, -39, 39, -52, 52].some(function (dy) {
        return sides.some(function (side) {
          var lx = cx + side * 8, ly = cy + dy + 4;
          var b = { x0: side > 0 ? lx : lx - width, x1: side > 0 ? lx + width : lx, y0: ly - 10, y1: ly + 2 };
          if (!free(b)) return false;
          placed = { x: lx, y: ly, side: side, dy: dy, box: b };
          return true;
        });
      });
      if (placed) {
        boxes.push(placed.box);
        if (placed.dy) {
          g.appendChild(el("line", { x1: cx, y1: cy, x2: placed.x, y2: placed.y - 4, stroke: "currentColor",
            "stroke-width": "0.6", opacity: "0.6" }));
        }
        g.appendChild(el("text", { x: placed.x, y: placed.y, "text-anchor": placed.side > 0 ? "start" : "end",
          "font-weight": none ? "700" : "400" }, label));
      }
      svg.appendChild(g);
    });
    var note = document.createElement("p");
    note.className = "note";
    note.textContent = "One point per defense setting: its test accuracy and the TPR of the strongest attack shown " +
      "against it (hover a point for details). Down and to the right is better: more private, more useful. " +
      "The ring is the undefended model.";
    return figure("Privacy-utility", svg, note, "utility");
  }

  function figure(title, svg, extra, kind) {
    var fig = document.createElement("figure");
    fig.className = "plot-" + kind;
    var cap = document.createElement("figcaption");
    cap.textContent = title;
    fig.appendChild(cap);
    fig.appendChild(svg);
    if (extra) fig.appendChild(extra);
    return fig;
  }

  function drawPlots(sectionEl, visible) {
    var box = sectionEl.querySelector(".plots");
    var data = sections[sectionEl.id];
    function shown(i) { return !visible || visible[i]; }
    var rows = data.rows.filter(function (r, i) { return shown(i); });
    /* Each defense's rows, strongest attack first (ranked in Python): its point is the first one shown, and
       the points come in the order their defenses first appear among the rows shown. */
    var picks = [];
    data.frontier.forEach(function (ranked) {
      var left = ranked.filter(shown);
      if (left.length) picks.push({ row: data.rows[left[0]], first: Math.min.apply(null, left) });
    });
    picks.sort(function (a, b) { return a.first - b.first; });
    var points = picks.map(function (pick) { return pick.row; });
    box.textContent = "";
    [rocPlot(rows, data.families), utilityPlot(points, data.families)].forEach(function (fig) {
      if (fig) box.appendChild(fig);
    });
    box.hidden = !box.childNodes.length;
  }

  /* ---- filters ---- */
  var form = document.getElementById("filters");
  form.hidden = false;
  var fields = ["track", "task", "attack", "defense", "status"].map(function (n) { return form.elements[n]; });
  var count = document.getElementById("filter-count");
  var allSections = Array.prototype.slice.call(document.querySelectorAll("section.board-section"));
  function matches(value, wanted, exact) {
    if (!wanted) return true;
    return exact ? value === wanted : value.toLowerCase().indexOf(wanted.toLowerCase()) >= 0;
  }
  /* Hides the table's rows that fail keep(tr), counts the rest in its caption, and returns that count. */
  function filterRows(table, keep) {
    var rows = table.tBodies[0].rows, n = 0;
    Array.prototype.forEach.call(rows, function (tr) {
      tr.hidden = !keep(tr);
      if (!tr.hidden) n++;
    });
    var count = table.caption.querySelector(".count"), noun = count.getAttribute("data-noun");
    count.textContent = n === rows.length ? plural(n, noun) : n + " of " + plural(rows.length, noun) + " shown";
    return n;
  }
  function apply() {
    var f = {};
    fields.forEach(function (input) { f[input.name] = input.value.trim(); });
    var shown = 0, total = 0;
    allSections.forEach(function (sec) {
      var inSection = matches(sec.getAttribute("data-track"), f.track, true) &&
        matches(sec.getAttribute("data-task"), f.task, true);
      function kept(tr) {  /* the filters that apply to both tables; the attack filter is the attack table's */
        return inSection && matches(tr.getAttribute("data-defense"), f.defense, false) &&
          matches(tr.getAttribute("data-status"), f.status, true);
      }
      var attacks = sec.querySelector("table.attacks"), defenses = sec.querySelector("table.defenses");
      var n = filterRows(attacks, function (tr) {
        return kept(tr) && matches(tr.getAttribute("data-attack"), f.attack, true);
      });
      if (defenses) filterRows(defenses, kept);
      var matched = sec.querySelector("table.matched");
      if (matched) filterRows(matched, kept);
      var visible = [];
      Array.prototype.forEach.call(attacks.tBodies[0].rows, function (tr) {
        visible[+tr.getAttribute("data-row")] = !tr.hidden;
      });
      shown += n;
      total += attacks.tBodies[0].rows.length;
      sec.hidden = n === 0;
      if (n) drawPlots(sec, visible);
    });
    count.textContent = "Showing " + shown + " of " + total + " rows";
  }
  fields.forEach(function (input) { input.addEventListener(input.tagName === "SELECT" ? "change" : "input", apply); });
  form.addEventListener("reset", function () { setTimeout(apply, 0); });
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  apply();
})();
