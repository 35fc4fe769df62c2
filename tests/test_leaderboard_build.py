"""The leaderboard build: selection, ranking, track and version separation, and every output format."""

import copy
import hashlib
import json
import random
from pathlib import Path

import pandas as pd
import pytest

from miabench.leaderboard import build, entries

RESULTS = Path(__file__).resolve().parents[1] / "results" / "cpu"


def _entry(run: str, attack: str) -> dict:
    record = json.loads((RESULTS / run / attack / "result.json").read_text())
    return entries.make_entry(record, "tester")


def variant(entry: dict, salt=None, **changes) -> dict:
    """A copy with ``changes`` (dotted paths) and another config hash (of ``salt`` and the changes)."""
    entry = copy.deepcopy(entry)
    entry["config_hash"] = hashlib.sha256(json.dumps([salt, changes], sort_keys=True).encode()).hexdigest()
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = entry
        for key in parents:
            target = target[key]
        target[last] = value
    return entry


def _variant(entry: dict, tpr_1: float, **changes) -> dict:
    """A distinct entry with another TPR at 1% FPR (a fraction)."""
    entry = variant(entry, salt=tpr_1, **changes)
    entry["metrics"]["tpr_at_fpr"]["0.01"] = {"mean": tpr_1, "std": 0.0, "ci95": [tpr_1, tpr_1]}
    return entry


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    adult = [_entry("adult-none-K16-seed0", attack) for attack in ("loss", "lira", "rmia-online")]
    distress = [_entry("distress-minilm-head-none-K16-seed0", attack) for attack in ("loss", "lira")]
    gpu = _variant(adult[0], 0.99, profile={"name": "gpu"})  # would top cpu/adult if tracks were mixed
    old = _variant(adult[0], 0.98, **{"task.version": "0.9"})  # a superseded task version
    weird = _variant(adult[1], 0.0, **{"attack.name": "my_attack#1 & 50%"})
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
    for (track, task), group in table[~table["superseded"]].groupby(["track", "task"]):
        assert list(group["tpr_1"]) == sorted(group["tpr_1"], reverse=True)
        assert group["rank"].iloc[0] == 1
    cpu_adult = table[(table.track == "cpu") & (table.task == "adult") & ~table.superseded]
    assert list(cpu_adult["attack"][:3]) == ["rmia-online", "lira", "loss"]
    assert {"cpu", "gpu"} == set(table["track"])


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
    ranked, superseded = _section(build.markdown(sample), "cpu / adult").split("Superseded")
    assert "98.00" in superseded and "98.00" not in ranked


def test_unregistered_task_is_not_superseded(sample):
    unknown = _variant(sample[0], 0.5, **{"task.name": "no-such-task", "task.version": "7"})
    table = build.rows([unknown])
    assert not table["superseded"].any() and table["rank"].tolist() == [1]


def test_one_row_per_setting_keeps_more_models_then_latest(sample):
    base = sample[0]
    few = _variant(base, 0.3, models=4, created="2030-01-01T00:00:00+00:00")
    many = _variant(base, 0.2, models=16, created="2020-01-01T00:00:00+00:00")
    later = _variant(base, 0.1, models=16, created="2021-01-01T00:00:00+00:00")
    table = build.rows([few, many, later])
    assert table["tpr_1"].tolist() == [pytest.approx(10.0)]
    other = _variant(base, 0.4, **{"defense.name": "dpsgd", "defense.params": {"epsilon": 1.0}})
    other8 = _variant(base, 0.5, **{"defense.name": "dpsgd", "defense.params": {"epsilon": 8.0}})
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


def test_citations_are_deduplicated_by_key(sample, tmp_path):
    extra = _variant(sample[0], 0.1, **{"attack.name": "cited"})
    twice = "@article{dup2020,\n  title={One}\n}\n\n@misc{other2021,\n  title={Two}\n}"
    extra["citation"] = {"task": "", "attack": twice, "defense": "@article{dup2020,\n  title={One again}\n}"}
    bib = build.build(sample + [extra], tmp_path)["bib"].read_text()
    keys = [line.split("{", 1)[1].rstrip(",") for line in bib.splitlines() if line.startswith("@")]
    assert keys[0] == "miabench" and len(keys) == len(set(keys))
    assert keys[1:] == sorted(keys[1:], key=str.lower)
    assert {"dup2020", "other2021", "carlini2022membership"} <= set(keys)
    assert bib.count("@article{dup2020,") == 1


def test_output_is_deterministic(sample, tmp_path):
    first = build.build(sample, tmp_path / "a")
    shuffled = list(sample)
    random.Random(1).shuffle(shuffled)
    second = build.build(shuffled, tmp_path / "b")
    for fmt, path in first.items():
        assert path.read_bytes() == second[fmt].read_bytes(), fmt
