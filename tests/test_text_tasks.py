"""Safety text tasks end to end on small real populations: families, subgroups, bad input."""

import pytest

from miabench import runner
from miabench.cli import main
from miabench.errors import UserError
from miabench.registry import tasks

SAFETY_TASKS = ["distress", "stress", "selfharm", "support", "toxicity", "hate", "toxicity-davidson"]


def small_run(data_dir, tmp_path, task, family, attacks=("loss", "lira", "boundary-targeted")):
    return runner.run(
        task=task, attacks=list(attacks), family=family, models=4,
        params={"population_size": "400", "test_size": "200", "epochs": "5"},
        data_dir=data_dir, out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False,
    )  # fmt: skip


def test_all_seven_safety_tasks_are_registered():
    assert set(SAFETY_TASKS) <= set(tasks.names())
    for name in SAFETY_TASKS:
        meta = tasks.entry(name).component_class.metadata
        assert meta.citation.startswith("@") and meta.license and len(meta.class_names) == meta.num_classes


@pytest.mark.parametrize("family", ["minilm-head", "ngram-mlp"])
def test_distress_reports_the_flagged_subgroup(data_dir, tmp_path, family):
    records = small_run(data_dir, tmp_path, "distress", family)
    for record in records:
        assert record["task"]["model_family"] == family
        assert set(record["metrics_by_subgroup"]) == {"class:no-distress", "class:distress", "flagged", "outliers"}
        recall = record["utility"]["recall"]
        assert recall["flagged"] == recall["class:distress"] and 0 <= recall["flagged"]["mean"] <= 1
    boundary = records[-1]
    assert "base_metrics" in boundary and "amplification" in boundary


def test_support_reports_the_severe_subgroup(data_dir, tmp_path):
    (record,) = small_run(data_dir, tmp_path, "support", "ngram-mlp", attacks=["loss"])
    assert record["metrics_by_subgroup"]["severe"] is not None
    assert record["classes"] == 6


def test_the_table_shows_flagged_columns_and_quiet_hides_every_bar(capsys, data_dir, tmp_path):
    code = main(
        ["run", "--task", "distress", "--family", "minilm-head", "--attack", "loss", "--models", "2",
         "--param", "population_size=300", "--param", "test_size=100", "--param", "epochs=2",
         "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
         "--quiet"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr()
    assert "flagged TPR% @ 5% FPR" in printed.out and "recall of the flagged class" in printed.out
    assert "embed texts" not in printed.err and "it/s" not in printed.err


def test_unknown_family_and_family_on_a_single_family_task_are_one_line_errors(data_dir):
    with pytest.raises(UserError, match="no model family 'bert'"):
        tasks.create("distress", {"family": "bert"})
    with pytest.raises(UserError, match="task 'location' has one model family"):
        runner.run(task="location", family="ngram-mlp", data_dir=data_dir)


def test_missing_text_data_file_names_the_file(tmp_path):
    with pytest.raises(UserError, match="goemotions"):
        tasks.create("distress").load(tmp_path)
