"""MemGuard (Jia et al., CCS 2019): noise that makes each confidence vector an adversarial example
for the defender's own membership classifier.

Attackers decide membership with a classifier on the confidence vector, and
classifiers are fooled by adversarial examples. For each model the defender fits
its own membership classifier h on the vector in descending order, with its outputs
on m of its members (``members[k]``) against its outputs on m examples in no model:
the auxiliary population, public data it can hold too (no other model's challenge
examples are used). Then, for each vector s with top class l:

Phase I (every vector of every model at once): from the log-probabilities z, steps of
length ``STEP`` along the normalised gradient of
``|h(z)| + C2 * relu(max_{j != l} z_j - z_l) + C3 * ||softmax(z) - s||_1``
(h's logit, 0 at P(member) = 0.5; a penalty that keeps l on top; the L1 distortion)
until h's decision flips with l on top, for at most ``MAX_STEPS`` steps. This gives
s + r; a vector whose flip is not found is served unchanged.

Phase II: the served vector is the point of the segment from s to s + r where h
is 0.5 (found by bisection), moved back towards s if it lies further than
``epsilon`` (L1) from it. Every point of the segment is a distribution with top
class l, so the predicted class never changes and utility is kept.

Deviations from the paper, and why:

- h is a logistic regression on standardised log-probabilities, lightly fitted
  (``FIT_STEPS`` full-batch Adam steps from zero), not a neural network on
  probabilities: log-probabilities are what every attack of this benchmark reads,
  and a small ReLU network fitted to the few auxiliary examples has flat regions
  where the gradient search of Phase I stalled for up to 40% of the vectors.
- One distortion weight C3 = 0.1; the paper's code retries with 1, 10, ..., 1e5
  while the flip is still found, to shrink the noise, at several times the cost
  (Phase II already stops the noise where h is 0.5).
- Phase II is deterministic: the paper adds r with a probability p chosen so that
  h's expected output is 0.5 and the expected distortion is at most epsilon. Serving
  the point where h is 0.5 meets the same target on every query (a coin flip per
  query could be averaged away by repeating it), and the budget holds for every vector.

The classifiers are fitted once, by ``fit_serving``, on the population's cube and the
whole plan (so that the examples in none of its models are the auxiliary ones), before
anything is served; ``observe`` then serves the population, test examples and the
attacker's queries alike. Attacks in this benchmark
train on the defended outputs of reference models, i.e. they adapt to the defense,
which the paper's evaluation does not; expect a smaller effect than it reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import log_softmax

from miabench.api import Defense
from miabench.errors import UserError
from miabench.params import param
from miabench.registry import defenses
from miabench.seeding import derive

SEED = 0  # of the examples each defender classifier is fitted on
FIT_STEPS = 100  # full-batch Adam steps fitting each defender classifier
FIT_LR = 1e-2
STEP = 0.1  # length of each Phase I step in logit space (the paper's code)
MAX_STEPS = 300  # Phase I steps at most (the paper's code)
C2 = 10.0  # weight of the penalty that keeps the predicted class (the paper's code)
C3 = 0.1  # weight of the L1 distortion (the paper's code starts there)
BISECTIONS = 20  # Phase II halvings of the segment from s to s + r


@dataclass
class Classifiers:
    """The defender's membership classifiers, one row per model: logistic regressions on standardised
    log-probabilities, each vector in descending order."""

    mean: torch.Tensor  # [K', C]
    std: torch.Tensor  # [K', C]
    w: torch.Tensor  # [K', C]
    b: torch.Tensor  # [K']

    def logit(self, z: torch.Tensor, model: torch.Tensor) -> torch.Tensor:
        """Membership logits (> 0: member) ``[R]`` of logits ``z`` ``[R, C]``, row r by classifier ``model[r]``."""
        x = (torch.log_softmax(z, dim=-1) - self.mean[model]) / self.std[model]
        return (x * self.w[model]).sum(dim=-1) + self.b[model]

    def rows(self, index) -> Classifiers:
        return Classifiers(*(value[index] for value in (self.mean, self.std, self.w, self.b)))


def ranked_log_probs(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The log-probabilities of logits ``[K', ..., C]`` as ``[K', M, C]``, each vector in descending
    order (the predicted class first), and that order."""
    classes = logits.shape[-1]
    log_probs = log_softmax(logits.astype(np.float64), axis=-1).reshape(len(logits), -1, classes)
    order = np.argsort(-log_probs, axis=-1, kind="stable")
    return np.take_along_axis(log_probs, order, axis=-1), order


