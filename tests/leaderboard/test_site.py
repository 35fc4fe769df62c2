"""The leaderboard's static web page: self-contained, deterministic, escaped, and working in a browser."""

import json
import math
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from miabench import frontier, record
from miabench.leaderboard import build, defense_view, entries, site
from miabench.record import Entry, Roc

RESULTS = Path(__file__).resolve().parents[2] / "results" / "cpu"
LOCATION_RUN = RESULTS / "location-defenses-K16-seed0"
LACKING = [LOCATION_RUN / "l2" / "shadow" / "result.json"]
TEXT_RUNS = [f"{task}-{family}" for task in ("distress-v2.0", "support") for family in ("minilm-head", "ngram-mlp")]
# Would run if a page assembled it unescaped: as a table cell, an attribute, a plot label or the JSON blob. Names
# that make up an entry's path are of a safe alphabet; a model family and a defense's params are free text.
HOSTILE = "</script><script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 1\"> & 'q' {x}_%"


def _entry(result: Path) -> Entry:
    return entries.make_entry(record.read(result), "tester")


def _roc(entry: Entry, strength: float) -> Entry:
    """A synthetic mean ROC on a log-spaced FPR grid: TPR = FPR ** strength (strength < 1 beats chance)."""
    fpr = [10 ** (-4 + 4 * i / 40) for i in range(41)]
    return entry.model_copy(update={"roc": Roc(fpr=fpr, tpr=[min(1.0, f**strength) for f in fpr])})


@pytest.fixture(scope="module")
def sample(variant) -> list[Entry]:
    # All of the sweep but one attack on l2: that setting is shown in the defense table, not ranked.
    location = [_entry(path) for path in sorted(LOCATION_RUN.glob("*/*/result.json")) if path not in LACKING]
    # The sweep predates the one attack set: its settings lack lira-offline, rmia and reference (and label-only where
    # labels are served), stood in for by their LOSS entries under those names (LOSS is never a setting's strongest,
    # so the ranking is the sweep's).
    lacking = ("lira-offline", "rmia", "reference")
    location += [variant(e, **{"attack.name": name}) for e in location if e.attack.name == "loss"
                 for name in lacking + ("label-only",) * (e.defense.name == "label-only")]  # fmt: skip
    location = [_roc(e, 0.5 + 0.03 * i) if i % 3 == 0 else e for i, e in enumerate(location)]
    adult = [_entry(RESULTS / "adult-none-K16-seed0" / a / "result.json") for a in ("loss", "lira", "rmia-online")]
    adult = [_roc(e, 0.7 + 0.1 * i) for i, e in enumerate(adult)]
    # The text tasks: two model families each, and the widest tables (a model column, flagged TPRs).
    text = [
        _entry(RESULTS / f"{run}-none-K16-seed0" / a / "result.json") for run in TEXT_RUNS for a in ("loss", "lira")
    ]
    weird = variant(adult[0], **{"task.model_family": "<b>x</b>"})  # a name that must come out escaped
    hostile = variant(adult[2], **{"task.model_family": HOSTILE})  # ranked: in the table, the plots, the blob
    old = variant(adult[1], **{"task.version": "0.9"})  # a superseded task version: listed, not ranked
    # Another track, its own table, without ROC curves; a defense label from free-text params (listed apart).
    gpu = variant(text[0], **{"track.name": "gpu", "defense.name": "shield", "defense.params": {"note": "plain"}})
    shield = variant(text[1], **{"track.name": "gpu", "defense.name": "shield", "defense.params": {"note": HOSTILE}})
    text = [_roc(e, 0.6 + 0.05 * i) for i, e in enumerate(text)]
    return location + adult + text + [weird, hostile, old, gpu, shield]


