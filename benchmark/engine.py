"""The training engine: trains a group of models together and queries them.

A group of G models trains by one of three strategies, which give the same models
(each model draws its initialisation, batch order and augmentations from its own
seed) at different speeds:

- ``stacked``: each weight gets a leading model axis and one ``torch.func.vmap``
  runs them all (any architecture);
- ``grouped``: the G models become one wider network whose convolutions are
  grouped by model and whose linear layers are batched (channel-separable networks);
- ``sequential``: one model at a time (families too large or too special to batch).

Which one a family uses on a device is measured (``tests/perf/bench_harness.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from miabench import augment
from miabench import device as devices
from miabench.api import STRATEGIES, Recipe
from miabench.atomic import load_torch, save_torch
from miabench.errors import UserError
from miabench.losses import cross_entropy
from miabench.seeding import derive


class StackedModels(nn.Module):
    """G copies of one architecture with separate weights, run by one vmap."""

    def __init__(self, modules: Sequence[nn.Module]):
        super().__init__()
        params, buffers = torch.func.stack_module_state(list(modules))
        self._names = list(params)
        self.weights = nn.ParameterList([nn.Parameter(params[n].detach().clone()) for n in self._names])
        self._buffer_names = list(buffers)
        for i, name in enumerate(self._buffer_names):  # registered, so checkpoints carry them
            self.register_buffer(f"stacked_buffer_{i}", buffers[name].clone())
        self._skeleton = [copy.deepcopy(modules[0]).to("meta")]  # in a list: not a submodule

    def _call(self, params, buffers, x):
        return torch.func.functional_call(self._skeleton[0], (params, buffers), (x,))

    def _run(self, x, x_dim):
        params = dict(zip(self._names, self.weights))
        buffers = {name: getattr(self, f"stacked_buffer_{i}") for i, name in enumerate(self._buffer_names)}
        return torch.func.vmap(self._call, in_dims=(0, 0, x_dim), randomness="different")(params, buffers, x)

    @property
    def count(self) -> int:
        return len(self.weights[0])

    def train(self, mode: bool = True) -> StackedModels:
        """Also sets the skeleton's mode: it is no submodule, yet dropout and the like run through it."""
        super().train(mode)
        self._skeleton[0].train(mode)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each model on its own batch: ``x [G, B, ...] -> [G, B, C]``."""
        return self._run(x, 0)

    @staticmethod
    def own(value: torch.Tensor, g: int) -> torch.Tensor:
        """Model g's part of one of the group's state tensors (a view)."""
        return value[g]

    def state_dicts(self) -> list[dict[str, torch.Tensor]]:
        """Each model's own state dict, as one plain (unstacked) module would have it."""
        stacked = dict(zip(self._names, self.weights))
        stacked |= {name: getattr(self, f"stacked_buffer_{i}") for i, name in enumerate(self._buffer_names)}
        return [{name: value[g].detach().cpu() for name, value in stacked.items()} for g in range(self.count)]

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """Every model on the same batch: ``x [B, ...] -> [G, B, C]``."""
        return self._run(x, None)


class SingleModel(nn.Module):
    """One model behind the same interface as :class:`StackedModels` (G = 1)."""

    count = 1

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x[0])[None]

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)[None]

    @staticmethod
    def own(value: torch.Tensor, g: int) -> torch.Tensor:
        return value

    def state_dicts(self) -> list[dict[str, torch.Tensor]]:
        return [{name: value.detach().cpu() for name, value in self.module.state_dict().items()}]


class GroupedLinear(nn.Module):
    """G linear layers on inputs laid out ``[..., G * in]``; weights stored ``[G * out, in]``."""

    def __init__(self, count: int, layer: nn.Linear):
        super().__init__()
        self.count = count
        self.weight = nn.Parameter(layer.weight.detach().repeat(count, 1))
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().repeat(count))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out_features, in_features = len(self.weight) // self.count, self.weight.shape[1]
        x = x.unflatten(-1, (self.count, in_features))
        y = torch.einsum("...gi,goi->...go", x, self.weight.view(self.count, out_features, in_features))
        if self.bias is not None:
            y = y + self.bias.view(self.count, out_features)
        return y.flatten(-2)


