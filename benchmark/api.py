"""The interfaces a task, an attack or a defense implements.

Each component is a dataclass whose fields are its parameters (``--param key=value``
on the command line), each declared with :func:`miabench.params.param`; it registers
itself with the decorator of its registry, and says what it is (``description``) and
which papers to cite (``citation``: keys of :mod:`miabench.citations`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import torch

from miabench.losses import cross_entropy
from miabench.params import check, param
from miabench.seeding import derive


@dataclass
class Component:
    """What tasks, attacks and defenses share: declared parameters, checked whenever one is built."""

    name: ClassVar[str] = ""  # the registered name (an instance from the registry carries the one it was built by)
    description: ClassVar[str] = ""  # one line: what it does
    citation: ClassVar[tuple[str, ...]] = ()  # BibTeX keys in miabench.citations

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class Recipe:
    """How every model of a task is trained; part of the track and of the cache key."""

    epochs: int = param(help="passes over each model's members", within="[1, inf)")
    batch_size: int = param(help="examples per step", within="[1, inf)")
    lr: float = param(help="the learning rate (the peak of a schedule)", within="(0, inf)")
    optimizer: str = param("adam", "the optimizer", choices=("adam", "adamw", "sgd"))
    momentum: float = param(0.9, "SGD's momentum (sgd only)", within="[0, 1)")
    weight_decay: float = param(0.0, "the optimizer's weight decay", within="[0, inf)")
    schedule: str = param(
        "constant", "constant; triangle: lr/5 rising to lr at a quarter of the steps, then to 0; cosine: a linear "
        "warm-up over the first 5% of the steps, then a cosine decay to 0 (the Hugging Face Trainer's)",
        choices=("constant", "triangle", "cosine"),
    )  # fmt: skip
    flip: bool = param(False, "mirror each training image at random (images only)")
    translate: int = param(0, "shift each training image by up to this many pixels, reflecting the border",
                           within="[0, inf)")  # fmt: skip
    balanced_batches: bool = param(
        False, "draw batches with every class equally often (class weighting by sampling, which every loss inherits)"
    )

    # Fields added after records were first hashed: a config states them only when set, so every
    # earlier cache key and record hash stays valid.
    STATED_WHEN_SET: ClassVar[tuple[str, ...]] = ("balanced_batches",)

    def __post_init__(self):
        check(self)

    def config(self) -> dict:
        """The recipe as cache keys and record hashes state it."""
        fields = dataclasses.asdict(self)
        defaults = Recipe.__dataclass_fields__
        return {k: v for k, v in fields.items() if k not in self.STATED_WHEN_SET or v != defaults[k].default}


@dataclass(frozen=True)
class Profile:
    """A track of the fixed harness: the recipe, K and task parameters that every result on it shares.

    ``cpu`` is the default elsewhere; ``gpu`` needs a CUDA device (``miabench run --profile gpu``).
    """

    recipe: Recipe
    models: int  # K
    params: dict = dataclasses.field(default_factory=dict)  # task parameters the track pins, e.g. population_size


TRACKS = ("cpu", "gpu")  # the harness tracks; a result is comparable only within its track
STRATEGIES = ("stacked", "grouped", "sequential")  # how a group of models trains (see miabench.engine)


VALIDATION_SHARE = 0.5  # of the held-out data: the validation split of task versions whose recipe was tuned


@dataclass(frozen=True)
class DataPin:
    """The population a task version is defined on for one track: its size N and the sha256
    fingerprint a run computes (:attr:`Population.fingerprint`)."""

    examples: int  # N
    fingerprint: str  # 64 hex digits


@dataclass(frozen=True)
class TaskMetadata:
    """What a task is, where its data comes from, and how to cite it (after MTEB)."""

    name: str
    version: str
    description: str
    citation: tuple[str, ...]  # BibTeX keys (miabench.citations) of the dataset's original authors
    license: str
    source: str  # the public source, used when no local data directory is given
    model_family: str
    num_classes: int
    default_models: int  # K
    class_names: tuple[str, ...] = ()
    flagged_class: int | None = None  # the class a safety classifier flags: reported as subgroup "flagged"
    revision: str | None = None  # the pinned commit of the public source on the Hugging Face Hub
    highlighted: tuple[str, ...] = ()  # subgroups reported beside the overall numbers; "flagged" when a class is
    # The data this version is defined on, per track (of TRACKS): a record's examples and data_fingerprint
    # must match its track's pin. A track without one is unpinned. Left out of the hash: metadata stays hashable.
    pinned_data: Mapping[str, DataPin] = dataclasses.field(default_factory=dict, hash=False)
    # The commit of the published signal cubes (miabench.cubes.REPO) made on this version's pinned data;
    # None until they are published (README: "Compare a new attack in a minute").
    cubes_revision: str | None = None
    # The share of the held-out data carved off as the validation split that recipes are tuned on
    # (miabench.tuning); utility is then measured on the rest. 0: this version has no validation split.
    validation_share: float = 0.0
    # What the literature reports for the dataset, with its metric, model and citation key, beside our
    # tuned utility in docs/recipes.md; "" where nothing comparable was found.
    reported_utility: str = ""

    def __post_init__(self):
        if self.flagged_class is not None and "flagged" not in self.highlighted:
            object.__setattr__(self, "highlighted", ("flagged", *self.highlighted))
        object.__setattr__(self, "pinned_data", MappingProxyType(dict(self.pinned_data)))  # frozen like the rest

    def pin(self, track: str) -> DataPin | None:
        """The data the task version is defined on for ``track``, or None where that track is unpinned."""
        return self.pinned_data.get(track)

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, or the class indices as strings for a task that names none."""
        return self.class_names or tuple(str(c) for c in range(self.num_classes))


