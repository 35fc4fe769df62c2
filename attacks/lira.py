"""LiRA: the likelihood-ratio attack (Carlini et al., S&P 2022).

The statistic is the logit-scaled confidence phi = log p_y - log sum_{y' != y} p_y'.
For each example and view, Gaussians are fitted to phi over the reference models
that trained on it (IN) and those that did not (OUT). Online LiRA scores the
likelihood ratio IN/OUT; offline LiRA scores how far phi lies from the OUT
distribution. Scores are averaged over the task's views.

Two variants of the fit, on the same phi:

- ``paper``: means, and stds pooled over the examples for an example with a single
  reference on a side; offline is one-sided (phi above OUT). Every target's fit merges
  the moments of the models before and after those it leaves out (:meth:`LiRA.score_all`).
- ``reference``: the public reference code (tensorflow/privacy, research/mi_lira_2021,
  ``generate_ours`` and ``generate_ours_offline``): medians; each example's IN and OUT
  references cut to the smallest count over the examples, in model order; a fixed
  variance pooled over the truncated IN values (online, both sides) or OUT values
  (offline); offline is two-sided (minus the OUT log-density).

Auxiliary examples are never IN and are not judged: the IN side is fitted on the
challenge examples only, while their OUT values count in the OUT fit and its pool.
"""

from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import logit_scaled_confidence
from miabench.errors import UserError
from miabench.params import param
from miabench.plan import MembershipPlan
from miabench.registry import attacks

MIN_STD = 1e-6  # keeps a degenerate (all-equal) reference distribution finite
REFERENCE_EPSILON = 1e-30  # what the reference code adds to every std


def require(count: np.ndarray, needed: np.ndarray, side: str) -> None:
    """Every example in ``needed`` ([N] bool) must have at least one reference on ``side`` (``count``: per example)."""
    missing = int((count[needed] == 0).sum())
    if missing:
        raise UserError(
            f"LiRA needs at least one {side} reference model for every challenge example, but "
            f"{missing} have none; use more models (--models) or, for IN, online=false"
        )


def moments(phi: np.ndarray, mask: np.ndarray):
    """Count [N, 1], mean and sum of squared deviations [N, A] of ``phi`` [R, N, A] where ``mask`` [R, N, 1] holds."""
    count = mask.sum(axis=0)
    mean = (phi * mask).sum(axis=0) / np.maximum(count, 1)  # examples with no reference get 0, unused
    return count, mean, (((phi - mean) ** 2) * mask).sum(axis=0)


def gaussian(count, mean, squares, fixed_variance: bool, needed: np.ndarray, side: str):
    """The paper variant's mean and std from one side's :func:`moments`; ``needed`` as in :func:`require`."""
    require(count, needed, side)
    pooled = np.sqrt(squares.sum(axis=0) / count.sum())  # one std per view, shared by all examples
    if fixed_variance:
        std = np.broadcast_to(pooled, mean.shape)
    else:
        # An example with a single reference on this side has no spread of its own: use the pooled std.
        std = np.where(count >= 2, np.sqrt(squares / np.maximum(count, 1)), pooled)
    return mean, np.maximum(std, MIN_STD)


def merge(a, b):
    """The :func:`moments` of two disjoint sets of references from theirs (Chan, Golub and LeVeque's
    update): every term adds, so nothing cancels as it would subtracting from a total."""
    (count_a, mean_a, squares_a), (count_b, mean_b, squares_b) = a, b
    count = count_a + count_b
    delta, share = mean_b - mean_a, count_b / np.maximum(count, 1)
    return count, mean_a + delta * share, squares_a + squares_b + delta**2 * count_a * share


class SideMoments:
    """One side's :func:`moments` over every prefix and every suffix of the K models, in model order.

    A target's references are all models but a block of neighbours (the target and, in a
    paired plan, its partner), so their moments merge one prefix with one suffix: O(N)
    per target instead of O(RN).
    """

    def __init__(self, phi: np.ndarray, mask: np.ndarray):  # [K, N, A], [K, N, 1]
        nothing = np.zeros(phi.shape[1:])
        models = [(m.astype(np.int64), np.where(m, p, 0.0), nothing) for p, m in zip(phi, mask)]
        empty = (np.zeros(mask.shape[1:], dtype=np.int64), nothing, nothing)
        self.prefix = list(accumulate(models, merge, initial=empty))  # [k]: models 0 .. k-1
        self.suffix = list(accumulate(reversed(models), lambda rest, m: merge(m, rest), initial=empty))[::-1]  # k ..

    def without(self, left_out: np.ndarray):
        """The moments over every model but ``left_out`` (sorted indices of neighbouring models)."""
        low, high = left_out[0], left_out[-1] + 1
        if high - low != len(left_out):
            raise ValueError(f"models {left_out.tolist()} left out are not neighbours")
        return merge(self.prefix[low], self.suffix[high])


