"""Safety classifiers on real text: distress, stress, self-harm risk, emotional support, toxicity, hate.

One task per dataset record of :mod:`miabench.tasks.text_data`. Each draws a fixed
population and test set from its dataset's deduplicated pool and trains one of the
text model families on it (``family``): ``minilm-head`` and ``ngram-mlp`` on the CPU
track, ``minilm-finetune`` on the GPU track. A task × family pair is a track.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from miabench.api import VALIDATION_SHARE, Population, Recipe, Task, TaskMetadata
from miabench.data import fingerprint, split
from miabench.params import param
from miabench.registry import tasks
from miabench.tasks.text_data import DATASETS, TextDataset
from miabench.tasks.text_models import FAMILIES

TEST_SIZE_HELP = "examples held out for utility"


@dataclass
class TextTask(Task):
    family: str = param("minilm-head", "the text model family (the track with the task)", choices=tuple(FAMILIES))
    population_size: int = param(8000, "examples drawn after the test set; smaller datasets give all that is left",
                                 within="[1, inf)")  # fmt: skip
    test_size: int = param(1000, TEST_SIZE_HELP, within="[1, inf)")

    dataset: ClassVar[TextDataset]

    @property
    def model_family(self) -> str:
        return self.family

    @property
    def pinned_recipe(self) -> Recipe:
        return self.dataset.recipes.get(self.family, FAMILIES[self.family].recipe)

    @property
    def recipe_grid(self) -> dict:
        return FAMILIES[self.family].grid

    def training_strategy(self, device: torch.device) -> str:
        return FAMILIES[self.family].training_strategy

    def make_model(self) -> torch.nn.Module:
        return FAMILIES[self.family].make_model(self.metadata.num_classes)

    def load(self, data_dir: Path | None, progress: bool = True) -> Population:
        data = self.dataset.load(data_dir)
        at_most = min(self.population_size, len(data) - self.test_size)
        chosen, test = split(np.arange(len(data)), self.test_size, at_most, task=self.metadata.name)
        texts = [data.texts[i] for i in np.concatenate([chosen, test])]
        features = FAMILIES[self.family].features(texts, progress)
        labels = torch.from_numpy(data.labels.astype(np.int64))
        n = len(chosen)
        return Population(
            x=features[:n],
            y=labels[chosen],
            x_test=features[n:],
            y_test=labels[test],
            ids=data.ids[chosen],
            subgroups={} if data.severe is None else {"severe": data.severe[chosen]},  # support: intensity >= 4
            fingerprint=fingerprint(
                np.frombuffer("\0".join(texts).encode(), np.uint8), data.labels[chosen], data.labels[test]
            ),
        )


def text_task(dataset: TextDataset) -> type[TextTask]:
    """The task of one text dataset, registered under its name, with the dataset's default test_size."""
    metadata = TaskMetadata(
        name=dataset.name,
        version=dataset.version,
        description=dataset.description,
        citation=dataset.citation,
        license=dataset.license,
        source=dataset.source,
        model_family="minilm-head",
        num_classes=len(dataset.class_names),
        default_models=16,
        class_names=dataset.class_names,
        flagged_class=dataset.flagged_class,
        revision=None if dataset.hub is None else dataset.hub.revision,
        highlighted=dataset.highlighted,
        pinned_data=dataset.pinned_data,
        validation_share=VALIDATION_SHARE if dataset.recipes else 0.0,
        reported_utility=dataset.reported_utility,
    )
    class_name = "".join(word.capitalize() for word in dataset.name.split("-")) + "Task"
    cls = dataclasses.make_dataclass(
        class_name,
        [("test_size", int, param(dataset.test_size, TEST_SIZE_HELP, within="[1, inf)"))],
        bases=(TextTask,),
        namespace={"dataset": dataset, "metadata": metadata, "__module__": __name__},
    )
    return tasks.register(dataset.name)(cls)


TASKS = {name: text_task(dataset) for name, dataset in DATASETS.items()}
