"""The safety text tasks: one per dataset record, end to end on small real populations; subgroups, bad input."""

import numpy as np
import pytest

from miabench import citations, data
from miabench.cli import main
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks.text import TASKS, TextTask
from miabench.tasks.text_data import DATASETS

SAFETY_TASKS = ["distress", "stress", "selfharm", "support", "toxicity", "hate", "toxicity-davidson"]


def small_run(run_task, data_dir, task, family, attacks=("loss", "lira", "boundary-targeted")):
    params = {"population_size": "400", "test_size": "200", "epochs": "5"}
    return run_task(task, attacks, 4, params=params, family=family, data_dir=data_dir)


def test_all_seven_safety_tasks_are_registered():
    assert set(SAFETY_TASKS) <= set(tasks.names())
    for name in SAFETY_TASKS:
        meta = tasks.entry(name).component_class.metadata
        assert all(key in citations.entries() for key in meta.citation)
        assert meta.license and len(meta.class_names) == meta.num_classes


@pytest.mark.parametrize("name", SAFETY_TASKS)
def test_each_task_is_its_dataset_record(name):
    dataset, task_class = DATASETS[name], TASKS[name]
    assert tasks.entry(name).component_class is task_class and issubclass(task_class, TextTask)
    assert task_class.dataset is dataset
    meta = task_class.metadata
    assert (meta.name, meta.description, meta.license, meta.citation, meta.source) == (
        dataset.name, dataset.description, dataset.license, dataset.citation, dataset.source,
    )  # fmt: skip
    assert (meta.class_names, meta.flagged_class) == (dataset.class_names, dataset.flagged_class)
    assert meta.revision == (dataset.hub.revision if dataset.hub else None)
    assert meta.version == dataset.version and meta.model_family == "minilm-head" and meta.default_models == 16
    assert meta.validation_share == (0.5 if dataset.recipes else 0.0)
    assert task_class().test_size == dataset.test_size and task_class().population_size == 8000


def test_test_sizes_and_highlighted_subgroups():
    assert {name: TASKS[name]().test_size for name in SAFETY_TASKS} == {
        "distress": 2000, "stress": 600, "selfharm": 400, "support": 260, "toxicity": 1000, "hate": 1000,
        "toxicity-davidson": 1000,
    }  # fmt: skip
    assert TASKS["support"].metadata.highlighted == ("severe",)
    for name in set(SAFETY_TASKS) - {"support"}:
        assert TASKS[name].metadata.highlighted == ("flagged",)


@pytest.fixture(scope="module")
def selfharm_pool(data_dir):
    return DATASETS["selfharm"].load(data_dir)


def test_the_split_takes_the_test_set_then_at_most_population_size(data_dir, selfharm_pool):
    task = tasks.create("selfharm", {"family": "ngram-mlp", "population_size": "100000"})
    population = task.load(data_dir, progress=False)
    n = len(selfharm_pool)
    chosen, test = data.split(np.arange(n), 400, n - 400, task="selfharm")
    assert len(population) == n - 400 and len(population.y_test) == 400  # a small dataset gives all that is left
    assert np.array_equal(population.ids, selfharm_pool.ids[chosen])
    assert population.y_test.tolist() == selfharm_pool.labels[test].tolist()
    smaller = tasks.create("selfharm", {"family": "ngram-mlp", "population_size": "300"}).load(data_dir, progress=False)
    assert np.array_equal(smaller.ids, population.ids[:300]) and smaller.y_test.tolist() == population.y_test.tolist()


def test_a_test_set_larger_than_the_data_is_a_one_line_error(data_dir, selfharm_pool):
    task = tasks.create("selfharm", {"family": "ngram-mlp", "test_size": "5000"})
    with pytest.raises(UserError) as error:
        task.load(data_dir, progress=False)
    message = str(error.value)
    expected = f"task 'selfharm' parameter test_size=5000 must be between 1 and {len(selfharm_pool) - 1}"
    assert "\n" not in message and expected in message


@pytest.mark.parametrize("family", ["minilm-head", "ngram-mlp"])
def test_distress_reports_the_flagged_subgroup(data_dir, run_task, family):
    records = small_run(run_task, data_dir, "distress", family)
    for record in records:
        assert record.task.model_family == family
        assert set(record.metrics_by_subgroup) == {"class:no-distress", "class:distress", "flagged", "outliers"}
        recall = record.utility.recall
        assert recall["flagged"] == recall["class:distress"] and 0 <= recall["flagged"].mean <= 1
    boundary = records[-1]
    assert boundary.base_metrics is not None and boundary.amplification is not None


def test_support_reports_the_severe_subgroup(data_dir, run_task):
    (record,) = small_run(run_task, data_dir, "support", "ngram-mlp", attacks=["loss"])
    assert record.metrics_by_subgroup["severe"] is not None
    assert record.classes == 6 and record.task.highlighted == ["severe"]


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


def test_unknown_family_and_family_on_a_single_family_task_are_one_line_errors(data_dir, run_task):
    with pytest.raises(UserError, match="parameter 'family': 'bert' is not one of minilm-head, ngram-mlp"):
        tasks.create("distress", {"family": "bert"})
    with pytest.raises(UserError, match="task 'location' has one model family"):
        run_task("location", ["loss"], 2, family="ngram-mlp", data_dir=data_dir)


def test_missing_text_data_file_names_the_file(tmp_path):
    with pytest.raises(UserError, match="goemotions"):
        tasks.create("distress").load(tmp_path)
