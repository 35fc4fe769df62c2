"""Safety classifiers on real text: distress, stress, self-harm risk, emotional support, toxicity, hate.

Each task draws a fixed population and test set from its dataset (after removing
duplicate texts) and trains one of the text model families on it (``family``):
``minilm-head`` and ``ngram-mlp`` on the CPU track, ``minilm-finetune`` on the
GPU track. A task × family pair is a track.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from miabench.api import Population, Recipe, Task, TaskMetadata, class_subgroups
from miabench.data import fingerprint
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks.text_data import LOADERS, METADATA
from miabench.tasks.text_models import FAMILIES

SPLIT_SEED = 0  # fixed for the task, not the run seed, so every run sees the same population


@dataclass
class TextTask(Task):
    family: str = "minilm-head"
    population_size: int = 8000  # at most; smaller datasets use all but the test set
    test_size: int = 1000

    dataset: ClassVar[str]

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise UserError(
                f"task '{self.metadata.name}' has no model family '{self.family}': choose {', '.join(FAMILIES)}"
            )

    @property
    def model_family(self) -> str:
        return self.family

    @property
    def pinned_recipe(self) -> Recipe:
        return FAMILIES[self.family].recipe

    def training_strategy(self, device: torch.device) -> str:
        return FAMILIES[self.family].training_strategy

    def make_model(self) -> torch.nn.Module:
        return FAMILIES[self.family].make_model(self.metadata.num_classes)

    def load(self, data_dir: Path | None, progress: bool = True) -> Population:
        data = LOADERS[self.dataset](data_dir)
        if not 0 < self.test_size < len(data.texts) - 1:
            raise UserError(f"task '{self.metadata.name}': test_size={self.test_size} leaves no population")
        order = np.random.default_rng(SPLIT_SEED).permutation(len(data.texts))
        test = order[: self.test_size]
        chosen = order[self.test_size : self.test_size + self.population_size]
        texts = [data.texts[i] for i in np.concatenate([chosen, test])]
        features = FAMILIES[self.family].features(texts, progress)
        labels = torch.from_numpy(data.labels.astype(np.int64))
        n = len(chosen)
        self._severe = None if data.severe is None else data.severe[chosen]
        return Population(
            x=features[:n],
            y=labels[chosen],
            x_test=features[n:],
            y_test=labels[test],
            ids=data.ids[chosen],
            fingerprint=fingerprint(
                np.frombuffer("\0".join(texts).encode(), np.uint8), data.labels[chosen], data.labels[test]
            ),
        )

    def subgroups(self, labels: np.ndarray) -> dict[str, np.ndarray]:
        meta = self.metadata
        groups = class_subgroups(labels, meta.num_classes, meta.class_names, meta.flagged_class)
        if getattr(self, "_severe", None) is not None:
            groups["severe"] = self._severe  # support: initial emotion intensity >= 4
        return groups


def text_task(name: str, description: str, classes: tuple[str, ...], flagged: int | None, **extra):
    """Register a text task over the dataset loader of the same name."""

    def build(cls):
        source = METADATA[name]
        cls.dataset = name
        cls.metadata = TaskMetadata(
            name=name,
            version="1.0",
            description=description,
            citation=source["citation"],
            license=source["license"],
            source=source["source"],
            model_family="minilm-head",
            num_classes=len(classes),
            default_models=16,
            class_names=classes,
            flagged_class=flagged,
        )
        for key, value in extra.items():
            setattr(cls, key, value)
        return tasks.register(name)(dataclass(cls))

    return build


@text_task("distress", "GoEmotions comments: any of disappointment, fear, grief, nervousness, remorse, sadness",
           ("no-distress", "distress"), flagged=1)  # fmt: skip
class DistressTask(TextTask):
    pass


@text_task("stress", "Dreaddit Reddit posts (one example per post): stress", ("no-stress", "stress"), flagged=1)
class StressTask(TextTask):
    test_size: int = 600  # of about 3k posts


@text_task("selfharm", "SDCNL Reddit posts: r/SuicideWatch versus r/depression", ("depression", "suicide-watch"),
           flagged=1)  # fmt: skip
class SelfHarmTask(TextTask):
    test_size: int = 400  # of 1.9k posts


@text_task("support", "ESConv support seekers (one example per conversation): emotion type; subgroup severe",
           ("anger", "anxiety", "depression", "fear", "sadness", "other"), flagged=None)  # fmt: skip
class SupportTask(TextTask):
    test_size: int = 260  # of 1.3k conversations


@text_task("toxicity", "OLID tweets (TweetEval): offensive", ("not-offensive", "offensive"), flagged=1)
class ToxicityTask(TextTask):
    pass


@text_task("hate", "HatEval tweets (TweetEval): hateful", ("not-hateful", "hateful"), flagged=1)
class HateTask(TextTask):
    pass


@text_task("toxicity-davidson", "Davidson et al. tweets: hate, offensive or neither", ("hate", "offensive", "neither"),
           flagged=0)  # fmt: skip
class DavidsonTask(TextTask):
    pass