class _Tables(HTMLParser):
    """Rows of each ``<table class="board KIND">`` by (track, task) under ``tables[KIND]``, and every src/href value."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, dict[tuple[str, str], list[dict]]] = {"attacks": {}, "defenses": {}, "matched": {}}
        self.links: list[str] = []
        self._current = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[key] for key in ("src", "href") if attrs.get(key)]
        classes = (attrs.get("class") or "").split()
        if tag == "table" and "board" in classes:
            (kind,) = set(classes) & set(self.tables)
            self._current = self.tables[kind].setdefault((attrs["data-track"], attrs["data-task"]), [])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._current is not None:
            self._current.append(attrs)

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._current = None


@pytest.fixture(scope="module")
def page(sample, tmp_path_factory) -> Path:
    return site.write_site(sample, tmp_path_factory.mktemp("site"))


def _tables(text: str) -> dict:
    parser = _Tables()
    parser.feed(text)
    return parser.tables


def _expected_counts(sample) -> dict:
    table = build.rows(sample)
    return {key: len(group) for key, group in table.groupby(["track", "task"])}


def test_page_is_self_contained_with_a_table_per_track_and_task(sample, page):
    text = page.read_text()
    assert page.name == "index.html"
    parser = _Tables()
    parser.feed(text)
    assert not [link for link in parser.links if re.match(r"\s*(https?:)?//", link)]  # nothing fetched from afar
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", text)  # no external scripts or styles
    assert '<script type="application/json" id="leaderboard-data">' in text
    counts = _expected_counts(sample)
    tables = parser.tables["attacks"]
    assert {key: len(rows) for key, rows in tables.items()} == counts
    assert counts[("cpu", "location")] == sum(entry.task.name == "location" for entry in sample)
    assert ("gpu", "distress") in tables and ("cpu", "distress") in tables  # tracks apart

    # The superseded row is listed apart, saying why, and has no rank; the ranked rows are numbered from 1.
    adult = tables[("cpu", "adult")]
    assert [row["data-ranked"] for row in adult] == ["true"] * (len(adult) - 1) + ["false"]
    assert adult[-1]["class"] == "apart" and '<span class="badge apart">superseded: task v0.9</span>' in text
    assert re.search(r'<tr class="apart"[^>]*><td class="num" data-value=""></td>', text)


def _section_html(text: str, section_id: str) -> str:
    return text.split(f'<section class="board-section" id="{section_id}"', 1)[1].split("</section>", 1)[0]


def test_sections_with_defenses_rank_them_by_privacy(sample, page):
    text = page.read_text()
    tables = _tables(text)["defenses"]
    expected = defense_view.table(build.rows(sample))
    assert set(tables) == {("cpu", "location")}  # not where none is the only setting, nor from rows listed apart
    location = expected.query("track == 'cpu' and task == 'location'")
    assert [row["data-defense"] for row in tables[("cpu", "location")]] == list(location["defense"])
    assert list(location["defense"])[-1] == "l2" and location["rank"].isna().tolist() == [False] * 15 + [True]
    ranked = location["rank"].notna()
    assert list(location["tpr_1"][ranked]) == sorted(location["tpr_1"][ranked])
    html = _section_html(text, "board-cpu--location")
    assert html.index('id="board-cpu--location-table"') < html.index('id="board-cpu--location-defenses"')
    assert f"{defense_view.TITLE}</h3>" in html
    assert f'data-noun="defense setting">{len(location)} defense settings</span>,\nranked by privacy' in html
    # The setting that lacks an attack: listed last, unranked, saying why.
    assert tables[("cpu", "location")][-1] == {"class": "apart", "data-defense": "l2", "data-status": "pending"}
    assert '<td data-value="lacks: shadow">lacks: shadow</td>' in html


def test_each_section_tells_its_size(sample, page):
    text = page.read_text()
    (examples,) = {entry.metrics.examples for entry in sample if entry.task.name == "location"}
    html = _section_html(text, "board-cpu--location")
    settings = sum(entry.task.name == "location" for entry in sample)
    assert f"{settings} ranked settings · N = {round(examples):,} examples judged per target</p>" in html
    assert "N = 7,200 examples" in _section_html(text, "board-cpu--distress")
    assert site._examples_text([7200.0, 721.0, 7200.4]) == "721–7,200"  # tables whose attacks judge subsets


def test_page_embeds_the_plot_data(sample, page):
    text = page.read_text()
    blob = text.split('id="leaderboard-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(blob)
    by_id = {section["id"]: section for section in data["sections"]}
    location = by_id["board-cpu--location"]["rows"]
    assert sum(row["roc"] is not None for row in location) == math.ceil(len(location) / 3)
    assert {row["defense"].split("(")[0] for row in location} >= {"none", "dpsgd", "l2"}
    assert all(row["roc"] is None for row in by_id["board-gpu--distress"]["rows"])
    assert [row["apart"] for row in by_id["board-gpu--distress"]["rows"]] == [True, True]  # off the track: no plot
    assert by_id["board-cpu--distress"]["families"] == ["minilm-head", "ngram-mlp"]  # for the plots' legends


def test_page_is_deterministic(sample, tmp_path):
    first = site.write_site(sample, tmp_path / "a").read_bytes()
    second = site.write_site(list(reversed(sample)), tmp_path / "b").read_bytes()
    assert first == second


def test_names_are_escaped(page):
    text = page.read_text()
    assert "<b>x</b>" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text  # in the table and the section's meta line
    assert "\\u003cb\\u003ex\\u003c/b\\u003e" in text  # in the JSON blob, which cannot end the script early


def test_hostile_names_are_escaped_everywhere(page):
    text = page.read_text()
    assert HOSTILE not in text and "<img" not in text and 'onerror="' not in text
    assert text.count("<script") == 2 and text.count("</script>") == 2  # the data blob and the page's script
    assert text.count("&lt;/script&gt;&lt;script&gt;window.pwned = 1") >= 5  # cells, attributes, filters, meta
    blob = text.split('id="leaderboard-data">', 1)[1].split("</script>", 1)[0]
    rows = [row for section in json.loads(blob)["sections"] for row in section["rows"]]
    assert HOSTILE in {row["model_family"] for row in rows} and f"shield(note={HOSTILE})" in {
        r["defense"] for r in rows
    }


def test_rebuilding_the_board_gives_identical_bytes(sample, tmp_path):
    first = site.write_board(sample, tmp_path / "a")
    second = site.write_board(list(reversed(sample)), tmp_path / "b")
    assert [path.name for path in first] == [path.name for path in second]
    assert len(first) == 6 and all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))


def test_the_frontier_is_each_settings_strongest_attack():
    rows = [
        {"setting": "a", "attack": "x", "tpr_1": 1.0, "test_accuracy": 90.0},
        {"setting": "b", "attack": "x", "tpr_1": 2.0, "test_accuracy": 80.0},
        {"setting": "a", "attack": "y", "tpr_1": 3.0, "test_accuracy": 90.0},
        {"setting": "a", "attack": "z", "tpr_1": 3.0, "test_accuracy": 90.0},  # a tie: the first seen wins
        {"setting": "a", "attack": "old", "tpr_1": 9.0, "test_accuracy": 90.0, "superseded": True},
        {"setting": "c", "attack": "x", "tpr_1": None, "test_accuracy": 70.0},
        {"setting": "b", "attack": "w", "tpr_1": 5.0, "test_accuracy": math.nan},
    ]
    assert [(row["setting"], row["attack"]) for row in frontier.strongest(rows)] == [("a", "y"), ("b", "x")]
    assert [[row["attack"] for row in group] for group in frontier.ranked(rows)] == [["y", "z", "x"], ["x"]]


def test_page_embeds_each_defenses_attacks_strongest_first(page):
    text = page.read_text()
    data = json.loads(text.split('id="leaderboard-data">', 1)[1].split("</script>", 1)[0])
    location = next(section for section in data["sections"] if section["id"] == "board-cpu--location")
    rows, ranked = location["rows"], location["frontier"]
    assert [rows[group[0]] for group in ranked] == frontier.strongest(rows, setting="defense")
    assert len(ranked) == len({row["defense"] for row in rows}) >= 10
    for group in ranked:
        assert len({rows[i]["defense"] for i in group}) == 1
        assert [rows[i]["tpr_1"] for i in group] == sorted((rows[i]["tpr_1"] for i in group), reverse=True)


def test_no_entries_give_an_empty_page(tmp_path):
    text = site.write_site([], tmp_path).read_text()
    assert "No entries yet." in text and "<table" not in text


def _browser():
    """Playwright's sync API and the system chromium, or a skip."""
    reason = "needs chromium and playwright (apt install chromium; pip install playwright)"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(reason)
    if not chromium:
        pytest.skip(reason)
    return sync_playwright, chromium


