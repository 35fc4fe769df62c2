"""The binary tasks of the seed paper's shape: depression (posts) and support-dialogue (whole ESConv dialogues).

Hughes et al. (2026) train a binary "needs support" classifier over multi-turn conversations; these tasks stand
in for it from the offline data. Real files where the data folder has them, tiny synthetic files of the same
format for the readers, a stand-in Hub for the public copies, and one small run each.
"""

import json

import numpy as np
import pytest

from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks.text import TASKS, TextTask
from miabench.tasks.text_data import DATASETS

BINARY_TASKS = ["depression", "support-dialogue"]


def metadata(name):
    return tasks.entry(name).component_class.metadata


def load_or_skip(task, data_dir):
    try:
        return task.load(data_dir, progress=False)
    except UserError as error:
        if str(error).startswith("missing data file"):
            pytest.skip(str(error))
        raise


@pytest.mark.parametrize("name", BINARY_TASKS)
def test_each_is_a_registered_binary_safety_task(name):
    task_class, meta = TASKS[name], metadata(name)
    assert tasks.entry(name).component_class is task_class and issubclass(task_class, TextTask)
    assert meta.num_classes == 2 and meta.flagged_class == 1 and meta.highlighted == ("flagged",)
    assert meta.description == DATASETS[name].description and "stands in for" in meta.description
    assert meta.pin("cpu") is not None and meta.version == DATASETS[meta.name].version and meta.default_models == 16


def test_what_each_task_is():
    depression, dialogue = metadata("depression"), metadata("support-dialogue")
    assert depression.class_names == ("non-depressive", "depressive")
    assert depression.source == "hf:hugginglearners/reddit-depression-cleaned"
    assert depression.citation == ("infamouscoder2022depression",) and depression.license.startswith("unclear")
    assert dialogue.class_names == ("not-severe", "severe")
    assert dialogue.source == "hf:thu-coai/esconv" and dialogue.citation == ("liu2021towards",)
    assert dialogue.license == metadata("support").license == "CC BY-NC 4.0"
    assert {name: TASKS[name]().test_size for name in BINARY_TASKS} == {"depression": 1000, "support-dialogue": 260}


# --- the real data --------------------------------------------------------------------------------------------


def test_depression_population_from_the_real_file(data_dir):
    population = load_or_skip(tasks.create("depression", {"family": "ngram-mlp"}), data_dir)
    assert (len(population), len(population.y_test)) == (6650, 1000)  # all 7,650 distinct posts
    pool = DATASETS["depression"].load(data_dir)
    assert population.y.tolist() == pool.labels[np.searchsorted(pool.ids, population.ids)].tolist()
    assert 0.47 < population.y.float().mean() < 0.51 and 0.47 < population.y_test.float().mean() < 0.53
    assert population.subgroups == {}  # flagged is derived from the labels by the harness


def test_support_dialogue_population_from_the_real_files(data_dir):
    population = load_or_skip(tasks.create("support-dialogue", {"family": "ngram-mlp"}), data_dir)
    assert (len(population), len(population.y_test)) == (1040, 260)
    assert 0.74 < population.y.float().mean() < 0.79  # severe is the majority (994 of 1,300)
    support = load_or_skip(tasks.create("support", {"family": "ngram-mlp"}), data_dir)
    # The same conversations drawn the same way: the label is support's severe subgroup.
    assert np.array_equal(population.ids, support.ids)
    assert population.y.bool().tolist() == support.subgroups["severe"].tolist()


# --- tiny synthetic files of the published formats --------------------------------------------------------------


def esconv_line(intensity, seeker):
    dialog = [
        {"text": "Hi, how are you?", "speaker": "sys", "strategy": "Question"},
        {"text": seeker, "speaker": "usr"},
    ]
    survey = {"seeker": {"initial_emotion_intensity": str(intensity)}, "supporter": {"relevance": "5"}}
    record = {"emotion_type": "anxiety", "problem_type": "job crisis", "situation": "x", "survey_score": survey}
    return json.dumps(record | {"dialog": dialog}) + "\n"


def test_support_dialogue_from_synthetic_json_lines(tmp_path):
    folder = tmp_path / "esconv"
    folder.mkdir()
    lines = [esconv_line(1 + i % 5, f"seeker turn {i}") for i in range(30)]
    lines.append(lines[0])  # a repeated conversation: dropped before drawing
    for name, part in [("train", lines[:20]), ("valid", lines[20:25]), ("test", lines[25:])]:
        (folder / f"esconv_{name}.json").write_text("".join(part) + "\n", encoding="utf-8")  # a trailing blank line
    task = tasks.create("support-dialogue", {"family": "ngram-mlp", "test_size": "5"})
    population = task.load(tmp_path, progress=False)
    assert (len(population), len(population.y_test)) == (25, 5)  # 30 distinct conversations
    assert len(set(population.ids.tolist())) == 25 and 30 not in population.ids  # the repeat (record 30) is not drawn
    labels = [int(1 + i % 5 >= 4) for i in range(30)]
    assert population.y.tolist() == [labels[i] for i in population.ids]


def test_depression_from_a_synthetic_csv(tmp_path):
    folder = tmp_path / "depression-reddit"
    folder.mkdir()
    rows = [f"i feel hopeless today number {i},1" for i in range(12)] + [f"off to work {i},0" for i in range(12)]
    rows += ["i feel hopeless today number 0,1"]  # a duplicate post
    (folder / "depression_dataset_reddit_cleaned.csv").write_text("text,is_depressive\n" + "\n".join(rows) + "\n")
    population = tasks.create("depression", {"family": "ngram-mlp", "test_size": "4"}).load(tmp_path, progress=False)
    assert (len(population), len(population.y_test)) == (20, 4) and 24 not in population.ids
    assert population.y.tolist() == [int(i < 12) for i in population.ids]


# --- the public copies --------------------------------------------------------------------------------------------


def test_without_a_data_dir_each_reads_its_hub_copy(fake_hub):
    calls = fake_hub({"train": {"clean_text": [f"post {i}" for i in range(10)], "is_depression": [0, 1] * 5}})
    population = tasks.create("depression", {"family": "ngram-mlp", "test_size": "2"}).load(None, progress=False)
    assert calls == [("hugginglearners/reddit-depression-cleaned", None)] and len(population) == 8

    conversations = [json.loads(esconv_line(2 + i % 4, f"turn {i}")) for i in range(8)]
    calls = fake_hub({"train": {"text": [json.dumps(record) for record in conversations]}})
    population = tasks.create("support-dialogue", {"family": "ngram-mlp", "test_size": "2"}).load(None, progress=False)
    assert calls == [("thu-coai/esconv", None)] and len(population) == 6


# --- one small run each -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BINARY_TASKS)
def test_a_small_run_reports_the_flagged_subgroup(data_dir, run_task, name):
    if not (data_dir / DATASETS[name].local_files.split("/")[0]).is_dir():
        pytest.skip(f"no {DATASETS[name].local_files} in {data_dir}")
    params = {"population_size": "200", "test_size": "100", "epochs": "3"}
    (record,) = run_task(name, ["loss"], 2, params=params, family="ngram-mlp", data_dir=data_dir)
    assert record.classes == 2 and record.task.highlighted == ["flagged"]
    assert {"flagged", "class:" + DATASETS[name].class_names[1]} <= set(record.metrics_by_subgroup)
    recall = record.utility.recall
    assert recall["flagged"] == recall["class:" + DATASETS[name].class_names[1]]
