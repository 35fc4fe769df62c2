"""The membership plan: which of the K models trains on which of the N examples.

Every example is a member of exactly K/2 models (the design of LiRA), drawn from
the run seed. Each model can then be attacked in turn with the other K-1 as
references (leave-one-out), which gives K evaluations of an attack.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from miabench.errors import UserError
from miabench.seeding import derive


@dataclass(frozen=True)
class MembershipPlan:
    members: np.ndarray  # [K, N] bool
    seed: int | None = None

    @staticmethod
    def check(models: int) -> None:
        if models < 2 or models % 2:
            raise UserError(f"--models {models}: the membership plan needs an even number of models, at least 2")

    @classmethod
    def balanced(cls, models: int, examples: int, seed: int) -> MembershipPlan:
        cls.check(models)
        rng = np.random.default_rng(derive(seed, "plan"))
        # For each example, a random ranking of the models; the first half are IN.
        rank = rng.random((models, examples)).argsort(axis=0).argsort(axis=0)
        return cls(rank < models // 2, seed)

    @property
    def num_models(self) -> int:
        return self.members.shape[0]

    @property
    def num_examples(self) -> int:
        return self.members.shape[1]

    @property
    def hash(self) -> str:
        packed = np.packbits(self.members, axis=1)
        header = f"{self.members.shape[0]}x{self.members.shape[1]}".encode()
        return hashlib.sha256(header + packed.tobytes()).hexdigest()