@dataclass
class Population:
    """The fixed examples a task draws members from, its held-out test set and, where the task
    version has one, the validation split carved from the held-out data."""

    x: torch.Tensor  # [N, ...] float32
    y: torch.Tensor  # [N] int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    ids: np.ndarray  # [N] stable ids: positions in the source dataset
    fingerprint: str  # sha256 of the loaded data, so results on different copies never mix
    source: str = ""  # which of the task's data sources it came from, when it has several (e.g. jpeg, hub)
    subgroups: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # [N] masks beyond the classes
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.y)

    def carve_validation(self, share: float, seed: str) -> Population:
        """The population with ``share`` of its held-out examples moved, by a fixed draw, to the validation split."""
        if share == 0:
            return self
        order = np.random.default_rng(derive("validation", seed)).permutation(len(self.y_test))
        val, test = np.sort(order[: round(share * len(order))]), np.sort(order[round(share * len(order)) :])
        return dataclasses.replace(
            self, x_val=self.x_test[val], y_val=self.y_test[val], x_test=self.x_test[test], y_test=self.y_test[test]
        )


@dataclass
class Task(Component):
    """A dataset, a model family and a pinned training recipe.

    ``epochs``, ``batch_size`` and ``lr`` override the pinned recipe (``None`` keeps
    it); subclasses add their own parameters.
    """

    epochs: int | None = param(None, "override the recipe's epochs", within="[1, inf)")
    batch_size: int | None = param(None, "override the recipe's batch size", within="[1, inf)")
    lr: float | None = param(None, "override the recipe's learning rate", within="(0, inf)")
    auxiliary_fraction: float = param(
        0.1, "share of the population in no model: the attacker's known non-members", within="[0, 1)"
    )

    metadata: ClassVar[TaskMetadata]
    pinned_recipe: ClassVar[Recipe]
    gpu_profile: ClassVar[Profile | None] = None  # the GPU track, when it differs from the pinned (CPU) one
    augmentations: ClassVar[tuple[str, ...]] = ("identity",)  # views queried for the signals cube

    @property
    def model_family(self) -> str:
        return self.metadata.model_family

    def pinned_data(self, track: str) -> DataPin | None:
        """The data this task version is defined on for ``track``; without a GPU profile both tracks load the same."""
        pin = self.metadata.pin(track)
        return pin if pin is not None or self.gpu_profile is not None else self.metadata.pin("cpu")

    def profile(self, name: str = "cpu") -> Profile:
        """The track ``name`` (one of TRACKS): the pinned recipe and default K unless the task has a GPU profile."""
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

    def population(self, data_dir: Path | None, progress: bool = True) -> Population:
        """The population as runs and recipe tuning use it: :meth:`load`'s, with the version's validation split."""
        return self.load(data_dir, progress).carve_validation(self.metadata.validation_share, self.metadata.name)

    @property
    def recipe_grid(self) -> Mapping[str, tuple]:
        """The pinned grid the recipe was tuned over (miabench.tuning): recipe field -> values; empty: never tuned."""
        return {}

    def make_model(self) -> torch.nn.Module:
        """One untrained model of the family (its weights are set by the engine's seed)."""
        raise NotImplementedError

    def augment(self, x: torch.Tensor, view: int) -> torch.Tensor:
        """The ``view``-th augmentation of a batch (0 is the identity)."""
        if view != 0:
            raise IndexError(view)
        return x


