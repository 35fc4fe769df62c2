"""MemGuard: its classifiers are fitted in one explicit step (fit_serving) and observe only serves; on real
models it keeps every label within the distortion budget and fools a classifier attack."""

import numpy as np
import pytest
from scipy.special import log_softmax, softmax

from miabench.plan import MembershipPlan
from miabench.registry import defenses

K = 8


@pytest.fixture
def cube():
    """A small population's cube (K = 4, 60 examples, 12 auxiliary, 5 classes) and its plan."""
    rng = np.random.default_rng(0)
    plan = MembershipPlan.balanced(4, 60, 0, auxiliary=12)
    labels = rng.integers(0, 5, 60)
    logits = rng.normal(size=(4, 60, 1, 5)) + 3 * plan.members[..., None, None] * np.eye(5)[labels][None, :, None]
    return logits.astype(np.float32), labels, plan.members


def test_observe_before_fit_serving_is_refused(cube):
    logits, labels, members = cube
    with pytest.raises(RuntimeError, match=r"fit_serving\(logits, labels, members\)") as error:
        defenses.create("memguard").observe(logits, labels, members, np.arange(4))
    assert "\n" not in str(error.value)


def test_fitted_once_it_serves_the_population_and_outside_inputs(cube):
    logits, labels, members = cube
    defense = defenses.create("memguard")
    defense.fit_serving(logits, labels, members)
    fitted = defense.classifiers
    served = defense.observe(logits, labels, members, np.arange(4))
    assert served.shape == logits.shape and (served.argmax(-1) == logits.argmax(-1)).all()
    distortion = np.abs(softmax(served.astype(np.float64), -1) - softmax(logits.astype(np.float64), -1)).sum(-1)
    assert distortion.max() <= defense.epsilon + 1e-4 and distortion.mean() > 0.01
    # Serving fits nothing: the same inputs are served alike with or without the defender's memberships...
    np.testing.assert_array_equal(defense.observe(logits, labels, None, np.arange(4)), served)
    assert defense.classifiers is fitted
    # ...and a query to one model (an input outside the population) is served by that model's classifier.
    query = defense.observe(logits[2:3, :10], labels[:10], None, np.array([2]))
    np.testing.assert_allclose(query, served[2:3, :10], atol=1e-6)


def test_a_model_the_fit_did_not_see_is_refused(cube):
    logits, labels, members = cube
    defense = defenses.create("memguard")
    defense.fit_serving(logits[:2], labels, members[:2])
    with pytest.raises(RuntimeError, match="no classifier for model 3"):
        defense.observe(logits[3:], labels, None, np.array([3]))


def test_memguard_keeps_every_label_and_fools_classifier_attacks(runs_of, score_outputs):
    plain = runs_of("serving", "none")
    signals, models = plain.signals, np.arange(K)
    defense = defenses.create("memguard")
    defense.fit_serving(signals.logits, signals.labels, signals.members)  # as the runner does, once
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
    defended = score_outputs(served, signals, "logit-probe").metrics.auc.mean
    undefended = plain["logit-probe"].metrics.auc.mean
    print(f"memguard: logit-probe AUC {undefended:.3f} -> {defended:.3f}, mean L1 distortion {distortion.mean():.3f}")
    assert defended < undefended - 0.03
