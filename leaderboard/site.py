"""The leaderboard as one self-contained static web page: ``index.html``.

The page holds a ranked table per (track, task), the same rows as ``leaderboard.md`` (see
:func:`miabench.leaderboard.build.rows`), rendered into the HTML so that it reads without
JavaScript. An inline script (no CDN, no external file) then adds header sorting, filters, a
log-log ROC plot per table for the entries that carry a mean ROC curve, and a privacy-utility
scatter per table where defenses were evaluated. The data for the script sits in the page as a
JSON blob. The bytes depend only on the entries (no timestamps): rebuilding gives the same file.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import pandas as pd

from miabench.leaderboard import build
from miabench.leaderboard import entries as entries_mod

TITLE = "miabench leaderboard"
MAX_ROC_CURVES = 8


def _num(value, digits: int = 4) -> float | None:
    """A JSON-safe float rounded to ``digits`` significant digits, or None for a missing value."""
    if value is None or value is pd.NA:
        return None
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return None
    return float(f"{value:.{digits}g}")


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _ci(record: dict, col: str, digits: int) -> tuple[str, str]:
    """(cell HTML, sort value) of a mean with its 95% CI."""
    mean = record[col]
    if _missing(mean):
        return '<span class="na">n/a</span>', ""
    lo, hi = record[f"{col}_lo"], record[f"{col}_hi"]
    text = f"{mean:.{digits}f}"
    if not (_missing(lo) or _missing(hi)):
        text += f' <span class="ci">[{lo:.{digits}f}, {hi:.{digits}f}]</span>'
    return text, repr(float(mean))


def _roc_of(entry: dict) -> dict | None:
    """The entry's mean ROC as rounded [fpr, tpr] lists, or None when it has none (or a malformed one)."""
    roc = entry.get("roc")
    if not isinstance(roc, dict):
        return None
    fpr, tpr = roc.get("fpr"), roc.get("tpr")
    if not isinstance(fpr, list) or not isinstance(tpr, list) or len(fpr) != len(tpr) or len(fpr) < 2:
        return None
    points = [(_num(f, 5), _num(t, 5)) for f, t in zip(fpr, tpr)]
    points = [(f, t) for f, t in points if f is not None and t is not None]
    if len(points) < 2:
        return None
    return {"fpr": [f for f, _ in points], "tpr": [t for _, t in points]}


def _entry_key(entry: dict) -> tuple[str, str]:
    return entries_mod.entry_path(entry, Path(".")).as_posix(), entry.get("created") or ""


def _columns(records: list[dict]) -> list[tuple[str, str, str]]:
    """(key, header, kind) of the table's columns; kind is "num" or "text" (how the column sorts)."""
    columns = [("rank", "rank", "num"), ("attack", "attack", "text"), ("defense", "defense", "text")]
    if len({r["model_family"] for r in records}) > 1:
        columns.append(("model_family", "model", "text"))
    columns.append(("auc", "AUC [95% CI]", "num"))
    columns += [(col, f"TPR% @ {label} FPR", "num") for col, _, label in build.TPR_LEVELS]
    if any(not _missing(r["flagged_tpr_5"]) for r in records):
        columns.append(("flagged_tpr_5", "flagged TPR% @ 5% FPR", "num"))
    columns += [("test_accuracy", "test acc %", "num"), ("K", "K", "num"), ("status", "status", "text")]
    return columns


def _cell(record: dict, key: str) -> tuple[str, str]:
    """(cell HTML, sort value) of one cell; the sort value is empty for a missing number."""
    esc = html.escape
    if key == "rank":
        rank = record["rank"]
        return ("", "") if _missing(rank) else (str(int(rank)), str(int(rank)))
    if key == "auc":
        return _ci(record, "auc", 3)
    if key.startswith("tpr_") or key == "flagged_tpr_5":
        return _ci(record, key, 2)
    if key == "test_accuracy":
        value = record["test_accuracy"]
        return ('<span class="na">n/a</span>', "") if _missing(value) else (f"{value:.2f}", repr(float(value)))
    if key == "K":
        return esc(str(record["K"])), esc(str(record["K"]))
    if key == "status":
        status = str(record["status"])
        text = f'<span class="badge status-{esc(status)}">{esc(status)}</span>'
        if record["superseded"]:
            text += f' <span class="badge superseded">superseded: task v{esc(str(record["task_version"]))}</span>'
        return text, esc(status.lower())
    value = "" if _missing(record[key]) else str(record[key])
    return esc(value), esc(value.lower())


