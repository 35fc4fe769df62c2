"""Serving-side defenses on real models: they reuse the undefended models and change only what is served.

One undefended run (Location-30, K = 8) trains the models; every serving defense then
loads them from the same cache and transforms the outputs the attacks, the oracle and
the utility test see.
"""

import numpy as np
import pytest
from scipy.special import log_softmax, softmax

from miabench import runner
from miabench.cache import SignalsCache
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.registry import attacks, defenses

K = 8
SMALL = {"epochs": "10"}


def run(name, data_dir, root, attack_names, params=None):
    records = runner.run(
        task="location", attacks=attack_names, defense=name, models=K, params={**SMALL, **(params or {})},
        data_dir=data_dir, out=root / name, cache_dir=root / "cache", progress=False,
    )  # fmt: skip
    return {record["attack"]["name"]: record for record in records}


def auc(record):
    return record["metrics"]["auc"]["mean"]


@pytest.fixture(scope="module")
def undefended(tmp_path_factory, data_dir):
    """The undefended run, and its signals cube as the cache holds it."""
    root = tmp_path_factory.mktemp("serving")
    records = run("none", data_dir, root, ["loss", "lira", "gap", "logit-probe"])
    signals = SignalsCache(root / "cache").load(records["loss"]["timings"]["cache_key"])
    return root, records, signals


def test_label_only_leaves_score_attacks_only_the_label(undefended, data_dir):
    root, plain, signals = undefended
    records = run("label-only", data_dir, root, ["loss", "lira", "gap"])
    assert records["loss"]["timings"]["cache_hit"] is True  # the undefended models, from the cache
    served = defenses.create("label-only").observe(signals.logits, signals.labels, None, np.arange(K))
    assert len(np.unique(served.reshape(-1, served.shape[-1]), axis=0)) <= served.shape[-1]  # one vector per class
    defended = ", ".join(f"{name} {auc(records[name]):.3f}" for name in ("loss", "lira", "gap"))
    print(f"label-only AUC: {defended} (undefended: loss {auc(plain['loss']):.3f}, lira {auc(plain['lira']):.3f})")
    # The loss of a served vector only says whether it is right: exactly the gap attack.
    assert abs(auc(records["loss"]) - auc(records["gap"])) < 1e-9
    # LiRA still compares each example's correctness with the reference models' (a label-only attack in
    # effect), so it may beat gap, but it has lost the confidence it read without the defense.
    assert auc(records["lira"]) < auc(plain["lira"]) - 0.02


def test_memguard_keeps_every_label_and_fools_classifier_attacks(undefended):
    _, plain, signals = undefended
    defense = defenses.create("memguard")
    models = np.arange(K)
    served = defense.observe(signals.logits, signals.labels, signals.members, models)
    assert served.shape == signals.logits.shape and np.isfinite(served).all()
    assert (served.argmax(-1) == signals.logits.argmax(-1)).all()
    before, after = softmax(signals.logits.astype(np.float64), -1), softmax(served.astype(np.float64), -1)
    distortion = np.abs(after - before).sum(-1)
    assert distortion.max() <= defense.epsilon + 1e-4 and distortion.mean() > 0.01
    # Test examples and queries (members None) reuse the classifiers fitted on the cube.
    test = defense.observe(signals.test_logits[:, :, None], signals.test_labels, None, models)
    assert (test.argmax(-1) == signals.test_logits[:, :, None].argmax(-1)).all()
    assert not np.allclose(test, log_softmax(signals.test_logits[:, :, None], -1), atol=1e-3)
    # A learned attack, trained on the references' served outputs, loses much of its edge.
    plan = MembershipPlan(signals.members)
    outcome = runner.attack_signals(attacks.create("logit-probe"), served, signals.labels, plan, 0, {})
    defended = outcome["metrics"]["auc"]["mean"]
    print(f"memguard: logit-probe AUC {auc(plain['logit-probe']):.3f} -> {defended:.3f}, "
          f"mean L1 distortion {distortion.mean():.3f}")  # fmt: skip
    assert defended < auc(plain["logit-probe"]) - 0.03


def test_rounding_lowers_lira_at_low_false_positive_rates(undefended, data_dir):
    root, plain, signals = undefended
    (record,) = run("rounding", data_dir, root, ["lira"]).values()
    assert record["timings"]["cache_hit"] is True
    served = defenses.create("rounding", {"decimals": "1"}).observe(signals.logits, signals.labels, None, np.arange(K))
    probs = np.exp(served.astype(np.float64))
    assert np.allclose(probs[probs > 0.05], np.round(probs[probs > 0.05], 1), atol=1e-3)  # tenths, or the floor
    assert (served.argmax(-1) == signals.logits.argmax(-1)).all()
    tpr = {
        name: r["metrics"]["tpr_at_fpr"]["0.01"]["mean"] for name, r in (("none", plain["lira"]), ("rounding", record))
    }
    print(f"rounding: LiRA TPR@1%FPR {tpr['none']:.4f} -> {tpr['rounding']:.4f}")
    assert tpr["rounding"] < tpr["none"]


def test_output_noise_changes_outputs_and_utility_is_measured_on_them(undefended, data_dir):
    root, plain, signals = undefended
    (record,) = run("output-noise", data_dir, root, ["loss"]).values()
    assert record["timings"]["cache_hit"] is True
    defense = defenses.create("output-noise")
    served = defense.observe(signals.logits, signals.labels, signals.members, np.arange(K))
    again = defense.observe(signals.logits, signals.labels, signals.members, np.arange(K))
    assert np.array_equal(served, again)  # reproducible
    noise = np.exp(served) - softmax(signals.logits.astype(np.float64), -1)
    assert not np.allclose(noise[0], noise[1], atol=1e-3)  # each model draws its own noise
    flipped = (served.argmax(-1) != signals.logits.argmax(-1)).mean()
    accuracy = record["utility"]["test_accuracy"]["mean"], plain["loss"]["utility"]["test_accuracy"]["mean"]
    print(f"output-noise: {flipped:.1%} of labels flipped; test accuracy {accuracy[1]:.3f} -> {accuracy[0]:.3f}")
    assert flipped > 0 and accuracy[0] != accuracy[1]


def test_top_k_serves_only_the_k_largest_probabilities(undefended):
    _, _, signals = undefended
    for k in (1, 3):
        served = defenses.create("top-k", {"k": str(k)}).observe(signals.logits, signals.labels, None, np.arange(K))
        assert ((served > served.min(-1, keepdims=True)).sum(-1) <= k).all()
        assert (served.argmax(-1) == signals.logits.argmax(-1)).all()
        top = np.sort(log_softmax(signals.logits.astype(np.float64), -1), -1)[..., -k:]
        assert np.allclose(np.sort(served, -1)[..., -k:], top, atol=1e-5)  # served unchanged
    with pytest.raises(UserError, match="changes nothing"):
        defenses.create("top-k", {"k": "30"}).observe(signals.logits, signals.labels, None, np.arange(K))


@pytest.mark.parametrize(
    "name, params",
    [
        ("output-noise", {"sigma": "0"}),
        ("rounding", {"decimals": "-1"}),
        ("rounding", {"decimals": "0.5"}),
        ("top-k", {"k": "0"}),
        ("memguard", {"epsilon": "0"}),
        ("memguard", {"epsilon": "3"}),
    ],
)
def test_bad_parameters_are_refused_in_one_line(name, params):
    with pytest.raises(UserError) as error:
        defenses.create(name, params)
    assert "\n" not in str(error.value) and name in str(error.value)
