"""The leaderboard build: selection, ranking, track and version separation, and every output format."""

import json
import math
import random
import re
from pathlib import Path

import pandas as pd
import pytest

from miabench import formats, record
from miabench.leaderboard import build, columns, entries, site
from miabench.record import Entry

RESULTS = Path(__file__).resolve().parents[2] / "results" / "cpu"


def _entry(run: str, attack: str) -> Entry:
    return entries.make_entry(record.read(RESULTS / run / attack / "result.json"), "tester")


@pytest.fixture(scope="module")
def with_tpr(variant):
    """``with_tpr(entry, tpr_1, **changes)``: a distinct entry with another TPR at 1% FPR (a fraction)."""

    def make(entry: Entry, tpr_1: float, **changes) -> Entry:
        def edit(data):
            data["metrics"]["tpr_at_fpr"]["0.01"] |= {"mean": tpr_1, "std": 0.0, "ci95": [tpr_1, tpr_1]}

        return variant(entry, salt=tpr_1, edit=edit, **changes)

    return make


@pytest.fixture(scope="module")
def sample(with_tpr) -> list[Entry]:
    adult = [_entry("adult-none-K16-seed0", attack) for attack in ("loss", "lira", "rmia-online")]
    distress = [_entry("distress-v2.0-minilm-head-none-K16-seed0", attack) for attack in ("loss", "lira")]
    gpu = with_tpr(adult[0], 0.99, **{"track.name": "gpu"})  # would top cpu/adult if tracks were mixed
    old = with_tpr(adult[0], 0.98, **{"task.version": "0.9"})  # a superseded task version
    weird = with_tpr(adult[1], 0.0, **{"attack.name": "my_attack#1 & 50%"})
    return adult + distress + [gpu, old, weird]


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_format_is_written_and_markdown_matches(sample, tmp_path):
    paths = build.build(sample, tmp_path)
    assert {path.name for path in paths.values()} == {
        "leaderboard.md",
        "leaderboard.csv",
        "leaderboard.json",
        "leaderboard.tex",
        "citations.bib",
    }
    assert paths["md"].read_text() == build.markdown(sample)
    table = build.rows(sample)
    assert len(pd.read_csv(paths["csv"])) == len(table) == len(json.loads(paths["json"].read_text()))
    assert r"\begin{tabular}" in paths["tex"].read_text() and r"\toprule" in paths["tex"].read_text()


def test_rows_are_ranked_by_tpr_at_1_percent_within_each_track_and_task(sample):
    table = build.rows(sample)
    for (track, task), group in table[table["ranked"]].groupby(["track", "task"]):
        assert list(group["tpr_1"]) == sorted(group["tpr_1"], reverse=True)
        assert group["rank"].iloc[0] == 1
    cpu_adult = table[(table.track == "cpu") & (table.task == "adult") & table.ranked]
    assert list(cpu_adult["attack"][:3]) == ["rmia-online", "lira", "loss"]
    assert {"cpu", "gpu"} == set(table["track"])
    (gpu,) = table[table.track == "gpu"].to_dict("records")  # ranked on its own track
    assert gpu["ranked"] and gpu["rank"] == 1


def test_tracks_are_never_mixed(sample):
    text = build.markdown(sample)
    assert "## cpu / adult" in text and "## gpu / adult" in text
    gpu = _section(text, "gpu / adult")
    assert gpu.count("| 1 ") == 1 and "rmia-online" not in gpu  # only the gpu entry, ranked alone
    assert "99.00 [99.00, 99.00]" in gpu and "99.00" not in _section(text, "cpu / adult")


def test_superseded_versions_are_listed_apart_unranked(sample):
    table = build.rows(sample)
    old = table[table["task_version"] == "0.9"]
    assert len(old) == 1 and old["superseded"].all() and old["rank"].isna().all()
    assert not table[table["task_version"] == "1.0"]["superseded"].any()
    ranked, superseded = _section(build.markdown(sample), "cpu / adult").split("Listed apart")
    assert "superseded: task v0.9" in superseded
    assert "98.00" in superseded and "98.00" not in ranked


def test_unregistered_task_is_listed_apart_not_superseded(sample, with_tpr):
    unknown = with_tpr(sample[0], 0.5, **{"task.name": "no-such-task", "task.version": "7"})
    (row,) = build.rows([unknown]).to_dict("records")
    assert not row["superseded"] and not row["ranked"] and row["apart"] == "task not registered"