def _section_id(track: str, task: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{track}--{task}")
    return f"board-{safe}"


def _table(section_id: str, track: str, task: str, records: list[dict]) -> str:
    esc = html.escape
    columns = _columns(records)
    head = []
    for key, header, kind in columns:
        sort = ' aria-sort="descending"' if key == build.RANK_BY else ""
        head.append(f'<th scope="col" data-key="{esc(key)}" data-type="{kind}"{sort}>{esc(header)}</th>')
    body = []
    for index, record in enumerate(records):
        attrs = (
            (' class="superseded"' if record["superseded"] else "")
            + f' data-row="{index}" data-attack="{esc(str(record["attack"]))}"'
            f' data-defense="{esc(str(record["defense"]))}" data-status="{esc(str(record["status"]))}"'
            f' data-superseded="{"true" if record["superseded"] else "false"}"'
        )
        cells = []
        for key, _, kind in columns:
            content, value = _cell(record, key)
            cls = ' class="num"' if kind == "num" else ""
            if key == "attack":
                content = f'<span title="{esc(str(record["entry_id"]))}">{content}</span>'
                cells.append(f'<th scope="row" data-value="{value}">{content}</th>')
            else:
                cells.append(f'<td{cls} data-value="{value}">{content}</td>')
        body.append(f"<tr{attrs}>" + "".join(cells) + "</tr>")
    caption = f"{esc(track)} / {esc(task)}: {len(records)} setting{'s' if len(records) != 1 else ''}"
    return (
        f'<div class="table-wrap"><table class="board" id="{section_id}-table" data-track="{esc(track)}"'
        f' data-task="{esc(task)}"><caption>{caption}, ranked by TPR at 1% FPR</caption>\n'
        f"<thead><tr>{''.join(head)}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody></table></div>"
    )


def _plot_rows(records: list[dict], rocs: dict) -> list[dict]:
    """What the plots need of each row (in table order; the rows' ``data-row`` index into this list)."""
    out = []
    for record in records:
        out.append(
            {
                "attack": str(record["attack"]),
                "defense": str(record["defense"]),
                "superseded": bool(record["superseded"]),
                "tpr_1": _num(record["tpr_1"]),
                "auc": _num(record["auc"]),
                "test_accuracy": _num(record["test_accuracy"]),
                "roc": rocs.get((record["path"], record["created"])),
            }
        )
    return out


def _section(track: str, task: str, records: list[dict], rocs: dict) -> tuple[str, dict]:
    esc = html.escape
    section_id = _section_id(track, task)
    current = [r for r in records if not r["superseded"]]
    versions = sorted({str(r["task_version"]) for r in current})
    families = sorted({str(r["model_family"]) for r in current})
    meta = []
    if versions:
        meta.append(f"task version {esc(', '.join(versions))}")
    if families:
        meta.append(f"model {esc(', '.join(families))}")
    meta.append(f"{len(current)} ranked setting{'s' if len(current) != 1 else ''}")
    if len(records) > len(current):
        meta.append(f"{len(records) - len(current)} on superseded task versions (not ranked)")
    html_text = (
        f'<section class="board-section" id="{section_id}" data-track="{esc(track)}" data-task="{esc(task)}"'
        f' aria-labelledby="{section_id}-title">\n'
        f'<h2 id="{section_id}-title"><span class="track">{esc(track)}</span> / {esc(task)}</h2>\n'
        f'<p class="meta">{" · ".join(meta)}</p>\n'
        f'<div class="plots" data-section="{section_id}"></div>\n'
        + _table(section_id, track, task, records)
        + "\n</section>"
    )
    data = {"id": section_id, "track": track, "task": task, "rows": _plot_rows(records, rocs)}
    return html_text, data


_CSS = """
:root{--fg:#1b1f24;--muted:#57606a;--bg:#fff;--panel:#f6f8fa;--line:#d0d7de;--accent:#0969da;--stripe:#fafbfc}
@media (prefers-color-scheme: dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bg:#0d1117;--panel:#161b22;
--line:#30363d;--accent:#58a6ff;--stripe:#11161d}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--fg);background:var(--bg)}
header,main,footer{max-width:1280px;margin:0 auto;padding:0 1rem}
header{padding-top:1.2rem}
h1{font-size:1.7rem;margin:.2rem 0 .4rem}
h2{font-size:1.25rem;margin:0 0 .2rem}
h2 .track{color:var(--muted);font-weight:500}
.lede{color:var(--muted);max-width:60rem;margin:.2rem 0 .8rem}
nav.toc{font-size:.9rem;margin:.3rem 0 .8rem}
nav.toc a{margin-right:.8rem;color:var(--accent);text-decoration:none}
nav.toc a:hover{text-decoration:underline}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end;background:var(--panel);
border:1px solid var(--line);border-radius:8px;padding:.7rem .9rem;margin:.4rem 0 1rem;position:sticky;top:0;z-index:2}
form.filters label{display:flex;flex-direction:column;font-size:.8rem;color:var(--muted);gap:.15rem}
form.filters select,form.filters input{font:inherit;font-size:.9rem;padding:.25rem .4rem;min-width:9rem;
color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:5px}
form.filters button{font:inherit;font-size:.9rem;padding:.3rem .8rem;border:1px solid var(--line);
border-radius:5px;background:var(--bg);color:var(--fg);cursor:pointer}
#filter-count{font-size:.85rem;color:var(--muted);margin-left:auto}
.board-section{border-top:1px solid var(--line);padding:1.1rem 0 1.4rem}
.meta{color:var(--muted);font-size:.88rem;margin:0 0 .6rem}
.table-wrap{overflow-x:auto}
table.board{border-collapse:collapse;font-size:.88rem;width:100%;font-variant-numeric:tabular-nums}
table.board caption{text-align:left;color:var(--muted);font-size:.8rem;padding:.2rem 0}
table.board th,table.board td{padding:.3rem .55rem;border-bottom:1px solid var(--line);text-align:left;
white-space:nowrap;vertical-align:top}
table.board thead th{background:var(--panel);position:sticky;top:0;font-weight:600}
table.board tbody th{font-weight:600}
table.board td.num,table.board thead th[data-type=num]{text-align:right}
table.board tbody tr:nth-child(even){background:var(--stripe)}
table.board tbody tr:hover{background:var(--panel)}
table.board thead th button{all:inherit;cursor:pointer;padding:0;display:inline}
table.board thead th button:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
table.board thead th[aria-sort=ascending] button::after{content:" \\25B2";font-size:.7em}
table.board thead th[aria-sort=descending] button::after{content:" \\25BC";font-size:.7em}
.ci{color:var(--muted);font-size:.85em}
.na{color:var(--muted)}
tr.superseded{opacity:.7}
tr.superseded th,tr.superseded td{font-style:italic}
.badge{display:inline-block;font-size:.75rem;padding:0 .4rem;border-radius:1rem;border:1px solid var(--line)}
.status-verified{background:#dafbe1;color:#116329;border-color:#4ac26b}
.status-pending{background:#fff8c5;color:#7d4e00;border-color:#d4a72c}
.superseded.badge{background:#ffebe9;color:#a40e26;border-color:#ff8182}
.plots{display:flex;flex-wrap:wrap;gap:1rem;margin:.4rem 0 .8rem}
.plots figure{margin:0;flex:1 1 420px;max-width:620px;background:var(--panel);border:1px solid var(--line);
border-radius:8px;padding:.5rem .7rem}
.plots figcaption{font-size:.85rem;font-weight:600;margin-bottom:.2rem}
.plots svg{width:100%;height:auto;display:block;color:var(--fg)}
.plots svg text{font-size:11px;fill:currentColor}
.plots .grid{stroke:var(--line);stroke-width:1}
.plots .axis{stroke:currentColor;stroke-width:1}
ul.legend{list-style:none;margin:.3rem 0 0;padding:0;font-size:.78rem;columns:2;column-gap:1rem}
ul.legend li{break-inside:avoid;display:flex;align-items:center;gap:.35rem}
ul.legend .swatch{display:inline-block;width:1.3rem;height:0;border-top:3px solid}
.note{color:var(--muted);font-size:.85rem}
footer{color:var(--muted);font-size:.8rem;padding:1rem;border-top:1px solid var(--line)}
[hidden]{display:none !important}
"""

_JS = r"""
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
  function rocPlot(rows) {
    var curves = rows.filter(function (r) { return r.roc && !r.superseded; });
    if (!curves.length) return null;
    curves.sort(function (a, b) { return (b.tpr_1 === null ? -1 : b.tpr_1) - (a.tpr_1 === null ? -1 : a.tpr_1); });
    var total = curves.length;
    curves = curves.slice(0, MAX_CURVES);
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
      var name = r.attack + (r.defense !== "none" ? " / " + r.defense : "");
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
  function utilityPlot(rows) {
    var best = {}, order = [];
    rows.forEach(function (r) {
      if (r.superseded || r.tpr_1 === null || r.test_accuracy === null) return;
      if (!(r.defense in best)) { order.push(r.defense); best[r.defense] = r; }
      else if (r.tpr_1 > best[r.defense].tpr_1) best[r.defense] = r;
    });
    var points = order.map(function (d) { return best[d]; });
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
        svg.appendChild(el("line", { "class": "grid", x1: L, x2: L + w, y1: y(v), y2: y(v), opacity: m === 1 ? 1 : 0.5 }));
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
      var g = el("g", {});
      g.appendChild(el("title", {}, r.defense + ": test acc " + r.test_accuracy + "%, TPR " + r.tpr_1 +
        "% @ 1% FPR (strongest attack: " + r.attack + ")"));
      g.appendChild(el("circle", { cx: cx, cy: cy, r: none ? 5.5 : 4, fill: none ? "none" : "#0072B2",
        stroke: none ? "#D55E00" : "#ffffff", "stroke-width": none ? 2.5 : 1 }));
      var label = none ? "none (no defense)" : r.defense, width = label.length * (none ? 6.6 : 6.1) + 2;
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
    var rows = data.rows.filter(function (r, i) { return !visible || visible[i]; });
    box.textContent = "";
    [rocPlot(rows), utilityPlot(rows)].forEach(function (fig) { if (fig) box.appendChild(fig); });
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
  function apply() {
    var f = {};
    fields.forEach(function (input) { f[input.name] = input.value.trim(); });
    var shown = 0, total = 0;
    allSections.forEach(function (sec) {
      var inSection = matches(sec.getAttribute("data-track"), f.track, true) && matches(sec.getAttribute("data-task"), f.task, true);
      var visible = [], n = 0;
      Array.prototype.forEach.call(sec.querySelectorAll("tbody tr"), function (tr) {
        var ok = inSection && matches(tr.getAttribute("data-attack"), f.attack, true) &&
          matches(tr.getAttribute("data-defense"), f.defense, false) && matches(tr.getAttribute("data-status"), f.status, true);
        tr.hidden = !ok;
        visible[+tr.getAttribute("data-row")] = ok;
        total++;
        if (ok) n++;
      });
      shown += n;
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
"""


def _json_blob(data) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` left to end it early."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _select(name: str, label: str, values: list[str]) -> str:
    esc = html.escape
    options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
    return f'<label>{esc(label)}<select name="{name}"><option value="">all</option>{options}</select></label>'


def render(entries: list[dict]) -> str:
    """The page's HTML for these entries."""
    esc = html.escape
    table = build.rows(entries)
    rocs = {}
    for entry in entries:
        roc = _roc_of(entry)
        if roc is not None:
            rocs[_entry_key(entry)] = roc
    sections_html, sections_data, toc = [], [], []
    for (track, task), group in table.groupby(["track", "task"], sort=True) if not table.empty else []:
        # rows() orders each (track, task) group: ranked rows first, superseded ones last
        records = group.to_dict("records")
        text, data = _section(track, task, records, rocs)
        sections_html.append(text)
        sections_data.append(data)
        toc.append(f'<a href="#{data["id"]}">{esc(track)} / {esc(task)}</a>')

    def values(col: str) -> list[str]:
        return sorted({str(v) for v in table[col]}) if not table.empty else []

    filters = (
        '<form class="filters" id="filters" hidden role="search" aria-label="Filter the tables">'
        + _select("track", "track", values("track"))
        + _select("task", "task", values("task"))
        + _select("attack", "attack", values("attack"))
        + '<label>defense (contains)<input name="defense" type="search" list="defense-names"'
        ' placeholder="e.g. dpsgd" autocomplete="off"></label><datalist id="defense-names">'
        + "".join(f'<option value="{esc(v)}"></option>' for v in values("defense"))
        + "</datalist>"
        + _select("status", "status", values("status"))
        + '<button type="reset">reset</button><span id="filter-count" aria-live="polite"></span></form>'
    )
    tracks = values("track")
    summary = (
        f"{len(table)} settings from {len(entries)} entries on {len(sections_data)} (track, task) tables"
        f" in {len(tracks)} track{'s' if len(tracks) != 1 else ''}"
    )
    body = "\n".join(sections_html) if sections_html else '<p class="note">No entries yet.</p>'
    data = {"max_curves": MAX_ROC_CURVES, "sections": sections_data}
    lede = (
        "Membership inference attacks and defenses on classifiers. Each number is the mean over the K target"
        " models of a run, with its bootstrap 95% confidence interval in brackets. TPR% @ x% FPR is the share"
        " of members an attack finds when it may wrongly flag x% of non-members; AUC is the area under the ROC"
        " curve (0.5 is chance). Tables are ranked by TPR at 1% FPR within one track and task (tracks are"
        " never mixed); rows on a superseded task version are listed last and not ranked. Test acc % is the"
        " target models' mean test accuracy."
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(TITLE)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header>\n<h1>{esc(TITLE)}</h1>\n<p class="lede">{esc(lede)}</p>\n'
        f'<p class="note">{esc(summary)}. Click a column header to sort; use the filters to narrow the rows.</p>\n'
        '<noscript><p class="note">JavaScript is off: the tables are complete, but sorting, filters and'
        " the ROC and privacy-utility plots need it.</p></noscript>\n"
        f'<nav class="toc" aria-label="Tables">{"".join(toc)}</nav>\n'
        f"{filters}\n</header>\n<main>\n{body}\n</main>\n"
        "<footer>Built by <code>miabench.leaderboard.site</code> from the leaderboard entries;"
        " the same tables are in leaderboard.md, .csv, .json and .tex.</footer>\n"
        f'<script type="application/json" id="leaderboard-data">{_json_blob(data)}</script>\n'
        f"<script>{_JS.replace('MAX_CURVES', 'DATA.max_curves')}</script>\n"
        "</body>\n</html>\n"
    )


def write_site(entries: list[dict], out_dir: Path) -> Path:
    """Write the self-contained ``index.html`` for these entries into ``out_dir``; return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(render(entries), encoding="utf-8")
    return path


def write_board(entries: list[dict], out_dir: Path) -> list[Path]:
    """Every output of ``miabench leaderboard build``: the tables, the BibTeX and ``index.html``."""
    return [*build.build(entries, out_dir).values(), write_site(entries, out_dir)]
