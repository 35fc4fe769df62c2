"""The interfaces a task, an attack or a defense implements.

Each component is a dataclass whose fields are its parameters (``--param key=value``
on the command line) and registers itself with the decorator of its registry.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch


@dataclass(frozen=True)
class Recipe:
    """How every model of a task is trained; part of the track and of the cache key."""

    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "adam"  # "adam", "adamw" or "sgd"
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    schedule: str = "constant"  # or "triangle": lr/5 rising to lr at a quarter of the steps, then falling to 0
    flip: bool = False  # mirror each training image at random (images only)
    translate: int = 0  # shift each training image by up to this many pixels each way, reflecting the border


@dataclass(frozen=True)
class Profile:
    """A track of the fixed harness: the recipe, K and task parameters that every result on it shares.

    ``cpu`` is the default elsewhere; ``gpu`` needs a CUDA device (``miabench run --profile gpu``).
    """

    recipe: Recipe
    models: int  # K
    params: dict = dataclasses.field(default_factory=dict)  # task parameters the track pins, e.g. population_size


PROFILES = ("cpu", "gpu")


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
    class_names: tuple[str, ...] = ()
    flagged_class: int | None = None  # the class a safety classifier flags: reported as subgroup "flagged"


@dataclass
class Population:
    """The fixed examples a task draws members from, and its held-out test set."""

    x: torch.Tensor  # [N, ...] float32
    y: torch.Tensor  # [N] int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    ids: np.ndarray  # [N] stable ids: positions in the source dataset
    fingerprint: str  # sha256 of the loaded data, so results on different copies never mix
    source: str = ""  # which of the task's data sources it came from, when it has several (e.g. jpeg, hub)

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
    gpu_profile: ClassVar[Profile | None] = None  # the GPU track, when it differs from the pinned (CPU) one
    augmentations: ClassVar[tuple[str, ...]] = ("identity",)  # views queried for the signals cube

    @property
    def model_family(self) -> str:
        return self.metadata.model_family

    def profile(self, name: str = "cpu") -> Profile:
        """The track ``name`` (one of PROFILES): the pinned recipe and default K unless the task has a GPU profile."""
        if name == "gpu" and self.gpu_profile is not None:
            return self.gpu_profile
        return Profile(self.pinned_recipe, self.metadata.default_models)

    def recipe(self, profile: str = "cpu") -> Recipe:
        overrides = {k: getattr(self, k) for k in ("epochs", "batch_size", "lr") if getattr(self, k) is not None}
        return dataclasses.replace(self.profile(profile).recipe, **overrides)

    def training_strategy(self, device: torch.device) -> str:
        """How the family's models train together on ``device``: ``stacked``, ``grouped`` or ``sequential``
        (see :mod:`miabench.engine`); the fastest measured one."""
        return "stacked"

    def load(self, data_dir: Path | None, progress: bool = True) -> Population:
        """Load, deduplicate and fix the population; ``data_dir`` None means the public source.

        ``progress`` shows bars for slow preparation (e.g. embedding texts).
        """
        raise NotImplementedError

    def make_model(self) -> torch.nn.Module:
        """One untrained model of the family (its weights are set by the engine's seed)."""
        raise NotImplementedError

    def subgroups(self, labels: np.ndarray) -> dict[str, np.ndarray]:
        """Named example masks whose metrics the record reports separately."""
        meta = self.metadata
        return class_subgroups(labels, meta.num_classes, meta.class_names, meta.flagged_class)

    def augment(self, x: torch.Tensor, view: int) -> torch.Tensor:
        """The ``view``-th augmentation of a batch (0 is the identity)."""
        if view != 0:
            raise IndexError(view)
        return x


def class_subgroups(labels: np.ndarray, num_classes: int, names=(), flagged: int | None = None) -> dict:
    """One subgroup per class (``class:<name>``), plus ``flagged`` for the class a safety classifier flags."""
    names = names or [str(c) for c in range(num_classes)]
    groups = {f"class:{names[c]}": labels == c for c in range(num_classes)}
    if flagged is not None:
        groups["flagged"] = labels == flagged
    return groups


@dataclass
class Defense:
    """Changes how models train (training side) or what anyone observes of them (serving side).

    Training side, from the smallest change to the largest: ``training_recipe``
    (optimizer settings), ``wrap_model``, ``loss``, or ``fit`` for a whole loop of
    its own. Serving side: ``observe``. The attacker knows the defense: reference
    models train under it too, and it serves the attacker and the utility test alike.
    """

    citation: ClassVar[str] = ""
    serving_only: ClassVar[bool] = False  # trains the models of 'none', which the cache then shares
    stacks: ClassVar[bool] = True  # False: models train one at a time (e.g. per-sample gradients)

    def training_recipe(self, recipe: Recipe) -> Recipe:
        return recipe

    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as trained and served (e.g. with dropout layers added)."""
        return model

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Each model's training loss on its batch: logits ``[G, B, C]``, labels ``[G, B]`` -> ``[G]``."""
        per_example = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
        return per_example.view(labels.shape).mean(dim=1)

    def fit(self, job) -> dict[str, np.ndarray]:
        """Train ``job`` (a :class:`miabench.engine.TrainingJob`); return facts per model, e.g. ``{"epsilon": [G]}``."""
        job.train(loss=lambda logits, idx: self.loss(logits, job.y[idx]))
        return {}

    def observe(
        self, logits: np.ndarray, labels: np.ndarray, members: np.ndarray | None, models: np.ndarray
    ) -> np.ndarray:
        """What is served of logits ``[K', N, A, C]``: the identity unless the defense masks outputs.

        ``models`` ``[K']`` says which of the K models each leading row comes from.
        ``members`` ``[K', N]`` is the defender's knowledge of its own training sets; it
        is None for inputs outside the population (test examples, an attacker's
        queries), which the runner serves after the population's cube.
        """
        return logits

    def training_config(self) -> dict:
        """What of the defense determines the trained models (part of the cache key)."""
        if self.serving_only:
            return {"name": "none", "params": {}}
        return {"name": self.name, "params": dataclasses.asdict(self)}


@dataclass(frozen=True)
class ThreatModel:
    """What an attack needs; the harness refuses a setting that cannot meet it."""

    access: str  # "label" (one-hot predicted class), "scores" (log-probabilities) or "logits"
    min_references: int = 0  # reference models, besides the target
    online: bool = False  # needs references that trained on each candidate (IN models)
    auxiliary: bool = False  # needs the auxiliary population: examples known to be in no model
    queries: bool = False  # queries the target beyond the signals cube, through the counted oracle


@dataclass
class AttackView:
    """Everything one attack on one target may see; never the target's membership.

    ``target`` and ``references`` hold what the attack's ``statistic`` kept of the
    observed outputs: by default the outputs themselves, ``[N, A, C]`` and ``[R, N, A, C]``.
    """

    target: Any
    labels: np.ndarray  # [N]
    references: Any
    reference_members: np.ndarray  # [R, N] bool
    auxiliary: np.ndarray  # [N] bool: members of no model, known to the attacker as non-members
    inputs: Any = None  # the candidates' inputs ([N, ...] tensor) when the harness has them
    oracle: Any = None  # counted queries to the target (miabench.oracle.Oracle) when the harness has the models


@dataclass
class Selection:
    """Scores for a subset: an attack that judges only the candidates it chose (``chosen`` [N] bool)."""

    scores: np.ndarray
    chosen: np.ndarray


@dataclass
class Attack:
    """Scores every example of the population for one target; higher means 'member'."""

    citation: ClassVar[str] = ""

    def threat_model(self) -> ThreatModel:
        raise NotImplementedError

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> Any:
        """What the attack keeps of every model's observed outputs ``[K, N, A, C]``.

        Computed once for the whole cube, then sliced per target and references: an
        array, or a dict of arrays, with the model axis first. The default keeps the outputs.
        """
        return outputs

    def score(self, view: AttackView) -> np.ndarray | Selection:
        """One score per example ([N]; higher means member), or a :class:`Selection`."""
        raise NotImplementedError