def widen(module: nn.Module, count: int) -> None:
    """Replace, in place, every layer with weights by its G-model version (model g owns the g-th block of channels)."""
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d):
            wide = nn.Conv2d(
                count * child.in_channels, count * child.out_channels, child.kernel_size, child.stride,
                child.padding, child.dilation, count * child.groups, child.bias is not None, child.padding_mode,
            )  # fmt: skip
        elif isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            wide = type(child)(count * child.num_features, child.eps, child.momentum, child.affine,
                               child.track_running_stats)  # fmt: skip
        elif isinstance(child, nn.Linear):
            wide = GroupedLinear(count, child)
        elif any(True for _ in child.parameters(recurse=False)) or isinstance(child, (nn.LayerNorm, nn.GroupNorm)):
            raise ValueError(f"layer {name} ({type(child).__name__}) mixes channels: use the stacked strategy")
        else:
            widen(child, count)
            continue
        setattr(module, name, wide)


class GroupedModels(nn.Module):
    """G copies of a network as one network G times as wide, for networks whose layers with
    weights are Conv2d, BatchNorm and Linear and whose other operations act per channel
    (activations, pooling, residual sums, a flatten before the linear layers)."""

    def __init__(self, modules: Sequence[nn.Module]):
        super().__init__()
        self.count = len(modules)
        self.network = copy.deepcopy(modules[0])
        widen(self.network, self.count)
        states = [module.state_dict() for module in modules]
        joined = {name: self._join([state[name] for state in states]) for name in states[0]}
        self.network.load_state_dict(joined)
        self.network.to(next(iter(joined.values())).device)  # the new layers were made on the CPU

    @staticmethod
    def _join(values: list[torch.Tensor]) -> torch.Tensor:
        return values[0].clone() if values[0].dim() == 0 else torch.cat(values)  # counters are shared

    def own(self, value: torch.Tensor, g: int) -> torch.Tensor:
        return value if value.dim() == 0 else value.chunk(self.count)[g]

    def _run(self, wide: torch.Tensor) -> torch.Tensor:
        if wide.dim() == 4 and wide.is_cuda:
            wide = wide.contiguous(memory_format=torch.channels_last)
        out = self.network(wide)  # [B, G * C]
        return out.unflatten(1, (self.count, -1)).movedim(1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each model on its own batch: ``x [G, B, ...] -> [G, B, C]``."""
        return self._run(x.movedim(0, 1).flatten(1, 2))

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """Every model on the same batch: ``x [B, ...] -> [G, B, C]``."""
        return self._run(x.repeat(1, self.count, *[1] * (x.dim() - 2)))

    def state_dicts(self) -> list[dict[str, torch.Tensor]]:
        state = self.network.state_dict()
        return [{name: self.own(v, g).detach().cpu().clone() for name, v in state.items()} for g in range(self.count)]


def make_group(modules: Sequence[nn.Module], strategy: str) -> nn.Module:
    """The models ``modules`` as one group trained by ``strategy`` (a single model is always a SingleModel)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown training strategy '{strategy}'; use one of {', '.join(STRATEGIES)}")
    if len(modules) == 1:
        return SingleModel(modules[0])
    if strategy == "sequential":
        raise ValueError("the sequential strategy trains one model a group")
    group = GroupedModels(modules) if strategy == "grouped" else StackedModels(modules)
    if strategy == "grouped" and next(group.parameters()).is_cuda:
        group = group.to(memory_format=torch.channels_last)
    return group


def initialise(make_model: Callable[[], nn.Module], seed: int, model_index: int) -> nn.Module:
    """A fresh model whose weights depend only on (seed, model index)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive(seed, "init", model_index))
        return make_model()


def batch_order(member_lists: Sequence[np.ndarray], steps: int, batch_size: int, seed: int, model_indices, epoch,
                labels: np.ndarray | None = None):  # fmt: skip
    """``[G, steps * batch_size]`` example indices: each model's own members, reshuffled every epoch.

    Models with fewer members than the largest wrap around their shuffled list, so
    all models take the same number of equally sized steps. With ``labels`` (balanced
    batches), each class's members are first repeated, in a fresh shuffle, up to the
    largest class's count, so every class is drawn equally often.
    """
    rows = []
    for members, k in zip(member_lists, model_indices):
        rng = np.random.default_rng(derive(seed, "batches", k, epoch))
        if labels is not None:
            by_class = [members[labels[members] == c] for c in np.unique(labels[members])]
            largest = max(map(len, by_class))
            members = np.concatenate([np.resize(rng.permutation(part), largest) for part in by_class])
        rows.append(np.resize(rng.permutation(members), steps * batch_size))
    return np.stack(rows)


def make_optimizer(parameters, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    raise ValueError(f"unknown optimizer '{recipe.optimizer}' in the recipe; use adam, adamw or sgd")


def lr_factor(schedule: str, progress: float) -> float:
    """The share of the recipe's learning rate at ``progress`` (0 at the first step, 1 after the last)."""
    if schedule == "constant":
        return 1.0
    if schedule == "triangle":  # warm up, then anneal to zero (as fast CIFAR-10 recipes do)
        peak = 0.25
        return 0.2 + 0.8 * progress / peak if progress < peak else (1 - progress) / (1 - peak)
    if schedule == "cosine":  # warm up over 5% of the steps, then a cosine decay (LLM fine-tuning recipes)
        warm = 0.05
        return progress / warm if progress < warm else (1 + math.cos(math.pi * (progress - warm) / (1 - warm))) / 2
    raise ValueError(f"unknown schedule '{schedule}' in the recipe; use constant, triangle or cosine")


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits [G, B, C], batch indices [G, B]) -> [G]