def subgroups(labels: np.ndarray, metadata: TaskMetadata | None = None, extra: dict | None = None,
              classes: int | None = None) -> dict:  # fmt: skip
    """The named example masks a record reports apart: one per class (``class:<name>``; ``classes``
    counts them when there is no metadata), ``flagged`` for the class a safety classifier flags,
    and the population's own (``extra``, e.g. ``severe``)."""
    names = metadata.names if metadata is not None else tuple(str(c) for c in range(classes))
    groups = {f"class:{name}": labels == c for c, name in enumerate(names)}
    if metadata is not None and metadata.flagged_class is not None:
        groups["flagged"] = labels == metadata.flagged_class
    return groups | dict(extra or {})


@dataclass
class Defense(Component):
    """Changes how models train (training side) or what anyone observes of them (serving side).

    Training side, from the smallest change to the largest: ``training_recipe``
    (optimizer settings), ``wrap_model``, ``loss``, or ``fit`` for a whole loop of
    its own. Serving side: ``fit_serving`` (once, before anything is served) and
    ``observe``. The attacker knows the defense: reference models train under it too,
    and it serves the attacker and the utility test alike.
    """

    serving_only: ClassVar[bool] = False  # trains the models of 'none', which the cache then shares
    stacks: ClassVar[bool] = True  # False: models train one at a time (e.g. per-sample gradients)
    # What its outputs give an attacker, one of ACCESS_LEVELS: the attack set its settings are judged by
    # (miabench.spec.attack_set) follows from it.
    serves: ClassVar[str] = "scores"
    # The pinned grid of its main knobs (``miabench run --defense NAME --grid``, docs/defenses.md): parameter ->
    # values, each combination one setting; a tuple of parameter names takes tuples of values that go together.
    grid: ClassVar[Mapping[str | tuple[str, ...], tuple]] = MappingProxyType({})

    @classmethod
    def grid_settings(cls) -> list[dict]:
        """Every setting of :attr:`grid`, as parameter assignments, the first key slowest (``[{}]`` without one)."""
        settings = [{}]
        for key, values in cls.grid.items():
            names = key if isinstance(key, tuple) else (key,)
            rows = [value if isinstance(key, tuple) else (value,) for value in values]
            settings = [setting | dict(zip(names, row)) for setting in settings for row in rows]
        return settings

    def training_recipe(self, recipe: Recipe) -> Recipe:
        return recipe

    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as trained and served (e.g. with dropout layers added)."""
        return model

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Each model's training loss on its batch: logits ``[G, B, C]``, labels ``[G, B]`` -> ``[G]``."""
        return cross_entropy(logits, labels).mean(dim=1)

    def fit(self, job) -> dict[str, np.ndarray]:
        """Train ``job`` (a :class:`miabench.engine.TrainingJob`); return facts per model, e.g. ``{"epsilon": [G]}``."""
        job.train(loss=lambda logits, idx: self.loss(logits, job.y[idx]))
        return {}

    def expected_facts(self, recipe: Recipe, members: np.ndarray) -> dict[str, list[float]] | None:
        """The facts ``fit`` reports for each model of a plan (``members [K, N]``), recomputed without
        training, so that a record's facts can be checked; None when they cannot be."""
        return None

    def fit_serving(self, logits: np.ndarray, labels: np.ndarray, members: np.ndarray) -> None:
        """Fit what serving needs from the population's cube ``[K, N, A, C]`` and the whole plan
        ``members [K, N]`` (e.g. MemGuard's classifiers); the runner calls it once, before ``observe``."""

    def observe(
        self, logits: np.ndarray, labels: np.ndarray, members: np.ndarray | None, models: np.ndarray
    ) -> np.ndarray:
        """What is served of logits ``[K', N, A, C]``: the identity unless the defense masks outputs.

        ``models`` ``[K']`` says which of the K models each leading row comes from.
        ``members`` ``[K', N]`` is the defender's knowledge of its own training sets; it
        is None for inputs outside the population (test examples, an attacker's
        queries).
        """
        return logits

    def training_config(self) -> dict:
        """What of the defense determines the trained models (part of the cache key)."""
        if self.serving_only:
            return {"name": "none", "params": {}}
        return {"name": self.name, "params": dataclasses.asdict(self)}


