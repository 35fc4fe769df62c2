"""Gap: a correct predicted label means member; its AUC is the generalization gap."""

import numpy as np

from miabench import scoring
from miabench.registry import attacks


def test_gap_scores_correctness_of_the_predicted_label(score_one):
    logits = np.array([[[2.0, 1.0, 0.0]], [[0.0, 3.0, 1.0]], [[0.0, 0.0, 5.0]]])
    assert attacks.create("gap").threat_model().access == "label"
    one_hot = scoring.observe(logits, "label")
    np.testing.assert_array_equal(score_one("gap", one_hot, np.array([0, 0, 2])), [1.0, 0.0, 1.0])


def test_on_real_models_gap_auc_is_the_generalization_gap(location_runs):
    records, _, root = location_runs
    with np.load(root / "basic-1" / "gap" / "scores.npz") as saved:
        scores, members = saved["scores"], saved["members"]
    challenge = members.any(axis=0)
    train = np.array([s[m].mean() for s, m in zip(scores, members)])
    test = np.array([s[challenge & ~m].mean() for s, m in zip(scores, members)])
    assert np.isin(scores, [0.0, 1.0]).all()
    assert abs(records["gap"].metrics.auc.mean - np.mean((1 + train - test) / 2)) < 1e-9
