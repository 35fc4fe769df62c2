"""DP-SGD on real models: the accountant's epsilon, leakage bounded at epsilon = 1, bad parameters, determinism."""

import numpy as np
import pytest
import torch

from miabench.errors import UserError
from miabench.registry import defenses


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Per-example clipping runs many small ops, which one thread runs faster than several.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_epsilon_one_keeps_lira_near_chance(run_defense, tmp_path):
    run = run_defense("dpsgd", tmp_path, {"epochs": 10, "epsilon": 1}, attacks=("loss", "lira"))
    lira, facts = run["lira"], run["lira"].defense.facts
    auc = lira.metrics.auc.mean
    print(f"dpsgd eps=1, K=4, 10 epochs: LiRA AUC {auc:.3f}, LOSS AUC {run['loss'].metrics.auc.mean:.3f}, "
          f"accountant eps {facts['epsilon'].mean:.4f}, sigma {facts['noise_multiplier'].mean:.3f}, "
          f"test accuracy {lira.utility.test_accuracy.mean:.3f}")  # fmt: skip
    assert 0.45 <= auc <= 0.58  # undefended, the same run gives about 0.69
    assert abs(facts["epsilon"].mean - 1) <= 0.05
    assert len(facts["epsilon"].per_model) == 4 and facts["noise_multiplier"].mean > 0
    # The default delta is 1 / (10 n) for each model's own n members.
    assert np.allclose(facts["delta"].per_model, 1 / (10 * run.signals.members.sum(axis=1)))


def test_short_run_reports_its_epsilon_and_repeats_exactly(run_defense, tmp_path):
    params = {"epochs": 2, "epsilon": 8, "delta": 1e-5}
    first, again = (run_defense("dpsgd", tmp_path / folder, params, models=2) for folder in "ab")
    facts = first["loss"].defense.facts
    assert set(facts) == {"epsilon", "delta", "noise_multiplier"}
    assert abs(facts["epsilon"].mean - 8) <= 0.05 * 8
    assert facts["delta"].per_model == [1e-5, 1e-5]
    assert first["loss"].recipe == again["loss"].recipe and first["loss"].recipe.epochs == 2
    # Poisson batches and noise come from seeded generators: a fresh run trains the same models.
    assert again["loss"].timings.cache_hit is False
    np.testing.assert_array_equal(first.scores(), again.scores())
    assert again["loss"].defense.facts == facts


def test_infinite_epsilon_is_refused_not_the_strongest_privacy():
    with pytest.raises(UserError, match=r"epsilon': inf is not a finite number; give e\.g\. epsilon=8\.0"):
        defenses.create("dpsgd", {"epsilon": float("inf")})


def test_delta_none_means_the_default():
    assert defenses.create("dpsgd", {"delta": "none"}).delta is None


def test_delta_of_one_over_n_or_more_is_refused(run_defense, tmp_path):
    with pytest.raises(UserError) as error:
        run_defense("dpsgd", tmp_path, {"epochs": 1, "delta": 0.01}, models=2)  # n is about 1800 per model
    message = str(error.value)
    assert "delta" in message and "1/n" in message and "\n" not in message
