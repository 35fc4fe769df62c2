"""Every registered defense, on a small real run: it changes training or outputs, and its record says so."""

import numpy as np
import pytest

from miabench import runner
from miabench.registry import defenses

SMALL = {"epochs": "3"}
# Relaxed losses act only once a model's loss falls below alpha: within 3 epochs that needs a higher one.
EARLY = {"relaxloss": {"alpha": "2.5"}}


def small_run(defense, data_dir, tmp_path):
    out = tmp_path / defense
    (record,) = runner.run(
        task="location", attacks=["loss"], defense=defense, models=4, params=SMALL | EARLY.get(defense, {}),
        data_dir=data_dir,
        out=out, cache_dir=tmp_path / "cache", progress=False,
    )  # fmt: skip
    with np.load(out / "loss" / "scores.npz") as scores:
        return record, scores["scores"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, data_dir):
    tmp_path = tmp_path_factory.mktemp("contract")
    return tmp_path, small_run("none", data_dir, tmp_path)


@pytest.mark.parametrize("name", [name for name in defenses.names() if name != "none"])
def test_each_defense_changes_what_the_attacker_sees(workspace, data_dir, name):
    tmp_path, (_, undefended_scores) = workspace
    record, scores = small_run(name, data_dir, tmp_path)
    defense = defenses.entry(name).component_class
    assert record["defense"]["name"] == name and defense.citation.startswith("@")
    assert not np.allclose(scores, undefended_scores), f"{name} changed neither training nor outputs"
    # Serving-only defenses serve the undefended models: the cache trains them once.
    assert record["timings"]["cache_hit"] == defense.serving_only
    assert 0 <= record["utility"]["test_accuracy"]["mean"] <= 1
    assert isinstance(record["defense"]["facts"], dict)
