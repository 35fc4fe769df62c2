"""Leaderboard entries: submission, validation and verification, tried as a hostile submitter would.

Each forgery is a test: what it edits, and the check that now catches it.
"""

import json
import shutil

import pytest

import miabench
from miabench import cli
from miabench.errors import UserError
from miabench.leaderboard import build, entries, ledger, official, submit, validate, verify


@pytest.fixture(scope="module")
def run_dir(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("leaderboard-run")
    miabench.evaluate(task="location", attacks=["loss", "lira"], models=4, params={"epochs": "2"}, data_dir=data_dir,
                      out=root / "run", cache_dir=root / "cache", progress=False)  # fmt: skip
    return root / "run"


@pytest.fixture
def own_ledger(tmp_path, monkeypatch):
    """A ledger of the test's own, in place of the repository's."""
    path = tmp_path / "verified.json"
    monkeypatch.setattr(ledger, "LEDGER", path)
    return path


@pytest.fixture
def submitted(run_dir, tmp_path, own_ledger):
    paths = submit.submit(run_dir, "tester", root=tmp_path / "entries")
    return {entries.read(path).attack.name: path for path in paths}


def mark_verified(path) -> None:
    """What 'leaderboard verify' records, without the re-run: the ledger line of the entry as it is."""
    entry = entries.read(path)
    machine = ledger.Machine(cpu=None, threads=1, platform="test", gpu=None, fingerprint=None)
    ledger.add(ledger.Verification(
        entry=entries.entry_key(entry), sha256=ledger.content_sha256(entry), scores_sha256=entry.scores_file.sha256,
        verified_by="maintainer", verified=entries.now(), commit=None, machine=machine, largest_difference={},
    ))  # fmt: skip


def edited(path, change) -> dict:
    """The entry at ``path`` as the JSON a hand could edit, changed by ``change``."""
    entry = json.loads(path.read_text())
    change(entry)
    return entry


def consistent_auc(entry, delta=0.1):
    """Per-target and headline AUC raised together: the aggregate check cannot tell."""
    for target in entry["per_target"]:
        target["auc"] = min(1.0, target["auc"] + delta)
    unit = entry["metrics"].get("ci_unit", "targets")
    entry["metrics"].update(validate.as_json(validate.aggregate(entry["per_target"], seed=entry["seed"], unit=unit)))
    entry["metrics"]["targets"] = len(entry["per_target"])


def test_submission_writes_valid_pending_entries_with_scores_beside(submitted, tmp_path):
    path = submitted["lira"]
    assert path.parent == tmp_path / "entries" / "cpu" / "location"
    entry = entries.read(path)
    assert entry.provenance.submitted_by == "tester" and entry.provenance.history == []
    assert ledger.status(entries.entry_key(entry), entry, ledger.load()) == "pending"
    assert len(entry.roc.fpr) == len(entry.roc.tpr) and entry.roc.tpr[-1] == 1.0
    assert entries.scores_beside(path).is_file()
    assert validate.validate(entry, entries.scores_beside(path)) == []


def test_a_hand_set_verified_status_is_refused(submitted):
    def claim(entry):
        entry["provenance"] |= {"status": "verified", "verified_by": "me"}

    (problem,) = validate.validate(edited(submitted["lira"], claim))
    assert "only the maintainers' ledger" in problem


def test_a_hand_edited_metric_fails_and_consistent_edits_fail_with_the_scores(submitted):
    path = submitted["lira"]

    def inflate(entry):
        entry["metrics"]["tpr_at_fpr"]["0.01"]["mean"] += 0.05

    assert validate.validate(edited(path, inflate)) == [
        "metrics are not the aggregate of per_target: a number was edited; submit the record as written"
    ]
    entry = edited(path, consistent_auc)
    assert validate.validate(entry) == []  # without the scores only the ledger can tell (next test)
    (problem,) = validate.validate(entry, entries.scores_beside(path))
    assert problem.startswith("metrics, per_target") and "recomputed from" in problem


def test_a_consistently_edited_verified_entry_fails_without_its_scores(submitted):
    path = submitted["lira"]
    mark_verified(path)
    assert validate.validate_file(path) == []
    (problem,) = validate.validate(edited(path, consistent_auc))
    assert "edited after maintainer verified it" in problem


def test_edited_utility_subgroups_and_roc_fail_with_the_scores(submitted):
    path = submitted["loss"]

    def better_model(entry):
        entry["utility"]["test_accuracy"]["mean"] = 0.99

    def subgroup(entry):
        entry["metrics_by_subgroup"]["outliers"]["auc"]["mean"] = 0.5

    def roc(entry):
        entry["roc"]["tpr"][5] = 0.9

    for change, field in ((better_model, "utility"), (subgroup, "metrics_by_subgroup"), (roc, "roc")):
        (problem,) = validate.validate(edited(path, change), entries.scores_beside(path))
        assert problem.startswith(field) and "the numbers were edited" in problem


def test_edited_utility_or_epsilon_of_a_verified_entry_fails(submitted):
    mark_verified(submitted["loss"])

    def better_model(entry):
        entry["utility"]["test_accuracy"]["mean"] = 0.99

    def epsilon(entry):
        entry["defense"]["facts"] = {"epsilon": {"mean": 0.001, "std": 0.0, "per_model": [0.001] * 4}}

    for change in (better_model, epsilon):
        assert any("edited after" in line for line in validate.validate(edited(submitted["loss"], change)))


def test_an_edited_epsilon_fails_even_pending_and_without_scores():
    (path,) = [path for path in entries.find() if path.name.startswith("loss--dpsgd") and "epsilon\": 1.0" in
               path.read_text()]  # fmt: skip
    assert validate.validate_file(path) == []

    def spent_less(entry):
        entry["defense"]["facts"]["epsilon"]["per_model"] = [0.001] * entry["models"]
        entry["defense"]["facts"]["epsilon"] |= {"mean": 0.001, "std": 0.0}

    def mean_only(entry):
        entry["defense"]["facts"]["epsilon"]["mean"] = 0.001

    (problem,) = validate.validate(edited(path, spent_less))
    assert "defense.facts are not what 'dpsgd' gives for this configuration: epsilon 0.001 (recomputed: 0.99" in problem
    assert validate.validate(edited(path, mean_only)) == [
        "defense.facts: a mean or std is not that of its per_model values: a number was edited"
    ]


def test_verify_compares_every_shown_number_utility_and_facts_included(run_dir):
    record = entries.run_records(run_dir / "loss")[0][1]
    lifted = record.model_copy(deep=True)
    lifted.utility.test_accuracy.mean += 0.2
    lifted.defense.facts = {"epsilon": miabench.record.Facts(mean=0.001, std=0.0, per_model=[0.001] * 4)}
    lines, largest = verify.differences(lifted, record, verify.TOLERANCE["cpu"])
    assert any(line.startswith("test accuracy: entry") for line in lines)
    assert "defense epsilon: only the entry has it" in lines
    assert largest["utility"] == pytest.approx(0.2)
    nothing = {"metrics": 0, "subgroups": 0, "utility": 0, "facts": 0}
    assert verify.differences(record, record, verify.TOLERANCE["cpu"]) == ([], nothing)


def test_the_cpu_tolerance_is_twice_the_measured_spread_or_more():
    root = entries.ENTRIES_DIR.parents[1]
    isa = json.loads((root / "results" / "reproducibility" / "cpu-threads.json").read_text())["max_spread"]["isa"]
    measured = {"metrics": max(isa["headline"][kind] for kind in ("auc", "tpr", "acc")),
                "subgroups": max(isa["subgroups"][kind] for kind in ("auc", "tpr", "acc")),
                "utility": isa["headline"]["utility"], "facts": isa["headline"]["facts"]}  # fmt: skip
    for line in ledger.load().values():  # re-runs on another machine than the entry's
        measured = {kind: max(value, line.largest_difference[kind]) for kind, value in measured.items()}
    for kind, tolerance in verify.TOLERANCE["cpu"].items():
        assert 2 * measured[kind] <= tolerance <= max(10 * measured[kind], 1e-6), kind


def test_a_changed_seed_fails_on_its_hashes_and_is_unofficial(submitted):
    def seven(entry):
        entry["seed"] = 7

    problems = validate.validate(edited(submitted["loss"], seven))
    assert any(line.startswith("config_hash") for line in problems)
    assert any(line.startswith("plan_hash") for line in problems)
    record = entries.read(submitted["loss"]).model_copy(update={"seed": 7})
    assert any("seed 7 is not an official seed" in line for line in official.reasons(record))


def test_a_wrong_plan_hash_and_an_edited_config_fail(submitted):
    def other_plan(entry):
        entry["plan_hash"] = "0" * 64

    problems = validate.validate(edited(submitted["loss"], other_plan))
    assert any(line.startswith("plan_hash 000000000000") and "not the plan of K=4" in line for line in problems)

    def more_epochs(entry):
        entry["recipe"]["epochs"] = 30

    assert [line.split(" ")[0] for line in validate.validate(edited(submitted["loss"], more_epochs))] == ["config_hash"]


def test_overrides_are_unofficial_even_when_the_record_hides_them(submitted):
    entry = entries.read(submitted["loss"])
    reasons = official.reasons(entry)  # K=4, epochs=2: a small test run
    assert any(line.startswith("K=4 (the track's is 16)") for line in reasons)
    assert any("task parameters are not the track's: epochs=2 (track: null)" in line for line in reasons)
    hidden = entry.model_copy(update={"track": entry.track.model_copy(update={"overrides": {}})})
    assert any("epochs=2" in line for line in official.reasons(hidden))


def test_another_data_fingerprint_fails_on_the_tracks_parameters(submitted):
    entry = entries.read(submitted["loss"])
    on_track = {**entry.task.params, "epochs": None}
    forged = entry.model_copy(update={"task": entry.task.model_copy(update={"params": on_track,
                                                                           "data_fingerprint": "f" * 64})})  # fmt: skip
    (problem,) = official.data_problems(forged)
    assert problem.startswith("data_fingerprint ffffffffffff… is not task 'location' v1.0's on the cpu track")
    assert official.data_problems(entry) == []  # other parameters: unofficial, its data its own


def test_names_and_types_that_would_break_a_check_fail_on_one_line(submitted):
    cases = {
        "attack.name": ("../../../../PWNED", "is not a safe name"),
        "task.name": ("nope", "unknown task 'nope'"),
        "examples": (30_000_000, "examples=30000000: N is from 1 to 250000"),
        "models": (3, "models=3: K is an even number"),
        "task.params": ([], "task.params: Input should be a valid dictionary"),
        "created": ("2099-01-01T00:00:00+00:00", "is not a real past time"),
        "provenance.submitted_by": ("<script>\n", "give a name of 1 to 200 printable characters"),
    }
    for field, (value, message) in cases.items():

        def change(entry, field=field, value=value):
            *parents, last = field.split(".")
            target = entry
            for key in parents:
                target = target[key]
            target[last] = value

        problems = validate.validate(edited(submitted["loss"], change))
        assert any(message in line for line in problems), (field, problems)


def test_a_traversal_name_never_writes_outside_the_entries(run_dir, tmp_path, own_ledger):
    hostile = tmp_path / "hostile" / "loss"
    shutil.copytree(run_dir / "loss", hostile)
    record = json.loads((hostile / "result.json").read_text())
    record["attack"]["name"] = "../../../../PWNED"
    (hostile / "result.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="is not a safe name"):
        submit.submit(hostile, "tester", root=tmp_path / "deep" / "entries")
    assert not list(tmp_path.rglob("PWNED*")) and not (tmp_path / "deep").exists()
    with pytest.raises(UserError, match="cannot file the entry"):
        entries.entry_path(miabench.record.parse(record), tmp_path / "entries")


def test_submit_refuses_an_edited_record_and_writes_nothing(run_dir, tmp_path, own_ledger):
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


def test_resubmitting_keeps_the_history_and_never_replaces_a_verified_entry(run_dir, submitted, tmp_path):
    root = tmp_path / "entries"
    (again,) = submit.submit(run_dir / "loss", "second", root=root)
    entry = entries.read(again)
    assert entry.provenance.submitted_by == "second"
    assert [line.submitted_by for line in entry.provenance.history] == ["tester"]

    mark_verified(again)
    (kept,) = submit.submit(run_dir / "loss", "third", root=root)  # the same numbers: a reproduction
    entry = entries.read(kept)
    assert entry.provenance.submitted_by == "second"
    assert [line.submitted_by for line in entry.provenance.history] == ["tester", "third"]
    assert validate.validate_file(kept) == []  # still verified: the history is not the content

    changed = tmp_path / "changed" / "loss"
    shutil.copytree(run_dir / "loss", changed)
    record = json.loads((changed / "result.json").read_text())
    record["created"] = "2026-01-01T00:00:00+00:00"
    (changed / "result.json").write_text(json.dumps(record))
    (changed / "scores.npz").unlink()
    with pytest.raises(UserError, match="is verified and a re-submission never replaces it"):
        submit.submit(changed, "fourth", root=root)
    assert entries.read(kept).provenance.submitted_by == "second"


def test_a_pending_entry_never_hides_the_verified_one_of_its_setting(submitted, variant):
    mark_verified(submitted["lira"])
    verified = entries.read(submitted["lira"])

    def better(entry):
        entry["metrics"]["tpr_at_fpr"]["0.01"]["mean"] = 0.99

    later = variant(verified, salt="later", edit=better, **{"provenance.submitted": "2026-12-31T00:00:00+00:00"})
    (row,) = build.rows([verified, later]).to_dict("records")
    assert row["status"] == "verified" and row["entry_id"] == entries.entry_id(verified)


def test_cli_validate_goes_on_after_a_bad_entry_and_sums_up(submitted, tmp_path, capsys):
    folder = next(iter(submitted.values())).parent
    assert cli.main(["leaderboard", "validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok    ") == 2 and "2 entries: 2 valid (2 of them unofficial), 0 failed" in out
    assert "unofficial (listed apart, not ranked): K=4" in out
    (folder / "a-broken.json").write_text('{"schema_version": 2, "miabench": []}')
    (folder / "b-truncated.json").write_text('{"schema_version": 2,')
    assert cli.main(["leaderboard", "validate", str(folder)]) == 2
    captured = capsys.readouterr()
    assert f"FAIL  {folder / 'a-broken.json'}: miabench: Input should be a valid dictionary" in captured.out
    assert f"FAIL  {folder / 'b-truncated.json'}: not a readable JSON entry" in captured.out
    assert captured.out.count("ok    ") == 2 and "4 entries: 2 valid (2 of them unofficial), 2 failed" in captured.out
    assert "2 entries failed validation" in captured.err


def test_cli_validate_refuses_an_empty_folder(tmp_path, capsys):
    assert cli.main(["leaderboard", "validate", str(tmp_path)]) == 2
    assert "no entries (*.json) under" in capsys.readouterr().err


def test_build_leaves_out_entries_that_fail_validation(submitted):
    broken = json.loads(submitted["loss"].read_text())
    broken["metrics"]["auc"]["mean"] = 0.99
    submitted["loss"].write_text(json.dumps(broken))
    with pytest.warns(UserWarning, match="left out 1 entries that fail validation"):
        chosen = build.load([submitted["loss"].parent])
    assert [entry.attack.name for entry in chosen] == ["lira"]


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


def test_the_ledgers_verified_entries_are_the_repositorys_and_unedited():
    verified = ledger.load()
    assert len(verified) >= 4
    for key, line in verified.items():
        entry = entries.read(entries.ENTRIES_DIR / f"{key}.json")
        assert ledger.status(key, entry, verified) == "verified", key
        assert line.scores_sha256 == entry.scores_file.sha256


def test_verify_reruns_the_config_and_records_it_in_the_ledger(run_dir, data_dir, tmp_path, own_ledger):
    (path,) = submit.submit(run_dir / "loss", "tester", root=tmp_path / "entries")
    claimed = tmp_path / "claimed" / "cpu" / "location" / path.name
    claimed.parent.mkdir(parents=True)
    data = json.loads(path.read_text())
    consistent_auc(data, 0.02)
    claimed.write_text(json.dumps(data))
    with pytest.raises(UserError, match="does not reproduce within the cpu track's tolerance: auc: entry") as error:
        verify.verify(claimed, "verifier", data_dir=data_dir, cache_dir=tmp_path / "fresh-cache")
    assert "the ledger is unchanged and it stays pending" in str(error.value) and ledger.load() == {}

    line = verify.verify(path, "verifier", data_dir=data_dir, cache_dir=tmp_path / "fresh-cache")
    assert line.verified_by == "verifier" and line.entry == "cpu/location/" + path.stem
    assert set(line.largest_difference) == set(verify.TOLERANCE["cpu"])
    assert ledger.status(line.entry, entries.read(path), ledger.load()) == "verified"
    assert validate.validate_file(path) == []


def test_validate_finds_published_scores_and_checks_against_them(submitted, tmp_path, capsys):
    path = submitted["lira"]
    published = tmp_path / "pulled" / "entries" / "cpu" / "location" / entries.scores_beside(path).name
    published.parent.mkdir(parents=True)
    entries.scores_beside(path).rename(published)
    assert validate.scores_for(path) is None
    assert validate.scores_for(path, [tmp_path / "pulled" / "entries"]) == published
    path.write_text(json.dumps(edited(path, consistent_auc)))
    assert cli.main(["leaderboard", "validate", str(path)]) == 0  # without the scores, nothing to tell
    assert cli.main(["leaderboard", "validate", str(path), "--scores", str(tmp_path / "pulled")]) == 2
    assert "metrics, per_target" in capsys.readouterr().out
