"""The membership plan: which of the K models trains on which of the N examples.

Models come in pairs that split the challenge examples between them: every
challenge example is a member of exactly one model of each pair, so of exactly
K/2 models (the balance of LiRA's design), and every model trains on half of them.
When a model is the target, its partner is left out of the references: the
remaining K - 2 references then hold every example exactly (K - 2)/2 times, so
their memberships say nothing about the target's. (With a plain "exactly K/2"
design the count among the K - 1 others would give the target's membership away.)

Auxiliary examples are members of no model: the attacker's known non-members.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from miabench.errors import UserError
from miabench.seeding import derive

LEAK_Z = 5  # standard errors apart before counts of references count as a leak rather than chance


@dataclass(frozen=True)
class MembershipPlan:
    members: np.ndarray  # [K, N] bool
    seed: int | None = None

    @staticmethod
    def check(models: int) -> None:
        if models < 2 or models % 2:
            raise UserError(f"--models {models}: the membership plan needs an even number of models, at least 2")

    @classmethod
    def balanced(cls, models: int, examples: int, seed: int, auxiliary: int = 0) -> MembershipPlan:
        """Pairs of models splitting the challenge examples; ``auxiliary`` examples in no model."""
        cls.check(models)
        if not 0 <= auxiliary < examples:
            raise UserError(f"auxiliary set of {auxiliary} examples: give between 0 and {examples - 1}")
        rng = np.random.default_rng(derive(seed, "plan"))
        challenge = np.sort(rng.permutation(examples)[auxiliary:])
        members = np.zeros((models, examples), dtype=bool)
        for first in range(0, models, 2):
            order = rng.permutation(challenge)
            half = len(order) // 2 + rng.integers(0, 2) * (len(order) % 2)  # an odd count: either side
            members[first, order[:half]] = True
            members[first + 1, order[half:]] = True
        return cls(members, seed)

    @property
    def num_models(self) -> int:
        return self.members.shape[0]

    @property
    def num_examples(self) -> int:
        return self.members.shape[1]

    @property
    def challenge(self) -> np.ndarray:
        """[N] bool: the examples some model trains on; the others are auxiliary (known non-members)."""
        return self.members.any(axis=0)

    @property
    def paired(self) -> bool:
        """Whether models 2j and 2j+1 split the challenge examples between them."""
        if self.num_models % 2:
            return False
        members = self.members[:, self.challenge]
        return bool((members[0::2] != members[1::2]).all())

    def references(self, target: int) -> np.ndarray:
        """Indices of the models that may serve as references when ``target`` is attacked."""
        excluded = {target, target ^ 1} if self.paired else {target}
        return np.array([k for k in range(self.num_models) if k not in excluded], dtype=int)

    @property
    def leak(self) -> str | None:
        """What gives some target's membership away through its references' memberships; None if nothing.

        An attack sees which references train on each candidate, and that must not depend on the
        target's membership: no candidate may be one that only the target trains on (no reference
        holds it, which marks a member for sure), and the number of references that train on a
        candidate must not differ between the target's members and non-members by more than chance
        (LEAK_Z standard errors: independent coin flips stay within). A paired plan puts every
        challenge example in exactly (K - 2)/2 references of every target: it never leaks.
        """
        challenge = self.challenge
        for target in range(self.num_models):
            counts = self.members[self.references(target)][:, challenge].sum(axis=0)
            is_member = self.members[target, challenge]
            inside, outside = counts[is_member], counts[~is_member]
            if not inside.size or not outside.size:
                continue
            alone = int((inside == 0).sum())
            if alone and not (outside == 0).any():
                return f"target {target} trains on {alone} example(s) that none of its references trains on"
            gap = inside.mean() - outside.mean()
            if abs(gap) > LEAK_Z * np.sqrt(inside.var() / inside.size + outside.var() / outside.size):
                return (
                    f"target {target}'s members are in {inside.mean():.2f} of its references on average, "
                    f"its non-members in {outside.mean():.2f}"
                )
        return None

    @property
    def leaks(self) -> bool:
        """Whether the references' memberships reveal some target's (see :attr:`leak`)."""
        return self.leak is not None

    @property
    def hash(self) -> str:
        packed = np.packbits(self.members, axis=1)
        header = f"{self.members.shape[0]}x{self.members.shape[1]}".encode()
        return hashlib.sha256(header + packed.tobytes()).hexdigest()
