"""The interfaces a task, an attack or a defense implements.

Each component is a dataclass whose fields are its parameters (``--param key=value``
on the command line) and registers itself with the decorator of its registry.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch


@dataclass(frozen=True)
class Recipe:
    """How every model of a task is trained; part of the track and of the cache key."""

    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "adam"  # "adam" or "sgd"
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0


@dataclass(frozen=True)
class TaskMetadata:
    """What a task is, where its data comes from, and how to cite it (after MTEB)."""

    name: str
    version: str
    description: str
    citation: str  # BibTeX of the dataset's original authors
    license: str
    source: str  # the public source, used when no local data directory is given
    model_family: str
    num_classes: int
    default_models: int  # K


@dataclass
class Population:
    """The fixed examples a task draws members from, and its held-out test set."""

    x: torch.Tensor  # [N, ...] float32
    y: torch.Tensor  # [N] int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    ids: np.ndarray  # [N] stable ids: positions in the source dataset
    fingerprint: str  # sha256 of the loaded data, so results on different copies never mix

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Task:
    """A dataset, a model family and a pinned training recipe.

    ``epochs``, ``batch_size`` and ``lr`` override the pinned recipe (``None`` keeps
    it); subclasses add their own parameters.
    """

    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    auxiliary_fraction: float = 0.1  # share of the population in no model: the attacker's known non-members

    metadata: ClassVar[TaskMetadata]
    pinned_recipe: ClassVar[Recipe]
    augmentations: ClassVar[tuple[str, ...]] = ("identity",)  # views queried for the signals cube

    def recipe(self) -> Recipe:
        overrides = {k: getattr(self, k) for k in ("epochs", "batch_size", "lr") if getattr(self, k) is not None}
        return dataclasses.replace(self.pinned_recipe, **overrides)

    def stacks_on(self, device: torch.device) -> bool:
        """Whether the K models of the family train stacked (one vmap) on ``device``, or one at a time."""
        return True

    def load(self, data_dir: Path | None) -> Population:
        """Load, deduplicate and fix the population; ``data_dir`` None means the public source."""
        raise NotImplementedError

    def make_model(self) -> torch.nn.Module:
        """One untrained model of the family (its weights are set by the engine's seed)."""
        raise NotImplementedError

    def augment(self, x: torch.Tensor, view: int) -> torch.Tensor:
        """The ``view``-th augmentation of a batch (0 is the identity)."""
        if view != 0:
            raise IndexError(view)
        return x


@dataclass
class Defense:
    """Changes how models are trained (the recipe) or what an attacker observes (the outputs)."""

    citation: ClassVar[str] = ""

    def training_recipe(self, recipe: Recipe) -> Recipe:
        return recipe

    def observe(self, logits: np.ndarray) -> np.ndarray:
        """What the attacker sees of logits ``[..., C]``; the identity unless the defense masks outputs."""
        return logits


@dataclass(frozen=True)
class ThreatModel:
    """What an attack needs: access to the target's outputs and reference models."""

    access: str  # "label", "scores" (probabilities) or "logits"
    min_references: int = 0
    online: bool = False  # needs references trained on each candidate (IN models)


@dataclass
class AttackView:
    """Everything one attack on one target may see; never the target's membership."""

    target: np.ndarray  # [N, A, C] the target's (observed) logits
    labels: np.ndarray  # [N]
    references: np.ndarray  # [R, N, A, C] reference models' (observed) logits
    reference_members: np.ndarray  # [R, N] bool
    auxiliary: np.ndarray  # [N] bool: members of no model, known to the attacker as non-members


@dataclass
class Attack:
    """Scores every example of the population for one target; higher means 'member'."""

    citation: ClassVar[str] = ""

    def threat_model(self) -> ThreatModel:
        raise NotImplementedError

    def score(self, view: AttackView) -> np.ndarray:
        raise NotImplementedError