def fit_classifiers(ranked: np.ndarray, members: np.ndarray, models: np.ndarray) -> Classifiers:
    """One classifier per model, all fitted at once, on as many of its members as auxiliary examples.

    ``ranked`` is ``[K', N, A, C]``: log-probabilities, each vector in descending order;
    ``members`` is ``[K', N]``. Each model's classifier sees m of its members and m auxiliary
    examples (m the smaller count, drawn with a fixed seed), every view a row: balanced.
    """
    count, _, views, classes = ranked.shape
    auxiliary = np.flatnonzero(~members.any(axis=0))
    m = min(len(auxiliary), int(members.sum(axis=1).min()))
    if m == 0:
        raise UserError(
            "defense 'memguard' trains each model's membership classifier on its members against the auxiliary "
            "examples (in no model), but one side is empty; set the task parameter auxiliary_fraction > 0"
        )
    chosen = []
    for k, own in zip(models, members):
        rng = np.random.default_rng(derive(SEED, "memguard", int(k)))
        chosen.append(
            np.concatenate([rng.choice(np.flatnonzero(own), m, replace=False), rng.choice(auxiliary, m, replace=False)])
        )
    x = torch.from_numpy(ranked[np.arange(count)[:, None], np.stack(chosen)].reshape(count, 2 * m * views, classes))
    x = x.float()
    is_member = torch.arange(2 * m * views).lt(m * views).float().expand(count, -1)  # members first
    mean, std = x.mean(dim=1), x.std(dim=1).clamp_min(1e-6)  # [K', C]
    x = (x - mean[:, None]) / std[:, None]
    w = torch.zeros(count, classes, requires_grad=True)
    b = torch.zeros(count, requires_grad=True)
    optimizer = torch.optim.Adam([w, b], lr=FIT_LR)
    for _ in range(FIT_STEPS):
        logits = torch.einsum("kmc,kc->km", x, w) + b[:, None]
        loss = F.binary_cross_entropy_with_logits(logits, is_member, reduction="none").mean(dim=1).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return Classifiers(mean, std, w.detach(), b.detach())


