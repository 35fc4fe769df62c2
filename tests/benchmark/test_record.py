"""The result record: one typed schema (v2), one builder, the upgrade from v1."""

import copy
import json
import math
from pathlib import Path

import pytest

from miabench import record
from miabench.cli import main
from miabench.errors import UserError
from miabench.leaderboard import validate
from miabench.record import Entry, Record

V1 = Path(__file__).with_name("records")


def v1(name: str) -> dict:
    return json.loads((V1 / name).read_text())


def test_a_run_record_conforms_and_round_trips_through_json(location_run, tmp_path):
    written = location_run["lira"]
    assert record.problems(written.model_dump()) == []
    data = written.model_dump()
    data["per_target"][0]["tpr_at_fpr"]["0.001"]["threshold"] = math.inf  # only the start point qualified
    written = Record.model_validate(data)
    path = record.write(tmp_path / "result.json", written)
    text = path.read_text()
    assert '"threshold": "inf"' in text and "Infinity" not in text  # standard JSON
    assert record.read(path) == written


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda r: r["metrics"]["auc"].update(mean="0.99"), "metrics.auc.mean"),  # a number as text
        (lambda r: r.update(models=16.0), "models"),  # a float for an integer
        (lambda r: r.update(seed=True), "seed"),
        (lambda r: r.pop("utility"), "utility"),  # a required field
        (lambda r: r.update(extra=1), "extra"),  # an unknown field
        (lambda r: r["track"].update(name="tpu"), "track.name"),
        (lambda r: r["attack"]["threat_model"].update(access="weights"), "attack.threat_model.access"),
        (lambda r: r["recipe"].update(epochs=0), "recipe"),  # the recipe's own declarations
    ],
)
def test_validation_checks_every_field_and_type(location_run, change, where):
    data = copy.deepcopy(location_run["lira"].to_json())
    change(data)
    problems = record.problems(data)
    assert problems and problems[0].startswith(where), problems
    assert validate.validate(data)[0].startswith(where)


def test_upgrade_turns_a_v1_record_into_a_valid_v2_one():
    old = v1("v1-record-adult-lira.json")
    new = record.upgrade(old)
    assert new["schema_version"] == 2 and record.problems(new) == []
    upgraded = Record.model_validate(new)
    assert upgraded.metrics.model_dump() == {**old["metrics"]}  # what was measured is kept as it was
    assert upgraded.track.name == old["profile"]["name"] and upgraded.precision == old["precision"]
    assert upgraded.citation.attack == ["carlini2022membership"] and upgraded.citation.task == ["becker1996adult"]
    assert upgraded.config_hash == old["config_hash"]  # its config was complete: the same hash
    assert upgraded.scores_file.sha256 == old["scores_file"]["sha256"]
    assert upgraded.scores_file.command.startswith("miabench run --task adult --attack lira --models 16 --seed 0")
    assert validate.validate(new) == []
    assert record.upgrade(new) is new  # v2 is left as it is


def test_upgrade_completes_what_the_oldest_records_left_out():
    old = v1("v1-entry-location-lira.json")  # before recipes had a schedule, before subgroups and precision
    new = record.upgrade(old)
    entry = Entry.model_validate(new)
    assert entry.recipe.schedule == "constant" and entry.recipe.flip is False and entry.precision == "fp32"
    assert entry.metrics.targets == 16 and entry.metrics.examples == old["examples"] - old["auxiliary"]
    assert entry.metrics_by_subgroup is None and entry.utility.balanced_accuracy is None
    assert entry.provenance.submitted_by == old["provenance"]["submitted_by"] and entry.provenance.history == []
    assert "status" not in new["provenance"]  # a v1 entry's "verified" is the ledger's to hold now
    assert entry.config_hash != old["config_hash"]  # recomputed over the completed recipe
    assert validate.validate(new) == []


def test_upgrade_files_rewrites_in_place_and_renames_entries(tmp_path, capsys):
    entries = tmp_path / "entries" / "cpu" / "location"
    entries.mkdir(parents=True)
    (entries / "lira--none--c0730de08bc6.json").write_text((V1 / "v1-entry-location-lira.json").read_text())
    (tmp_path / "result.json").write_text((V1 / "v1-record-adult-lira.json").read_text())
    assert main(["upgrade", str(tmp_path)]) == 0
    (moved,) = entries.glob("*.json")
    assert moved.name != "lira--none--c0730de08bc6.json" and moved.stem.endswith(
        record.read(moved, Entry).config_hash[:12]
    )
    assert json.loads((tmp_path / "result.json").read_text())["schema_version"] == 2
    assert "upgraded" in capsys.readouterr().out
    assert main(["upgrade", str(tmp_path)]) == 0 and capsys.readouterr().out == ""  # nothing left to do


def test_reading_a_broken_record_is_one_line(tmp_path):
    (tmp_path / "result.json").write_text('{"schema_version": 2, "seed": "zero"}')
    with pytest.raises(UserError) as error:
        record.read(tmp_path / "result.json")
    assert "is not a valid schema-2 record" in str(error.value) and "\n" not in str(error.value)
