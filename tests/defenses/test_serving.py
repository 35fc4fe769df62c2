"""Label-only, rounding, output noise and top-k on real models: they reuse the undefended models and
change only what is served.

The serving group's undefended run (Location-30, K = 8) trains the models; each defense then loads
them from the same cache and transforms the outputs the attacks, the oracle and the utility test see.
"""

import numpy as np
import pytest
from scipy.special import log_softmax, softmax

from miabench.errors import UserError
from miabench.registry import defenses

K = 8


def auc(record):
    return record.metrics.auc.mean


@pytest.mark.parametrize("name", ["label-only", "rounding", "output-noise", "top-k"])
def test_serves_the_undefended_models(name):
    defense = defenses.entry(name).component_class
    assert defense.serving_only and defenses.create(name).training_config() == {"name": "none", "params": {}}


def test_label_only_leaves_score_attacks_only_the_label(runs_of):
    plain, run = runs_of("serving", "none"), runs_of("serving", "label-only", ("loss", "lira", "gap"))
    signals = plain.signals
    assert run["loss"].timings.cache_hit is True  # the undefended models, from the cache
    served = defenses.create("label-only").observe(signals.logits, signals.labels, None, np.arange(K))
    assert len(np.unique(served.reshape(-1, served.shape[-1]), axis=0)) <= served.shape[-1]  # one vector per class
    defended = ", ".join(f"{name} {auc(run[name]):.3f}" for name in ("loss", "lira", "gap"))
    print(f"label-only AUC: {defended} (undefended: loss {auc(plain['loss']):.3f}, lira {auc(plain['lira']):.3f})")
    # The loss of a served vector only says whether it is right: exactly the gap attack.
    assert abs(auc(run["loss"]) - auc(run["gap"])) < 1e-9
    # LiRA still compares each example's correctness with the reference models' (a label-only attack in
    # effect), so it may beat gap, but it has lost the confidence it read without the defense.
    assert auc(run["lira"]) < auc(plain["lira"]) - 0.02


def test_rounding_lowers_lira_at_low_false_positive_rates(runs_of):
    plain, run = runs_of("serving", "none"), runs_of("serving", "rounding", ("lira",))
    signals = plain.signals
    assert run["lira"].timings.cache_hit is True
    served = defenses.create("rounding", {"decimals": "1"}).observe(signals.logits, signals.labels, None, np.arange(K))
    probs = np.exp(served.astype(np.float64))
    assert np.allclose(probs[probs > 0.05], np.round(probs[probs > 0.05], 1), atol=1e-3)  # tenths, or the floor
    assert (served.argmax(-1) == signals.logits.argmax(-1)).all()
    tpr = {name: r["lira"].metrics.tpr_at_fpr["0.01"].mean for name, r in (("none", plain), ("rounding", run))}
    print(f"rounding: LiRA TPR@1%FPR {tpr['none']:.4f} -> {tpr['rounding']:.4f}")
    assert tpr["rounding"] < tpr["none"]


def test_output_noise_changes_outputs_and_utility_is_measured_on_them(runs_of):
    plain, run = runs_of("serving", "none"), runs_of("serving", "output-noise", ("loss",))
    signals = plain.signals
    assert run["loss"].timings.cache_hit is True
    defense = defenses.create("output-noise")
    served = defense.observe(signals.logits, signals.labels, signals.members, np.arange(K))
    again = defense.observe(signals.logits, signals.labels, signals.members, np.arange(K))
    assert np.array_equal(served, again)  # reproducible
    noise = np.exp(served) - softmax(signals.logits.astype(np.float64), -1)
    assert not np.allclose(noise[0], noise[1], atol=1e-3)  # each model draws its own noise
    flipped = (served.argmax(-1) != signals.logits.argmax(-1)).mean()
    accuracy = run["loss"].utility.test_accuracy.mean, plain["loss"].utility.test_accuracy.mean
    print(f"output-noise: {flipped:.1%} of labels flipped; test accuracy {accuracy[1]:.3f} -> {accuracy[0]:.3f}")
    assert flipped > 0 and accuracy[0] != accuracy[1]


def test_top_k_serves_only_the_k_largest_probabilities(runs_of):
    signals = runs_of("serving", "none").signals
    for k in (1, 3):
        served = defenses.create("top-k", {"k": str(k)}).observe(signals.logits, signals.labels, None, np.arange(K))
        assert ((served > served.min(-1, keepdims=True)).sum(-1) <= k).all()
        assert (served.argmax(-1) == signals.logits.argmax(-1)).all()
        top = np.sort(log_softmax(signals.logits.astype(np.float64), -1), -1)[..., -k:]
        assert np.allclose(np.sort(served, -1)[..., -k:], top, atol=1e-5)  # served unchanged
    with pytest.raises(UserError, match="changes nothing"):
        defenses.create("top-k", {"k": "30"}).observe(signals.logits, signals.labels, None, np.arange(K))
    binary = signals.logits[..., :2]
    with pytest.raises(UserError, match=r"give k < 2, e.g. --param top-k.k=1$"):  # a value it accepts
        defenses.create("top-k", {"k": "3"}).observe(binary, signals.labels % 2, None, np.arange(K))