def phase_one(h: Classifiers, z0: torch.Tensor, model: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy logits ``[R, C]`` that flip the classifiers' decisions, and ``[R]`` whether the flip was found.

    ``z0`` holds each vector in descending order (the predicted class in column 0), the order
    the classifier reads; as in the paper's code it is not re-sorted while the noise is sought.
    """
    s0 = torch.softmax(z0, dim=-1)
    with torch.no_grad():
        side = torch.sign(h.logit(z0, model))  # the decision to flip
    z, flipped = z0.clone(), side == 0  # a vector already at P(member) = 0.5 needs no noise
    for _ in range(MAX_STEPS):
        active = torch.nonzero(~flipped).squeeze(1)  # each vector stops at its flip
        if len(active) == 0:
            break
        with torch.enable_grad():  # also when serving the oracle, which runs under no_grad
            step = z[active].requires_grad_()
            loss = (
                h.logit(step, model[active]).abs()
                + C2 * F.relu(step[:, 1:].max(dim=-1).values - step[:, 0])
                + C3 * (torch.softmax(step, dim=-1) - s0[active]).abs().sum(-1)
            )
            (gradient,) = torch.autograd.grad(loss.sum(), step)
        with torch.no_grad():
            step = step - STEP * gradient / gradient.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            z[active] = step
            flipped[active] = (step.argmax(-1) == 0) & (h.logit(step, model[active]) * side[active] <= 0)
    return z, flipped & (side != 0)


def phase_two(h: Classifiers, ranked: np.ndarray, noisy: np.ndarray, model: torch.Tensor, epsilon: float):
    """The point of each segment from s (``ranked``) to s + r (``noisy``), log-probabilities ``[R, C]``,
    where h is 0.5, within L1 distance ``epsilon`` of s."""

    def mix(t: np.ndarray) -> np.ndarray:  # log of (1 - t) s + t (s + r), for t [R] in [0, 1]
        with np.errstate(divide="ignore"):  # log 0 at t = 0 or 1
            return np.logaddexp(np.log1p(-t)[:, None] + ranked, np.log(t)[:, None] + noisy)

    def logit(t: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return h.logit(torch.from_numpy(mix(t)).float(), model).double().numpy()

    # Bisection: h changes sign between the ends of the segment.
    start = np.sign(logit(np.zeros(len(ranked))))
    low, high = np.zeros(len(ranked)), np.ones(len(ranked))
    for _ in range(BISECTIONS):
        middle = (low + high) / 2
        crossed = np.sign(logit(middle)) != start
        low, high = np.where(crossed, low, middle), np.where(crossed, middle, high)
    # The end nearer 0.5, on either side: which side a vector lands on then says little about membership.
    nearer = np.where(np.abs(logit(low)) <= np.abs(logit(high)), low, high)
    distortion = np.abs(np.exp(noisy) - np.exp(ranked)).sum(-1)  # of the whole noise r, in L1
    return mix(np.minimum(nearer, epsilon / np.maximum(distortion, 1e-300)))


@defenses.register("memguard")
@dataclass
class MemGuard(Defense):
    epsilon: float = param(1.0, "the L1 distortion budget of each served probability vector", within="(0, 2]")

    serving_only = True
    description = "noise that makes each served vector an adversarial example for the defender's own attack"
    citation = ("jia2019memguard",)
    # The L1 distortion budget, which the paper varies to trace its trade-off; 2 is the most a vector can move.
    grid = MappingProxyType({"epsilon": (0.1, 0.3, 0.5, 1.0, 2.0)})

    def __post_init__(self):
        super().__post_init__()
        self.classifiers: Classifiers | None = None  # one row per model of the plan, from fit_serving

    def fit_serving(self, logits, labels, members):
        ranked, _ = ranked_log_probs(logits)
        self.classifiers = fit_classifiers(ranked.reshape(logits.shape), members, np.arange(len(members)))

    def observe(self, logits, labels, members, models):
        if self.classifiers is None:
            raise RuntimeError(
                "defense 'memguard' has no membership classifiers yet: call fit_serving(logits, labels, members) "
                "on the population's cube once before observe"
            )
        if models.max() >= len(self.classifiers.b):
            raise RuntimeError(
                f"defense 'memguard': no classifier for model {models.max()}; fit_serving saw "
                f"{len(self.classifiers.b)} models: give it the whole plan"
            )
        h = self.classifiers.rows(torch.as_tensor(models))
        classes = logits.shape[-1]
        ranked, order = ranked_log_probs(logits)  # [K', M, C]
        # Every vector of every model at once: row r of the flattened cube belongs to model r // M.
        flat = ranked.reshape(-1, classes)
        model = torch.arange(len(models)).repeat_interleave(ranked.shape[1])
        noisy, found = phase_one(h, torch.from_numpy(flat).float(), model)
        served = phase_two(h, flat, log_softmax(noisy.double().numpy(), axis=-1), model, self.epsilon)
        # Column 0 must stay the largest; float32 rounding in Phase I could in principle tie it.
        served = np.where((found.numpy() & (served.argmax(-1) == 0))[:, None], served, flat)
        unsorted = np.empty_like(ranked)
        np.put_along_axis(unsorted, order, served.reshape(ranked.shape), axis=-1)
        unsorted = unsorted.reshape(logits.shape).astype(np.float32)
        # Casting to float32 could tie the top class with a close second: serve those rare vectors as they are.
        tied = unsorted.argmax(-1) != logits.argmax(-1)
        return np.where(tied[..., None], logits, unsorted)
