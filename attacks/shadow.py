"""Learned attacks: classifiers trained on the reference models' outputs to tell members.

``shadow`` (Shokri et al., S&P 2017) trains one attack classifier per class: its rows
are (reference model r, challenge example n of that class), its features r's
log-probability vector on n (identity view), its label whether r trained on n. The
target's output on each example is then scored by the classifier of the example's class.

``logit-probe`` trains a single, class-agnostic classifier the same way on the sorted
(descending) log-probability vector, which does not depend on which class is the label.

The classifiers are scikit-learn logistic regressions on standardised features, each
trained on at most ``max_rows`` rows drawn with a fixed seed.
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.params import param
from miabench.registry import attacks

SEED = 0  # of the row subsample and the solver
MIN_LOG_PROB = -100.0  # log-probabilities below this are clipped, keeping the features well scaled


def identity_log_probs(outputs: np.ndarray) -> np.ndarray:
    """[K, N, C] float32: the log-probability vector of the identity view, clipped below."""
    return np.maximum(outputs[:, :, 0, :], MIN_LOG_PROB).astype(np.float32)


def training_rows(references: np.ndarray, members: np.ndarray, examples: np.ndarray, max_rows: int, rng):
    """Features [M, F] and member labels [M] of (reference, example) rows, at most ``max_rows`` of them.

    ``references`` is [R, N, F], ``members`` [R, N] and ``examples`` the example indices to draw from.
    """
    count = len(references) * len(examples)
    flat = np.arange(count) if count <= max_rows else np.sort(rng.choice(count, max_rows, replace=False))
    model, example = flat // len(examples), examples[flat % len(examples)]
    return references[model, example], members[model, example]


def member_probability(features: np.ndarray, is_member: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Fit a logistic regression on (features, is_member) and return P(member) for ``queries``.

    With rows of one kind only (or none), nothing can be learned: every query gets the rows' member rate.
    """
    if is_member.all() or not is_member.any():
        return np.full(len(queries), float(is_member.mean()) if len(is_member) else 0.5)
    from sklearn.linear_model import LogisticRegression  # imported here: it slows every start by about a second

    mean, std = features.mean(axis=0), np.maximum(features.std(axis=0), 1e-6)
    # liblinear: the fastest solver on these small, dense problems (its intercept is regularised
    # too, harmless on standardised features); random_state pins it.
    model = LogisticRegression(solver="liblinear", random_state=SEED).fit((features - mean) / std, is_member)
    return model.predict_proba((queries - mean) / std)[:, 1]


@dataclass
class LearnedAttack(Attack):
    max_rows: int = param(5000, "rows each attack classifier trains on, at most", within="[2, inf)")

    citation = ("shokri2017membership",)

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="scores", min_references=1)


@attacks.register("shadow")
@dataclass
class Shadow(LearnedAttack):
    description = "per-class attack classifiers trained on the references' outputs"

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return identity_log_probs(outputs)  # [K, N, C]

    def score(self, view: AttackView) -> np.ndarray:
        labels, challenge = view.labels, ~view.auxiliary
        scores = np.zeros(len(labels))
        for c in np.unique(labels):
            rng = np.random.default_rng([SEED, int(c)])
            of_class = labels == c
            features, is_member = training_rows(
                view.references, view.reference_members, np.flatnonzero(of_class & challenge), self.max_rows, rng
            )
            scores[of_class] = member_probability(features, is_member, view.target[of_class])
        return scores


@attacks.register("logit-probe")
@dataclass
class LogitProbe(LearnedAttack):
    description = "one logistic regression on the sorted probability vector, trained on the references"

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return -np.sort(-identity_log_probs(outputs), axis=-1)  # [K, N, C], each vector in descending order

    def score(self, view: AttackView) -> np.ndarray:
        rng = np.random.default_rng(SEED)
        challenge = np.flatnonzero(~view.auxiliary)
        features, is_member = training_rows(view.references, view.reference_members, challenge, self.max_rows, rng)
        return member_probability(features, is_member, view.target)
