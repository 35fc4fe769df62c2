"""RMIA: the relative membership inference attack (Zarifzadeh et al., ICML 2024).

The statistic is p_y, the probability of the true class, averaged over the task's
views. For a candidate x, ratio_x = p_target(x) / Pr(x), where Pr(x) is p_y on x
averaged over reference models. Online, Pr(x) = (mean over the IN references + mean
over the OUT references) / 2, as the reference code balances them (ml_privacy_meter,
research/2023_rmia, takes as many IN as OUT models per example, then a trimmed mean;
here every reference counts, untrimmed); where x has references of one kind only (the
auxiliary z: all OUT), their mean. Offline, the mean over those that
did not train on x, corrected linearly towards what an IN model would give,
Pr(x) = ((1 + a) * mean_OUT(x) + (1 - a)) / 2. The population samples z are the
auxiliary examples (in no model, so every reference is OUT on them), with ratio_z
computed the same way. The score of x is the fraction of z that x dominates:
#{z : ratio_x / ratio_z > gamma} / #z.

With ``offline_a`` unset, a is tuned for each target on its references alone: one
reference plays the target, the others its references, and the a in {0, 0.1, ..., 1}
whose offline attack has the best AUC against that reference's (known) memberships wins.
Its known non-members include the auxiliary examples, so that tuning works with the
two references of K = 4 too (a pair of the plan: each is IN wherever the other is OUT).

``tie_break`` (a miabench refinement, off by default so that the default is the paper's
attack): the fraction is a step function of ratio_x with #z + 1 levels; with gamma = 1
a tenth of the candidates can share its top level, which caps the TPR at low FPR. On,
ties are broken by the candidate's own ratio_x (see :func:`break_ties`); as the fraction
never decreases with ratio_x, a target's candidates are then ranked by ratio_x itself.
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import out_mean, true_class_log_prob
from miabench.attacks.population import break_ties
from miabench.metrics import auc
from miabench.params import param
from miabench.registry import attacks

A_GRID = np.round(np.linspace(0.0, 1.0, 11), 1)  # the values of offline_a tried when tuning
TUNING_EXAMPLES = 5000  # examples the pseudo-target is scored on when tuning, at most
FALLBACK_A = 1.0  # when a cannot be tuned: Pr(x) is the plain OUT mean, uncorrected
TINY = np.finfo(np.float64).tiny  # keeps Pr(x) positive when every reference's p_y underflowed to 0


def offline_prior(mean_out: np.ndarray, a: float) -> np.ndarray:
    """Pr(x) from the OUT mean: the paper's linear approximation of the IN-and-OUT average."""
    return 0.5 * ((1.0 + a) * mean_out + (1.0 - a))


def online_prior(references: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Pr(x) online: the average of the IN references' mean and the OUT references' mean on x.

    Where x has references of one kind only, or as many IN as OUT (every challenge example of the
    paired plan), that is the plain mean over the references, which is kept as computed. With
    unequal counts the plain mean would weigh IN and OUT by their counts, which (on a plan that
    is not paired) vary with the target's own membership.
    """
    n_in = members.sum(axis=0)
    n_out = len(members) - n_in
    prior = references.mean(axis=0)
    uneven = (n_in > 0) & (n_out > 0) & (n_in != n_out)
    if uneven.any():
        mean_in = np.einsum("rn,rn->n", references, members, dtype=np.float64) / np.maximum(n_in, 1)
        mean_out = np.einsum("rn,rn->n", references, ~members, dtype=np.float64) / np.maximum(n_out, 1)
        prior[uneven] = 0.5 * (mean_in[uneven] + mean_out[uneven])
    return prior


def relative_scores(target, prior, auxiliary, gamma, candidates=slice(None), tie_break=False) -> np.ndarray:
    """The fraction of population samples z (the auxiliary examples) with ratio_x / ratio_z > gamma.

    One score for each x in ``candidates`` (default: every example). ratio_x / ratio_z > gamma
    is ratio_z < ratio_x / gamma (ratios are >= 0 and gamma > 0; where ratio_z = 0 both forms hold
    exactly when ratio_x > 0), so one sort of ratio_z and a binary search per x count the
    dominated z without forming the N x Z matrix. ``tie_break``: ties broken by ratio_x.
    """
    ratio = target / np.maximum(prior, TINY)
    population = np.sort(ratio[auxiliary])
    scores = np.searchsorted(population, ratio[candidates] / gamma, side="left") / len(population)
    return break_ties(scores, ratio[candidates]) if tie_break else scores


@attacks.register("rmia-online", online=True)
@attacks.register("rmia")
@dataclass
class RMIA(Attack):
    online: bool = param(False, "Pr(x) over IN and OUT references; false: the OUT mean, corrected by offline_a")
    offline_a: float | None = param(None, "the offline correction a; none: tuned for each target on its references",
                                    within="[0, 1]")  # fmt: skip
    gamma: float = param(1.0, "x dominates z when ratio_x / ratio_z > gamma", within="(0, inf)")
    tie_break: bool = param(False, "break ties of the fraction of z dominated by ratio_x (a miabench refinement)")

    description = "relative membership inference: likelihood ratios against population z samples"
    citation = ("zarifzadeh2024low",)

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="scores", min_references=2 if self.online else 1, online=self.online, auxiliary=True)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return np.exp(true_class_log_prob(outputs, labels)).mean(axis=-1)  # [K, N]: p_y averaged over views

    def score(self, view: AttackView) -> np.ndarray:
        target, references, members = view.target, view.references, view.reference_members  # [N], [R, N], [R, N]
        auxiliary = view.auxiliary
        if self.online:
            prior = online_prior(references, members)
        else:
            a = self.offline_a if self.offline_a is not None else self.tune(references, members, auxiliary)
            prior = offline_prior(out_mean(references, members, ~auxiliary, self.name), a)
        return relative_scores(target, prior, auxiliary, self.gamma, tie_break=self.tie_break)

    def tune(self, references: np.ndarray, members: np.ndarray, auxiliary: np.ndarray) -> float:
        """The offline a with the best AUC when the first reference is attacked with the others as references."""
        if len(references) < 2:
            # One reference: none is left to serve as the pseudo-target's references, so a cannot
            # be tuned; a = 1 takes Pr(x) as the plain OUT mean, without the linear correction.
            return FALLBACK_A
        pseudo, is_member = references[0], members[0]
        rest, rest_members = references[1:], members[1:]
        # The pseudo-target is attacked on the challenge examples that have an OUT model among the
        # remaining references, and on the auxiliary examples, known non-members of every model. (With
        # two references that are a pair of the plan, the challenge examples are then the pseudo-target's
        # members alone, and the auxiliary examples its only non-members.)
        candidates = auxiliary | (~rest_members).any(axis=0)
        # A scalar needs no more than a few thousand examples: an even spread of them keeps tuning cheap.
        chosen = np.flatnonzero(candidates)
        chosen = chosen[np.linspace(0, len(chosen) - 1, min(len(chosen), TUNING_EXAMPLES)).astype(int)]
        if is_member[chosen].all() or not is_member[chosen].any():  # no AUC without both kinds
            return FALLBACK_A
        mean_out = out_mean(rest, rest_members, candidates, self.name)

        def quality(a: float) -> float:
            scores = relative_scores(pseudo, offline_prior(mean_out, a), auxiliary, self.gamma, chosen, self.tie_break)
            return auc(scores, is_member[chosen])

        return float(A_GRID[int(np.argmax([quality(a) for a in A_GRID]))])  # ties: the smallest a
