"""Confidence: the true class's probability on the identity view."""

import numpy as np

PROBS = np.array([[[0.7, 0.2, 0.1]], [[0.1, 0.3, 0.6]], [[0.5, 0.25, 0.25]]])  # [N=3, A=1, C=3]
LABELS = np.array([0, 0, 2])


def test_confidence_is_the_true_class_probability_on_the_identity_view(score_one):
    views = np.concatenate([PROBS, PROBS[:, :, ::-1]], axis=1)  # a second view that must be ignored
    np.testing.assert_allclose(score_one("confidence", np.log(views), LABELS), [0.7, 0.1, 0.25])