def first_references(phi: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[N, m, A]: each example's first m references (in model order) where ``mask`` [R, N] holds, m the
    smallest count over the examples, as the reference code truncates them."""
    size = mask.sum(axis=0).min()
    keep = mask & (np.cumsum(mask, axis=0) <= size)
    return phi.transpose(1, 0, 2)[keep.T].reshape(mask.shape[1], size, phi.shape[2])


def reference_fit(values: np.ndarray, fixed_variance: bool):
    """Median [n, A] and std (ddof 0; one over all ``values`` [n, m, A] when fixed) of truncated references."""
    return np.median(values, axis=1), np.std(values) if fixed_variance else np.std(values, axis=1)


@attacks.register("lira-offline", online=False)
@attacks.register("lira")
@dataclass
class LiRA(Attack):
    online: bool = param(True, "IN and OUT references (likelihood ratio); false: a test against OUT alone")
    fixed_variance: bool = param(False, "one std pooled over all examples, not each example's own")
    variant: str = param(
        "paper", "paper: means, one-sided offline test; reference: the public code's medians, truncation "
        "and two-sided offline test", choices=("paper", "reference"),
    )  # fmt: skip

    description = "per-example Gaussian likelihood ratio of the logit-scaled confidence, IN vs OUT references"
    citation = ("carlini2022membership",)

    def threat_model(self) -> ThreatModel:
        # With the paired plan, K - 2 >= 2 references hold each example IN once and OUT once at least.
        return ThreatModel(access="scores", min_references=2, online=self.online)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return logit_scaled_confidence(outputs, labels)  # [K, N, A]

    def score(self, view: AttackView) -> np.ndarray:
        if self.variant == "reference":
            return self.reference_score(view)
        is_in = view.reference_members[:, :, None]
        challenge = ~view.auxiliary
        fits = [gaussian(*moments(view.references, ~is_in), self.fixed_variance, challenge, "OUT")]
        if self.online:
            fits.append(gaussian(*moments(view.references, is_in), self.fixed_variance, challenge, "IN"))
        return self.likelihood(view.target, *fits)

    def score_all(self, statistic: np.ndarray, labels: np.ndarray, plan: MembershipPlan) -> np.ndarray | None:
        """The paper variant for every target at once (:class:`SideMoments`); the reference variant's
        medians do not merge, so it is scored target by target."""
        if self.variant == "reference":
            return None
        is_in = plan.members[:, :, None]
        sides = {"OUT": SideMoments(statistic, ~is_in)} | ({"IN": SideMoments(statistic, is_in)} if self.online else {})
        rows = []
        for target in range(plan.num_models):
            left_out = np.setdiff1d(np.arange(plan.num_models), plan.references(target))
            fits = [gaussian(*moments_of.without(left_out), self.fixed_variance, plan.challenge, side)
                    for side, moments_of in sides.items()]  # fmt: skip
            rows.append(self.likelihood(statistic[target], *fits))
        return np.stack(rows)

    @staticmethod
    def likelihood(target: np.ndarray, out: tuple, inside: tuple | None = None) -> np.ndarray:
        """The paper variant's score of ``target`` [N, A] from the (mean, std) fits: the log-likelihood ratio
        (online, with ``inside``), else the one-sided tail of OUT; averaged over the views."""
        from scipy.stats import norm  # imported here: scipy.stats adds half a second to every start

        if inside is None:
            ratio = -norm.logsf(target, *out)
        else:
            ratio = norm.logpdf(target, *inside) - norm.logpdf(target, *out)
        return ratio.mean(axis=1)

    def reference_score(self, view: AttackView) -> np.ndarray:
        """The reference code's scores; online, the auxiliary examples (no IN reference, not judged) score 0."""
        from scipy.stats import norm

        phi, is_in, challenge = view.references, view.reference_members, ~view.auxiliary
        require((~is_in).sum(axis=0), challenge, "OUT")
        mean_out, std_out = reference_fit(first_references(phi, ~is_in), self.fixed_variance)
        if not self.online:
            return -norm.logpdf(view.target, mean_out, std_out + REFERENCE_EPSILON).mean(axis=1)
        require(is_in.sum(axis=0), challenge, "IN")
        mean_in, std_in = reference_fit(first_references(phi[:, challenge], is_in[:, challenge]), self.fixed_variance)
        if self.fixed_variance:
            std_out = std_in  # as the reference code does: the IN values' spread for both sides
        else:
            std_out = std_out[challenge]
        target = view.target[challenge]
        ratio = norm.logpdf(target, mean_in, std_in + REFERENCE_EPSILON) - norm.logpdf(
            target, mean_out[challenge], std_out + REFERENCE_EPSILON
        )
        scores = np.zeros(len(challenge))
        scores[challenge] = ratio.mean(axis=1)
        return scores
