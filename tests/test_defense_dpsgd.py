"""DP-SGD on real models: the accountant's epsilon, leakage bounded at epsilon = 1, bad parameters, determinism."""

import numpy as np
import pytest
import torch

from miabench import runner
from miabench.errors import UserError
from miabench.registry import defenses


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Per-example clipping runs many small ops, which one thread runs faster than several.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(data_dir, root, models, epochs, attacks=("loss",), **params):
    records = runner.run(
        task="location", attacks=list(attacks), defense="dpsgd", models=models,
        params={"epochs": str(epochs), **{key: str(value) for key, value in params.items()}},
        data_dir=data_dir, out=root / "out", cache_dir=root / "cache", progress=False,
    )  # fmt: skip
    with np.load(root / "out" / "loss" / "scores.npz") as scores:
        return {record["attack"]["name"]: record for record in records}, scores["scores"], scores["members"]


def test_epsilon_one_keeps_lira_near_chance(data_dir, tmp_path):
    records, _, members = run(data_dir, tmp_path, models=4, epochs=10, attacks=("loss", "lira"), epsilon=1)
    lira, facts = records["lira"], records["lira"]["defense"]["facts"]
    auc = lira["metrics"]["auc"]["mean"]
    print(f"dpsgd eps=1, K=4, 10 epochs: LiRA AUC {auc:.3f}, LOSS AUC {records['loss']['metrics']['auc']['mean']:.3f}, "
          f"accountant eps {facts['epsilon']['mean']:.4f}, sigma {facts['noise_multiplier']['mean']:.3f}, "
          f"test accuracy {lira['utility']['test_accuracy']['mean']:.3f}")  # fmt: skip
    assert 0.45 <= auc <= 0.58  # undefended, the same run gives about 0.69
    assert abs(facts["epsilon"]["mean"] - 1) <= 0.05
    assert len(facts["epsilon"]["per_model"]) == 4 and facts["noise_multiplier"]["mean"] > 0
    # The default delta is 1 / (10 n) for each model's own n members.
    assert np.allclose(facts["delta"]["per_model"], 1 / (10 * members.sum(axis=1)))


def test_short_run_reports_its_epsilon_and_repeats_exactly(data_dir, tmp_path):
    first, scores, _ = run(data_dir, tmp_path / "a", models=2, epochs=2, epsilon=8, delta=1e-5)
    again, scores_again, _ = run(data_dir, tmp_path / "b", models=2, epochs=2, epsilon=8, delta=1e-5)
    facts = first["loss"]["defense"]["facts"]
    assert set(facts) == {"epsilon", "delta", "noise_multiplier"}
    assert abs(facts["epsilon"]["mean"] - 8) <= 0.05 * 8
    assert facts["delta"]["per_model"] == [1e-5, 1e-5]
    assert first["loss"]["recipe"] == again["loss"]["recipe"] and first["loss"]["recipe"]["epochs"] == 2
    # Poisson batches and noise come from seeded generators: a fresh run trains the same models.
    assert again["loss"]["timings"]["cache_hit"] is False
    np.testing.assert_array_equal(scores, scores_again)
    assert again["loss"]["defense"]["facts"] == facts


@pytest.mark.parametrize(
    "params, named",
    [({"epsilon": "0"}, "epsilon"), ({"epsilon": "-1"}, "epsilon"), ({"delta": "1.5"}, "delta"),
     ({"max_grad_norm": "0"}, "max_grad_norm")],
)  # fmt: skip
def test_bad_parameters_are_one_line(params, named):
    with pytest.raises(UserError) as error:
        defenses.create("dpsgd", params)
    message = str(error.value)
    assert named in message and "dpsgd" in message and "\n" not in message


def test_delta_of_one_over_n_or_more_is_refused(data_dir, tmp_path):
    with pytest.raises(UserError) as error:
        run(data_dir, tmp_path, models=2, epochs=1, delta=0.01)  # n is about 1800 per model
    message = str(error.value)
    assert "delta" in message and "1/n" in message and "\n" not in message