def _column(page, table: str, header: str) -> list[float]:
    """The numeric sort values of a column in the table's current order, missing ones as None."""
    return page.eval_on_selector(
        table,
        """(table, header) => {
            const ths = Array.from(table.tHead.rows[0].cells);
            const col = ths.findIndex(th => th.textContent.trim() === header);
            return Array.from(table.tBodies[0].rows).map(tr => {
                const v = tr.cells[col].getAttribute("data-value");
                return v === "" ? null : parseFloat(v);
            });
        }""",
        header,
    )


def test_page_in_a_browser(sample, page, tmp_path):
    sync_playwright, chromium = _browser()
    started = time.monotonic()
    errors: list[str] = []
    dialogs: list[str] = []
    table, defenses = "#board-cpu--location-table", "#board-cpu--location-defenses"
    lira = build.rows(sample).query("task == 'location' and attack == 'lira' and ranked")
    settings = defense_view.table(build.rows(sample)).query("task == 'location'")
    dpsgd = settings["defense"].str.contains("dpsgd").sum()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 900})
            tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            tab.goto(page.as_uri())
            tab.wait_for_selector("#filters:not([hidden])")

            rows = tab.locator(f"{table} tbody tr")
            assert rows.count() == _expected_counts(sample)[("cpu", "location")]
            assert tab.locator("#board-cpu--location .plot-roc svg polyline").count() == site.MAX_ROC_CURVES
            assert tab.locator("#board-cpu--location .plot-utility svg circle").count() >= 10
            assert tab.locator("#board-cpu--adult .plot-utility").count() == 0  # no defenses there
            assert tab.evaluate("window.pwned") is None  # the hostile name was shown, never run
            assert tab.locator("#board-cpu--adult .plot-roc ul.legend li", has_text="onerror").count() == 1
            # 3, and the other two families' ("<b>x</b>" and the hostile one); not the superseded one
            assert tab.locator("#board-cpu--adult .plot-roc svg polyline").count() == 5

            # The text tasks' wide tables fit the window: no scrolling sideways.
            wraps = tab.eval_on_selector_all(
                "#board-cpu--distress .table-wrap, #board-cpu--support .table-wrap",
                "wraps => wraps.map(wrap => [wrap.firstElementChild.id, wrap.scrollWidth, wrap.clientWidth])",
            )
            assert len(wraps) == 2 and all(scroll <= client for _, scroll, client in wraps), wraps
            # Where a task has two model families, the legend names each curve's.
            legend = tab.locator("#board-cpu--distress .plot-roc ul.legend li").all_text_contents()
            assert {"lira · minilm-head", "lira · ngram-mlp", "loss · ngram-mlp"} <= set(legend)
            assert "·" not in "".join(tab.locator("#board-cpu--location .plot-roc ul.legend li").all_text_contents())

            # The defense settings, ranked by privacy: the strongest attack's TPR rises down the table.
            assert tab.locator(f"{defenses} tbody tr").count() == len(settings) >= 10
            assert _column(tab, defenses, "rank") == [*range(1, len(settings)), None]  # l2 lacks shadow: last
            ranked = settings["rank"].notna()
            assert _column(tab, defenses, "TPR% @ 1% FPR")[:-1] == pytest.approx(sorted(settings["tpr_1"][ranked]))
            assert tab.locator("#board-cpu--adult-defenses").count() == 0  # none is its only setting

            # Sorting: a numeric header sorts ascending, then descending; missing values stay last.
            header = "TPR% @ 1% FPR"
            before = _column(tab, table, header)
            tab.locator(f"{table} thead th", has_text=header).locator("button").click()
            ascending = _column(tab, table, header)
            assert ascending != before and ascending == sorted(ascending)
            tab.locator(f"{table} thead th", has_text=header).locator("button").click()
            descending = _column(tab, table, header)
            assert descending == sorted(descending, reverse=True)
            assert tab.locator(f"{table} thead th", has_text=header).get_attribute("aria-sort") == "descending"
            accuracy = "test acc %"
            tab.locator(f"{table} thead th", has_text=accuracy).locator("button").click()
            assert _column(tab, table, accuracy) == sorted(_column(tab, table, accuracy))

            # Filters hide rows, and whole tables when none of their rows is left; the captions count what is left.
            caption, defenses_caption = (tab.locator(f"{name} caption .count") for name in (table, defenses))
            assert caption.text_content() == f"{rows.count()} settings"
            tab.select_option("#filters select[name=attack]", "lira")
            visible = tab.locator(f"{table} tbody tr:visible")
            assert 0 < visible.count() < rows.count()
            assert caption.text_content() == f"{visible.count()} of {rows.count()} settings shown"
            assert defenses_caption.text_content() == f"{len(settings)} defense settings"  # no attack to filter
            assert set(visible.evaluate_all("rows => rows.map(r => r.dataset.attack)")) == {"lira"}
            # The scatter follows the filters: each defense's strongest attack among the rows shown.
            points = tab.locator("#board-cpu--location .plot-utility svg g > title").all_text_contents()
            assert len(points) == lira["defense"].nunique() > 1
            assert all(point.endswith("(strongest attack: lira)") for point in points)
            tab.fill("#filters input[name=defense]", "dpsgd")
            assert tab.locator(f"{table} tbody tr:visible").count() == dpsgd >= 1
            shown = tab.locator(f"{defenses} tbody tr:visible").evaluate_all("rows => rows.map(r => r.dataset.defense)")
            assert len(shown) == dpsgd and all("dpsgd" in defense for defense in shown)
            assert defenses_caption.text_content() == f"{dpsgd} of {len(settings)} defense settings shown"
            tab.select_option("#filters select[name=task]", "adult")
            assert tab.locator("#board-cpu--location").is_hidden()
            tab.click("#filters button[type=reset]")
            tab.wait_for_function(f"document.querySelectorAll('{table} tbody tr:not([hidden])').length > 60")
            assert tab.locator(f"{table} tbody tr:visible").count() == rows.count()
            assert tab.locator(f"{defenses} tbody tr:visible").count() == len(settings)
            assert caption.text_content() == f"{rows.count()} settings"

            screenshot = tmp_path / "leaderboard.png"
            tab.locator("#board-cpu--location").screenshot(path=str(screenshot))
            tab.evaluate("window.scrollTo(0, 0)")
            tab.screenshot(path=str(tmp_path / "leaderboard-top.png"))
        finally:
            browser.close()
    assert not errors, errors
    assert not dialogs, dialogs
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")
    assert time.monotonic() - started < 30
