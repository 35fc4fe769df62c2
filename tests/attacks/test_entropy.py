"""Entropy and Song & Mittal's modified entropy, exact and finite at the extremes."""

import numpy as np

from miabench import scoring

PROBS = np.array([[[0.7, 0.2, 0.1]], [[0.1, 0.3, 0.6]], [[0.5, 0.25, 0.25]]])  # [N=3, A=1, C=3]
LABELS = np.array([0, 0, 2])


def test_entropy_is_minus_the_shannon_entropy(score_one):
    def h(*p):
        return -sum(q * np.log(q) for q in p)

    expected = [-h(0.7, 0.2, 0.1), -h(0.1, 0.3, 0.6), -h(0.5, 0.25, 0.25)]
    np.testing.assert_allclose(score_one("entropy", np.log(PROBS), LABELS), expected)
    # A one-hot prediction (log 0 = -inf) has zero entropy, not NaN.
    one_hot = np.array([[[0.0, -np.inf, -np.inf]]])
    assert score_one("entropy", one_hot, np.array([0]))[0] == 0.0


def test_modified_entropy_follows_song_and_mittal(score_one):
    expected = [
        -0.3 * np.log(0.7) - 0.2 * np.log(0.8) - 0.1 * np.log(0.9),
        -0.9 * np.log(0.1) - 0.3 * np.log(0.7) - 0.6 * np.log(0.4),
        -0.75 * np.log(0.25) - 0.5 * np.log(0.5) - 0.25 * np.log(0.75),
    ]
    np.testing.assert_allclose(score_one("modified-entropy", np.log(PROBS), LABELS), np.negative(expected))
    # Unlike plain entropy, it tells a confident right answer from a confident wrong one.
    right, wrong = score_one("modified-entropy", np.log(PROBS[[0, 0]]), np.array([0, 1]))
    assert right > wrong


def test_modified_entropy_stays_finite_and_exact_when_a_probability_rounds_to_one(score_one):
    log_probs = scoring.observe(np.array([[[60.0, 0.0, 0.0]]] * 2), "scores")
    assert np.exp(log_probs[0, 0, 0]) == 1.0  # naive log(1 - p) would be -inf
    right, wrong = score_one("modified-entropy", log_probs, np.array([0, 1]))
    # Wrong: -(1 - p_1) log p_1 ~ 60 and -p_0 log(1 - p_0) = -log(2 e^-60) = 60 - log 2.
    np.testing.assert_allclose(wrong, -(120 - np.log(2)), rtol=1e-12)
    assert np.isfinite(right) and -1e-40 < right <= 0
    # Exact zeros (log p = -inf) are floored, not propagated.
    assert np.isfinite(
        score_one("modified-entropy", np.array([[[0.0, -np.inf]], [[-np.inf, 0.0]]]), np.array([0, 0]))
    ).all()
