"""The README and docs stay true: component lists match the registry, tables their records, CI the test command."""

import json
import re
from pathlib import Path

import pytest

import miabench
from miabench import record
from miabench.registry import attacks, defenses, tasks

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def readme_table_names(heading: str) -> list[str]:
    section = README.split("<!-- registry -->")[1].split("<!-- /registry -->")[0]
    table = section.split(f"**{heading}**")[1].split("**")[0]
    return sorted(re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE))


@pytest.mark.parametrize(("heading", "registry"), [("Tasks", tasks), ("Attacks", attacks), ("Defenses", defenses)])
def test_readme_lists_every_registered_component(heading, registry):
    assert readme_table_names(heading) == registry.names()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    commands = re.search(r"```bash\n(.+?)\n```", README, flags=re.DOTALL).group(1).splitlines()
    assert len(commands) == 2
    assert "miabench run" in commands[0] and "pytest" in commands[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == commands[1]


DOCS = [README, *(path.read_text() for path in sorted((ROOT / "docs").glob("*.md")))]
RESULT_BLOCKS = [
    block
    for text in DOCS
    for block in re.findall(r"<!-- results: (\S+) -->\n(.+?)\n<!-- /results -->", text, flags=re.DOTALL)
]


def test_readme_has_result_tables():
    assert {folder for folder, _ in RESULT_BLOCKS} >= {"results/cpu/location-none-K16-seed0"}


@pytest.mark.parametrize(("folder", "block"), RESULT_BLOCKS, ids=[folder for folder, _ in RESULT_BLOCKS])
def test_readme_result_tables_are_the_committed_records(folder, block):
    from miabench.report import results_table

    names = re.findall(r"^\| (\S+) +\|", block, flags=re.MULTILINE)[1:]  # skip the header row
    records = [record.read(ROOT / folder / name / "result.json") for name in names]
    assert all(written.miabench.dirty is False for written in records)  # run from a committed tree
    assert results_table(records) in block


FRONTIER_BLOCKS = [
    block
    for text in DOCS
    for block in re.findall(r"<!-- frontier: (\S+) -->\n(.+?)\n<!-- /frontier -->", text, flags=re.DOTALL)
]


@pytest.mark.parametrize(("folder", "block"), FRONTIER_BLOCKS, ids=[folder for folder, _ in FRONTIER_BLOCKS])
def test_frontier_tables_are_the_committed_records(folder, block):
    from miabench import frontier

    settings = [point["setting"] for point in json.loads((ROOT / folder / "frontier.json").read_text())]
    runs = [(setting, list(miabench.load(ROOT / folder / setting))) for setting in settings]
    assert all(written.miabench.dirty is False for _, records in runs for written in records)
    assert frontier.table([frontier.point(setting, records) for setting, records in runs]) in block


BENCHMARK_ROWS = re.findall(r"^\| `(\S+)` \|(.+)\| `(\S+\.json)` \|$", README.split("<!-- benchmarks -->")[1].split(
    "<!-- /benchmarks -->")[0], flags=re.MULTILINE)  # fmt: skip


@pytest.mark.parametrize(("task", "cells", "file"), BENCHMARK_ROWS, ids=[row[2] for row in BENCHMARK_ROWS])
def test_readme_benchmark_figures_are_the_committed_measurements(task, cells, file):
    measured = json.loads((ROOT / "results" / "benchmarks" / file).read_text())
    assert measured["task"] == task
    rates = [f"{measured['strategies'][name]['models_per_minute']:g}" for name in ("stacked", "grouped", "sequential")]
    stages = measured["end_to_end"]["stages_seconds"]
    attacks = round(sum(stages[name] for name in ("lira", "lira-offline", "rmia")), 2)
    expected = [*rates, measured["fastest"], f"{stages['train_and_signals']:g} + {attacks:g}"]
    assert [cell.strip() for cell in cells.split("|")] == expected


def test_readme_leaderboard_is_the_build_of_the_entries():
    from miabench.leaderboard import build

    block = README.split("<!-- leaderboard -->\n")[1].split("\n<!-- /leaderboard -->")[0]
    assert block == build.markdown(build.load(), top=3, level=3).rstrip("\n")


def test_readme_defense_table_is_the_build_of_the_entries():
    from miabench.leaderboard import build

    block = README.split("<!-- defenses -->\n")[1].split("<!-- /defenses -->")[0]
    assert block == build.defense_markdown(build.load(), level=3)


def test_the_readme_python_example_runs(data_dir, tmp_path, monkeypatch, capsys):
    code = README.split("## Python API")[1].split("```python\n")[1].split("\n```")[0]
    monkeypatch.chdir(tmp_path)  # it writes miabench-results/quick there
    monkeypatch.setenv("MIABENCH_DATA_DIR", str(Path(data_dir).resolve()))
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own example, run as a user would
    out = capsys.readouterr().out
    assert "| lira " in out and "tpr@1%fpr" in out
    assert (tmp_path / "miabench-results" / "quick" / "lira" / "result.json").is_file()


def test_the_example_configs_are_valid_run_specs():
    from miabench import spec

    for path in sorted((ROOT / "examples").glob("*.toml")):
        if path.name.startswith("suite-"):
            continue  # a suite (miabench suite), not a run: tests/benchmark/test_suite.py reads it
        config = spec.read_config(path)
        defenses = config.pop("defense", "none")
        defenses = [defenses] if isinstance(defenses, str) else defenses
        spec.sweep(defenses, config.pop("params"), config.pop("out", None), **config)  # refuses a bad one