def test_one_row_per_setting_and_an_unofficial_k_never_ranked(sample, with_tpr):
    base = sample[0]
    few = with_tpr(base, 0.3, models=4, **{"provenance.submitted": "2026-12-01T00:00:00+00:00"})
    many = with_tpr(base, 0.2, **{"provenance.submitted": "2026-11-01T00:00:00+00:00"})
    later = with_tpr(base, 0.1, **{"provenance.submitted": "2026-11-02T00:00:00+00:00"})
    table = build.rows([few, many, later])
    assert table["tpr_1"].tolist() == [pytest.approx(10.0), pytest.approx(30.0)]  # the latest official, then K=4
    assert table["rank"].tolist()[0] == 1 and pd.isna(table["rank"].tolist()[1])
    assert table["apart"].tolist()[1] == "K=4 (the track's is 16)"
    params = with_tpr(base, 0.6, **{"task.params": {**base.task.params, "epochs": 0}})
    assert len(build.rows([base, params])) == 2  # other task parameters: another setting, and unofficial
    other = with_tpr(base, 0.4, **{"defense.name": "dpsgd", "defense.params": {"epsilon": 1.0}})
    other8 = with_tpr(base, 0.5, **{"defense.name": "dpsgd", "defense.params": {"epsilon": 8.0}})
    assert sorted(build.rows([other, other8, base])["defense"]) == ["dpsgd(epsilon=1.0)", "dpsgd(epsilon=8.0)", "none"]


def test_flagged_column_only_for_tasks_with_flagged_metrics(sample):
    text = build.markdown(sample)
    assert "flagged TPR% @ 5% FPR" in _section(text, "cpu / distress")
    assert "flagged" not in _section(text, "cpu / adult")
    table = build.rows(sample)
    assert table[table.task == "distress"]["flagged_tpr_5"].notna().all()
    assert table[table.task == "adult"]["flagged_tpr_5"].isna().all()


def test_latex_escapes_special_characters(sample, tmp_path):
    tex = build.build(sample, tmp_path)["tex"].read_text()
    assert r"my\_attack\#1 \& 50\%" in tex
    assert r"TPR\% @ 1\% FPR" in tex
    assert build.tex_escape("a\\b{c}~^$") == r"a\textbackslash{}b\{c\}\textasciitilde{}\textasciicircum{}\$"


def test_citations_come_from_the_registry_never_from_an_entry(sample, with_tpr, tmp_path):
    forged = with_tpr(sample[1], 0.1, citation={"task": [], "attack": ["fake2099"], "defense": ["fake2099"]})
    bib = build.build(sample + [forged], tmp_path)["bib"].read_text()
    assert bib == build.citations(sample) and "fake2099" not in bib
    keys = [line.split("{", 1)[1].rstrip(",") for line in bib.splitlines() if line.startswith("@")]
    assert keys[0] == "miabench" and len(keys) == len(set(keys))
    assert keys[1:] == sorted(keys[1:], key=str.lower)
    assert {"becker1996adult", "carlini2022membership"} <= set(keys)  # adult, and lira's own
    assert bib.count("@inproceedings{carlini2022membership,") == 1


def test_markdown_and_csv_cells_cannot_inject(sample, variant, tmp_path):
    html, formula = "<img src=x onerror=alert(1)> | x", '=HYPERLINK("http://evil")'
    hostile = variant(sample[0], **{"attack.name": html, "defense.name": formula})
    paths = build.build([*sample, hostile], tmp_path)
    markdown = paths["md"].read_text()
    assert "<img" not in markdown and "&lt;img src=x onerror=alert(1)&gt; \\| x" in markdown
    (line,) = [line for line in markdown.splitlines() if "onerror" in line]
    assert line.count(" | ") == line.replace("\\|", "").count(" | ")  # the escaped pipe splits no cell
    csv = pd.read_csv(paths["csv"])
    assert "'=HYPERLINK" in csv["defense"].iloc[-1] or any(csv["defense"].str.startswith("'=HYPERLINK"))
    assert not any(str(cell).startswith(("=", "+", "@")) for cell in csv.astype(str).to_numpy().ravel())
    assert build.csv_cell("-2+3") == "'-2+3" and build.csv_cell(-2.5) == -2.5  # numbers stay numbers


def test_output_is_deterministic(sample, tmp_path):
    first = build.build(sample, tmp_path / "a")
    shuffled = list(sample)
    random.Random(1).shuffle(shuffled)
    second = build.build(shuffled, tmp_path / "b")
    for fmt, path in first.items():
        assert path.read_bytes() == second[fmt].read_bytes(), fmt


def _tables(sample, out: Path) -> tuple[list[str], list[str], str]:
    """The header lines of the Markdown and LaTeX tables (of ranked rows), and the page."""
    paths = build.build(sample, out)
    markdown = [line for line in paths["md"].read_text().splitlines() if line.startswith("| rank ")]
    latex = [line for line in paths["tex"].read_text().splitlines() if line.startswith("rank & ")]
    return markdown, latex, site.render(sample)