ACCESS_LEVELS = ("label", "scores", "logits")  # from the least an attacker sees to the most


@dataclass(frozen=True)
class ThreatModel:
    """What an attack needs; the harness refuses a setting that cannot meet it."""

    access: str  # one of ACCESS_LEVELS: "label" (one-hot predicted class), "scores" (log-probabilities), "logits"
    min_references: int = 0  # reference models, besides the target
    online: bool = False  # needs references that trained on each candidate (IN models)
    auxiliary: bool = False  # needs the auxiliary population: examples known to be in no model
    queries: int = 0  # the budget of queries to the target beyond the signals cube, through the counted oracle
    # Sees the outputs of the target's pair partner (never its membership, which is the target's complement):
    # the one model the references leave out. Needs a paired plan.
    partner: bool = False
    # Sees the outputs of this one model of the K for every target (e.g. a selector fixed as the paper fixes
    # model A): for that model it is the target itself, for its partner the partner. Must be below K.
    fixed_model: int | None = None


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
    partner: Any = None  # the pair partner's statistic, given only when the threat model asks for it
    fixed: Any = None  # the statistic of the threat model's fixed_model, given only when it names one


@dataclass
class Selection:
    """Scores for a subset: an attack that judges only the candidates it chose (``chosen`` [N] bool)."""

    scores: np.ndarray
    chosen: np.ndarray
    # What to change when the choice holds no member (or no non-member) of a target, which the harness
    # refuses: one clause, e.g. "select by the references (selector=references)".
    hint: str = "widen the selection"


@dataclass
class Attack(Component):
    """Scores every example of the population for one target; higher means 'member'."""

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

    def score_all(self, statistic: Any, labels: np.ndarray, plan: Any) -> np.ndarray | None:
        """Every target's scores at once, ``[K, N]``, or None (the default): score target by target.

        An optional shortcut for an attack whose work per target is sums over its
        references: totals over all K models minus the ones a target leaves out make the
        whole leave-one-out O(KN) instead of O(K^2 N). ``statistic`` is that of the whole
        cube, ``plan`` the :class:`~miabench.plan.MembershipPlan`. Row k must equal
        ``score`` on target k's view up to rounding, so whatever it takes from target k's
        own membership must cancel out. The harness calls it only for attacks that make
        no queries.
        """
        return None
