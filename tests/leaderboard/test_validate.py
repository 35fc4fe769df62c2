"""Leaderboard entries: submission and validation; an entry cannot claim numbers its scores do not give."""

import json

import pytest

import miabench
from miabench import cli
from miabench.errors import UserError
from miabench.leaderboard import build, entries, submit, validate


@pytest.fixture(scope="module")
def run_dir(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("leaderboard-run")
    miabench.evaluate(task="location", attacks=["loss", "lira"], models=4, params={"epochs": "2"}, data_dir=data_dir,
                      out=root / "run", cache_dir=root / "cache", progress=False)  # fmt: skip
    return root / "run"


@pytest.fixture
def submitted(run_dir, tmp_path):
    paths = submit.submit(run_dir, "tester", root=tmp_path / "entries")
    return {entries.read(path).attack.name: path for path in paths}


def test_submission_writes_valid_pending_entries_with_scores_beside(submitted, tmp_path):
    path = submitted["lira"]
    assert path.parent == tmp_path / "entries" / "cpu" / "location"
    entry = entries.read(path)
    assert entry.provenance.status == "pending" and entry.provenance.submitted_by == "tester"
    assert len(entry.roc.fpr) == len(entry.roc.tpr) and entry.roc.tpr[-1] == 1.0
    assert submit.scores_beside(path).is_file()
    assert validate.validate(entry, submit.scores_beside(path)) == []


def edited(path, change) -> dict:
    """The entry at ``path`` as the JSON a hand could edit, changed by ``change``."""
    entry = json.loads(path.read_text())
    change(entry)
    return entry


def test_a_hand_edited_metric_fails_with_or_without_the_scores(submitted):
    path = submitted["lira"]

    def inflate(entry):
        entry["metrics"]["tpr_at_fpr"]["0.01"]["mean"] += 0.05

    problems = validate.validate(edited(path, inflate))
    assert problems == [
        "metrics are not the aggregate of per_target: a number was edited; submit the record as written"
    ]

    def inflate_everywhere(entry):  # per-target numbers too: only the scores can tell
        for target in entry["per_target"]:
            target["auc"] = min(1.0, target["auc"] + 0.1)
        per_target = [{k: v for k, v in t.items() if k != "target"} for t in entry["per_target"]]
        entry["metrics"].update(validate.as_json(validate.aggregate(per_target, seed=entry["seed"])))

    entry = edited(path, inflate_everywhere)
    assert validate.validate(entry) == []
    (problem,) = validate.validate(entry, submit.scores_beside(path))
    assert "recomputed from" in problem and "edited" in problem


def test_a_changed_seed_fails_on_its_own_lines(submitted):
    def unofficial(entry):
        entry["seed"] = 7

    problems = validate.validate(edited(submitted["loss"], unofficial))
    assert any("seed 7 is not an official seed" in line for line in problems)
    assert any(line.startswith("config_hash") for line in problems)
    assert any(line.startswith("plan_hash") for line in problems)


def test_a_wrong_plan_hash_and_an_edited_config_fail(submitted):
    def other_plan(entry):
        entry["plan_hash"] = "0" * 64

    problems = validate.validate(edited(submitted["loss"], other_plan))
    assert any(line.startswith("plan_hash 000000000000") and "not the plan of K=4" in line for line in problems)

    def more_epochs(entry):
        entry["recipe"]["epochs"] = 30

    assert [line.split(" ")[0] for line in validate.validate(edited(submitted["loss"], more_epochs))] == ["config_hash"]


def test_an_old_task_version_is_superseded(submitted):
    def old(entry):
        entry["task"]["version"] = "0.9"

    problems = validate.validate(edited(submitted["loss"], old))
    assert any("version 0.9 is superseded by 1.0" in line for line in problems)


def test_submit_refuses_an_edited_record_and_writes_nothing(run_dir, tmp_path):
    bad = tmp_path / "bad-run"
    for name in ("loss", "lira"):
        (bad / name).mkdir(parents=True)
        record = json.loads((run_dir / name / "result.json").read_text())
        if name == "lira":
            record["metrics"]["auc"]["mean"] = 0.99
        (bad / name / "result.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="lira/result.json: metrics are not the aggregate"):
        submit.submit(bad, "tester", root=tmp_path / "entries")
    assert not (tmp_path / "entries").exists()


def test_cli_validate_prints_a_line_per_entry_and_fails_on_a_bad_one(submitted, tmp_path, capsys):
    folder = next(iter(submitted.values())).parent
    assert cli.main(["leaderboard", "validate", str(folder)]) == 0
    assert capsys.readouterr().out.count("ok    ") == 2
    broken = json.loads(submitted["loss"].read_text())
    broken["provenance"]["status"] = "approved"
    (folder / "broken.json").write_text(json.dumps(broken))
    assert cli.main(["leaderboard", "validate", str(folder)]) == 2
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "provenance.status: Input should be 'pending' or 'verified'" in captured.out
    assert "1 entries failed validation" in captured.err


def test_the_repositorys_entries_validate_and_build(tmp_path):
    paths = entries.find()
    assert len(paths) >= 100
    failures = {str(path): validate.validate_file(path) for path in paths}
    assert {path: problems for path, problems in failures.items() if problems} == {}
    assert cli.main(["leaderboard", "build", "--out", str(tmp_path / "site")]) == 0
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "leaderboard.tex", "citations.bib",
                 "index.html"):  # fmt: skip
        assert (tmp_path / "site" / name).stat().st_size > 0
    assert (tmp_path / "site" / "leaderboard.md").read_text() == build.markdown(build.load())


def test_verify_reruns_the_config_and_marks_the_entry_verified(run_dir, data_dir, tmp_path):
    from miabench.leaderboard import verify

    (path,) = submit.submit(run_dir / "loss", "tester", root=tmp_path / "entries")
    entry = verify.verify(path, "verifier", data_dir=data_dir, cache_dir=tmp_path / "fresh-cache")
    assert entry.provenance.status == "verified" and entry.provenance.verified_by == "verifier"
    assert entries.read(path).provenance.status == "verified"
    assert validate.validate_file(path) == []

    claimed = json.loads(path.read_text())
    claimed["metrics"]["auc"]["mean"] += 0.02
    (tmp_path / "claimed.json").write_text(json.dumps(claimed))
    with pytest.raises(UserError, match="does not reproduce: AUC: entry"):
        verify.verify(tmp_path / "claimed.json", "verifier", data_dir=data_dir, cache_dir=tmp_path / "fresh-cache")
