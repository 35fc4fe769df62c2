"""``miabench suite FILE.toml``: a declared matrix expands into run specs, runs in turn with one progress line
per run, skips what is done, and ends with its records submitted to a local board."""

from __future__ import annotations

from pathlib import Path

import pytest

from miabench import runner, spec, suite
from miabench.cli import main
from miabench.errors import UserError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "suite-cpu.toml"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_a_declared_matrix_expands_into_run_specs(tmp_path):
    path = write(
        tmp_path,
        """
tasks = ["location", { name = "distress", family = "ngram-mlp" }]
seeds = [0, 1]
models = 4
out = "somewhere"
[params]
epochs = 2
[[defenses]]
name = "none"
[[defenses]]
name = "l2"
params = { weight_decay = [1e-3, 1e-2] }
[[defenses]]
name = "dpsgd"
grid = true
""",
    )
    declared = suite.read(path)
    grid = len(suite.settings_of({"name": "dpsgd", "grid": True}, path)[1])
    assert grid == 6 and len(declared.runs) == 2 * 2 * (1 + 2 + grid)  # tasks x seeds x settings
    names = [name for name, _ in declared.runs]
    assert names[:3] == ["location-cpu-seed0-none", "location-cpu-seed0-l2-weight_decay=0.001",
                         "location-cpu-seed0-l2-weight_decay=0.01"]  # fmt: skip
    assert "distress-ngram-mlp-cpu-seed1-dpsgd-epsilon=16.0" in names and len(set(names)) == len(names)
    runs = dict(declared.runs)
    first = runs["location-cpu-seed0-none"]
    assert (first.task, first.track, first.seed, first.models, first.defense) == ("location", "cpu", 0, 4, "none")
    assert first.params == {"location": {"epochs": 2}} and first.out == Path("somewhere/runs/location-cpu-seed0-none")
    assert set(spec.attack_set("dpsgd")) <= set(first.attacks)  # none meets every attack its defenses meet
    l2 = runs["location-cpu-seed1-l2-weight_decay=0.01"]
    assert l2.params["l2"] == {"weight_decay": 0.01} and l2.attacks == spec.attack_set("l2")
    distress = runs["distress-ngram-mlp-cpu-seed0-dpsgd-epsilon=0.5"]
    assert distress.params["distress"]["family"] == "ngram-mlp" and distress.params["dpsgd"] == {"epsilon": 0.5}
    assert declared.board == Path("somewhere/board") and declared.by == suite.DEFAULT_BY


def test_the_example_declares_a_cpu_track_matrix():
    declared = suite.read(EXAMPLE)
    assert len(declared.runs) == 6 and {made.track for _, made in declared.runs} == {"cpu"}
    for _, made in declared.runs:
        runner.prepare(made)  # every run is one the harness accepts


def test_the_machine_overrides_the_file(tmp_path):
    declared = suite.read(EXAMPLE, out=tmp_path, executor="ray", address="auto", cache_dir=tmp_path / "c")
    _, made = declared.runs[0]
    assert (made.executor, made.address, made.cache_dir) == ("ray", "auto", tmp_path / "c")
    assert made.out.parent == tmp_path / "runs"


@pytest.mark.parametrize("text, message", [
    ('tasks = ["location"]\nseed = [0]\n[[defenses]]\nname = "none"', "unknown key 'seed': did you mean 'seeds'"),
    ('tasks = ["location"]', r"no \[\[defenses\]\]"),
    ('[[defenses]]\nname = "none"', "no 'tasks'"),
    ('tasks = ["location"]\n[[defenses]]\nname = "none"\ngrid = true', "'none' has no pinned grid"),
    ('tasks = ["location"]\n[[defenses]]\nname = "l2"\nparam = {}', "unknown key 'param': did you mean 'params'"),
    ('tasks = ["location"]\nseeds = [0, 0]\n[[defenses]]\nname = "none"', "declared twice"),
    ('tasks = ["location"]\n[[defenses]]\nname = "nope"', "nope"),
])  # fmt: skip
def test_a_bad_suite_file_is_one_clear_error(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        suite.read(write(tmp_path, text))


def test_a_suite_runs_to_a_board_and_skips_what_is_done(tmp_path, data_dir, capsys, monkeypatch):
    path = write(
        tmp_path,
        f"""
tasks = ["location"]
models = 4
attacks = ["loss"]
out = "{tmp_path / "out"}"
by = "a test"
[params]
epochs = 1
[[defenses]]
name = "none"
[[defenses]]
name = "output-noise"
params = {{ sigma = [0.1] }}
""",
    )
    args = ["suite", str(path), "--cache-dir", str(tmp_path / "cache"), "--data-dir", str(data_dir)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "run 1 of 2: location-cpu-seed0-none (loss)…" in captured.err
    assert "run 2 of 2: location-cpu-seed0-output-noise-sigma=0.1 (loss)…" in captured.err
    board = tmp_path / "out" / "board"
    assert len(list((board / "entries").rglob("*.json"))) == 2 and (board / "index.html").is_file()
    assert "2 runs (0 done earlier); 2 entries submitted" in captured.out
    assert (tmp_path / "out" / "runs" / "location-cpu-seed0-none" / "loss" / "result.json").is_file()

    def no_run(*args, **kwargs):
        raise AssertionError("a run whose records are in its folder must not run again")

    monkeypatch.setattr(runner, "run", no_run)
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "run 2 of 2: location-cpu-seed0-output-noise-sigma=0.1: done earlier" in captured.err
    assert "2 runs (2 done earlier); 0 entries submitted" in captured.out

    # `miabench leaderboard verify --all`: every pending entry of the board, re-run through the same machinery
    from miabench.leaderboard import ledger, verify

    monkeypatch.undo()
    ledger_path = tmp_path / "verified.json"
    said = []
    done, failed = verify.verify_all("a maintainer", [board / "entries"], data_dir, tmp_path / "cache", ledger_path,
                                     say=said.append)  # fmt: skip
    assert failed == [] and len(done) == 2 and said[0].startswith("entry 1 of 2: ")
    assert len(ledger.load(ledger_path)) == 2
    assert verify.pending([board / "entries"], ledger_path) == []  # nothing is left to verify


def test_verify_takes_an_entry_or_all_not_both(capsys):
    assert main(["leaderboard", "verify", "--by", "me"]) == 2
    assert "an entry file or --all" in capsys.readouterr().err