def train(
    models: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    members: np.ndarray,
    model_indices: Sequence[int],
    recipe: Recipe,
    seed: int,
    checkpoint: Path | None = None,
    progress: bool = True,
    loss: Loss | None = None,
    on_epoch: Callable[[int], bool | None] | None = None,
    inputs: Callable[[torch.Tensor], torch.Tensor] | None = None,
    bar: tqdm | None = None,
) -> nn.Module:
    """Train the group ``models`` (model ``model_indices[g]`` on ``members[model_indices[g]]``).

    ``members`` is the whole plan ``[K, N]``: the number of steps per epoch is set by
    its largest member set, so a model trains identically in any grouping. With a
    ``checkpoint`` path the state is saved after every epoch and a rerun resumes.
    ``loss`` gives each model's loss on its batch (default: mean cross-entropy);
    ``on_epoch(epoch)`` runs after each epoch (e.g. to validate); returning True stops
    training there (early stopping), and a checkpoint then records the run as finished.
    ``inputs(idx)`` gives the batch's inputs for indices ``[G, B]`` (default ``x[idx]``; e.g. to add noise).
    ``bar``: a run-wide bar (counting model-epochs) to advance instead of drawing a bar of this group's epochs.
    """
    if loss is None:

        def loss(logits, idx):
            return cross_entropy(logits, y[idx]).mean(1)

    device = x.device
    member_lists = [np.flatnonzero(members[k]) for k in model_indices]
    balance_by = y.cpu().numpy() if recipe.balanced_batches else None
    steps = math.ceil(members.sum(axis=1).max() / recipe.batch_size)
    optimizer = make_optimizer(models.parameters(), recipe)
    augmenting = recipe.flip or recipe.translate > 0
    start = 0
    state = None if checkpoint is None else load_torch(checkpoint, map_location=device, weights_only=True)
    if state is not None:  # None: no checkpoint, or a damaged one (discarded with a warning)
        models.load_state_dict(state["models"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"]
        if progress and start:
            tqdm.write(f"resuming from epoch {start} of {recipe.epochs} (checkpoint {checkpoint})", file=sys.stderr)
    models.train()
    label = f"train models {model_indices[0]}..{model_indices[-1]}"
    if bar is not None:
        bar.update(start * len(model_indices))
    epochs = range(start, recipe.epochs)
    if bar is None:
        epochs = tqdm(epochs, desc=label, initial=start, total=recipe.epochs, disable=not progress)
    for epoch in epochs:
        torch.manual_seed(derive(seed, "epoch", tuple(model_indices), epoch))  # dropout and other in-model noise
        order = batch_order(member_lists, steps, recipe.batch_size, seed, model_indices, epoch, balance_by)
        order = torch.from_numpy(order)
        order = order.to(device)
        if augmenting:
            count = steps * recipe.batch_size
            draws = augment.draw(seed, model_indices, epoch, count, recipe.flip, recipe.translate).to(device)
        for step in range(steps):
            for group in optimizer.param_groups:  # set from the step alone, so a resumed run follows the same curve
                group["lr"] = recipe.lr * lr_factor(recipe.schedule, (epoch * steps + step) / (recipe.epochs * steps))
            window = slice(step * recipe.batch_size, (step + 1) * recipe.batch_size)
            idx = order[:, window]  # [G, B]
            batch = x[idx] if inputs is None else inputs(idx)
            if augmenting:
                batch = augment.apply(batch, draws[:, window], recipe.translate)
            with devices.autocast(device):
                logits = models(batch)  # [G, B, C]
            total = loss(logits.float(), idx).sum()  # sum over models: each gets its own gradient
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
        if not all(torch.isfinite(p).all() for p in models.parameters()):  # before a checkpoint keeps them
            raise diverged("weights", model_indices, recipe.lr)
        stop = on_epoch is not None and bool(on_epoch(epoch))
        if checkpoint is not None:
            done = recipe.epochs if stop else epoch + 1  # a stopped run resumes as finished
            save_torch({"models": models.state_dict(), "optimizer": optimizer.state_dict(), "epoch": done}, checkpoint)
        if bar is not None:
            bar.update(len(model_indices))
        if stop:
            break
    return models


def diverged(what: str, model_indices: Sequence[int], lr: float) -> UserError:
    """The one message for a run whose numbers blew up (non-finite ``what``): too high a learning rate."""
    first, last = model_indices[0], model_indices[-1]
    models = f"model {first}" if first == last else f"models {first}..{last}"
    return UserError(
        f"training diverged (non-finite {what}) in {models} at lr={lr:g}: "
        f"lower the learning rate (lr), e.g. --param lr={lr / 10:g}"
    )


@dataclass
class TrainingJob:
    """One group of models to train, with everything a defense's training loop may use.

    ``job.train(...)`` runs the standard loop; a defense with its own loop may change
    the members it trains on, the loss, or run extra models (``make_model``).
    """

    models: nn.Module  # StackedModels, GroupedModels or SingleModel, initialised
    x: torch.Tensor  # the population's inputs, on the device
    y: torch.Tensor
    members: np.ndarray  # [K, N] the whole plan
    indices: list[int]  # which of the K models this group holds
    recipe: Recipe
    seed: int
    auxiliary: np.ndarray  # [N] bool: examples in no model (public data a defender may also hold)
    make_model: Callable[[], nn.Module]  # an untrained model of the task's family
    strategy: str = "stacked"  # how groups of models train (engine.STRATEGIES): extra models should follow it
    checkpoint: Path | None = None
    progress: bool = True
    bar: tqdm | None = None  # the run's overall progress bar, advanced by the standard loop

    @property
    def device(self) -> torch.device:
        return self.x.device

    def train(self, **changes) -> nn.Module:
        """The standard loop on this job; ``changes`` replace any of train()'s arguments."""
        arguments = {
            "models": self.models, "x": self.x, "y": self.y, "members": self.members,
            "model_indices": self.indices, "recipe": self.recipe, "seed": self.seed,
            "checkpoint": self.checkpoint, "progress": self.progress, "bar": self.bar,
        }  # fmt: skip
        return train(**(arguments | changes))

    def replace(self, **changes) -> TrainingJob:
        return dataclasses.replace(self, **changes)


@torch.no_grad()
def predict(
    models: nn.Module, x: torch.Tensor, augment: Callable, views: int, chunk: int | None = None
) -> torch.Tensor:
    """Logits of every model on every example and view: ``[G, N, A, C]`` float32 on the CPU."""
    chunk = chunk or min(2048, max(64, 32768 // models.count))  # all G models see a chunk: bound G x chunk
    models.eval()
    out = []
    for start in range(0, len(x), chunk):
        batch = x[start : start + chunk]
        per_view = []
        for view in range(views):
            with devices.autocast(x.device):
                per_view.append(models.forward_shared(augment(batch, view)).float())
        out.append(torch.stack(per_view, dim=2).cpu())
    return torch.cat(out, dim=1)


def test_logits(models: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Each model's logits on the test inputs: ``[G, M, C]``."""
    return predict(models, x, lambda batch, view: batch, views=1)[:, :, 0].numpy()