def test_the_column_spec_drives_every_format(sample, monkeypatch, tmp_path):
    sections = len(build.rows(sample).groupby(["track", "task"]))
    seed = columns.Column("seed", "seed of the run", numeric=True)
    never = columns.Column("created", "never shown", when=lambda rows: False)
    monkeypatch.setattr(columns, "TABLE", (*columns.TABLE[:-1], seed, never, columns.TABLE[-1]))
    markdown, latex, page = _tables(sample, tmp_path / "added")
    assert len(markdown) == len(latex) == sections
    assert all("| seed of the run   | status   |" in line for line in markdown)
    assert all(r"seed of the run & status \\" in line for line in latex)
    assert page.count('<th scope="col" data-key="seed" data-type="num">seed of the run</th>') == sections
    assert re.search(r'<td class="num" data-value="0">0</td><td data-value="pending">', page)
    assert r"\begin{tabular}{rllrrrrrrrl}" in (tmp_path / "added" / "leaderboard.tex").read_text()  # a number: right
    assert "never shown" not in page and not any("never shown" in line for line in markdown + latex)

    monkeypatch.setattr(columns, "TABLE", tuple(column for column in columns.TABLE if column.key != "K"))
    markdown, latex, page = _tables(sample, tmp_path / "removed")
    assert markdown and not any("| K " in line for line in markdown) and not any(" & K & " in line for line in latex)
    assert 'data-key="K"' not in page


def test_confidence_intervals_are_written_one_way():
    assert formats.ci(0.51234, 0.5, 0.52501, 3) == "0.512 [0.500, 0.525]"
    assert formats.ci(0.0144, 0.0123, 0.0164, 2, scale=100) == "1.44 [1.23, 1.64]"
    assert formats.ci(math.nan, 0.1, 0.2, 2) == formats.ci(None, None, None, 2) == "n/a"
    assert formats.ci(1.0, math.nan, math.nan, 2) == "1.00"  # no interval rather than "[nan, nan]"
    assert formats.fixed(pd.NA, 2) == "n/a" and formats.fixed(83.655, 2) == "83.66"
    auc = next(column for column in columns.TABLE if column.key == "auc")
    row = {"auc": 0.61179, "auc_lo": 0.609, "auc_hi": 0.615}
    assert auc.text(row) == "0.612 [0.609, 0.615]" and auc.parts(row) == ("0.612", "[0.609, 0.615]")


def test_latex_escapes_hostile_names_cell_by_cell(sample, variant, tmp_path):
    name = "<script>x</script> & 50% a_b {c} $#~^\\"
    hostile = variant(sample[0], **{"attack.name": name, "defense.name": name})
    tex = build.build([*sample, hostile], tmp_path)["tex"].read_text()
    (line,) = [line for line in tex.splitlines() if build.tex_escape(name) in line]
    assert line.count(build.tex_escape(name)) == 3  # attack, defense, and the reason it is not ranked
    rows = build.rows([*sample, hostile]).query("task == 'adult' and track == 'cpu'").to_dict("records")
    shown = columns.shown(rows, apart=True)
    assert len(re.findall(r"(?<!\\)&", line)) == len(shown) - 1  # every cell in its own column


def test_an_entry_scored_from_a_published_cube_shows_its_attack_package_and_cube(sample, with_tpr):
    cube = {"repo": "miabench/signal-cubes", "revision": "0123abcd" * 5, "path": "cpu/adult/none-0", "sha256": "0" * 64}
    package = {"name": "toy-attack", "version": "0.1"}
    toy = with_tpr(sample[1], 0.5, **{"attack.name": "toy", "attack.package": package, "cube": cube})
    table = build.rows([*sample, toy])
    row = table[table["attack"] == "toy"].iloc[0]
    assert row["attack_package"] == "toy-attack 0.1" and row["scored_from"] == "cube miabench/signal-cubes@0123abcd"
    assert row["ranked"] and row["rank"] == 1  # an entry of the setting like any other
    assert set(table[table["attack"] != "toy"]["attack_package"]) == {""} == set(table["scored_from"][1:])
    adult = _section(build.markdown([*sample, toy]), "cpu / adult")
    assert "| attack package" in adult and re.search(
        r"\| toy +\| toy-attack 0.1 +\| cube miabench/signal-cubes@0123abcd", adult
    )
    assert "| scored from" in adult
    assert "attack package" not in build.markdown(sample)  # shown only where an entry has one
