"""DP-SGD (Abadi et al., CCS 2016) through Opacus: each model is (epsilon, delta)-differentially private.

Each step draws a Poisson sample of the model's members (each member independently, at
rate about batch_size / n), clips every per-example gradient to ``max_grad_norm`` and adds
Gaussian noise before the optimizer step. The noise multiplier is what Opacus's (PRV)
accountant needs for the requested epsilon over the recipe's epochs; after training the
accountant's own epsilon is reported (``defense.facts``), so a reader sees the privacy
actually spent. Differential privacy bounds any membership attack: at epsilon = 1 no
attack's TPR can exceed e * FPR + delta.

Models train one at a time: Opacus clips each example's gradient of one plain module
(ghost clipping: exact per-example norms, without storing per-example gradients, about
ten times faster than Opacus's default hooks on an MLP). The batch sampling and the
noise come from generators seeded by the run seed and the model index, so a rerun trains
the same models (the secure RNG Opacus offers for deployment is deliberately not used: a
benchmark must be reproducible). The optimizer is the task's recipe's; DP-SGD often wants
other settings than non-private training (on location at epsilon = 8, Adam at 3e-3 reaches
about 39% test accuracy, at the recipe's 1e-3 about 21%), so it takes its own recipe:
``private_lr``, ``private_batch_size`` (the sampling rate is batch_size / n) and
``private_epochs`` replace the task's (none keeps it), with ``max_grad_norm``. They are the
defense's parameters, not the task's, so ``none`` in the same sweep keeps the task's
recipe; the record's recipe shows what DP-SGD trained with, and the accountant's epsilon
is computed for it.
"""

import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from miabench import engine
from miabench.api import Defense
from miabench.errors import UserError
from miabench.params import param
from miabench.registry import defenses
from miabench.seeding import derive

# Opacus's notes that do not apply here: the secure RNG is off on purpose (reproducibility), and
# the accountant's search over orders and torch's hook notice are no fault of the run.
QUIET = ("Secure RNG turned off", "Optimal order is the", "Full backward hook is firing")


@functools.lru_cache(maxsize=64)
def accounting(epsilon: float, delta: float, batches: int, epochs: int) -> tuple[float, float]:
    """(epsilon spent, noise multiplier) of a model trained as ``fit`` trains it: the noise Opacus
    sets for the target ``epsilon`` at sampling rate 1 / batches, then the PRV accountant's epsilon
    after ``epochs * batches`` steps. What ``expected_facts`` recomputes, without training."""
    from opacus.accountants import PRVAccountant
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        for message in QUIET:
            warnings.filterwarnings("ignore", message=message)
        noise = get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=1 / batches,
                                     epochs=epochs, accountant="prv")  # fmt: skip
        accountant = PRVAccountant()
        accountant.history = [(noise, 1 / batches, epochs * batches)]
        return accountant.get_epsilon(delta), noise


@defenses.register("dpsgd")
@dataclass
class DPSGD(Defense):
    epsilon: float = param(8.0, "each model's privacy budget: the epsilon its noise is set for", within="(0, inf)")
    delta: float | None = param(None, "the privacy parameter delta (none: 1 / (10 n) for n members)", within="(0, 1)")
    max_grad_norm: float = param(1.0, "the clipping norm of each per-example gradient", within="(0, inf)")
    # DP-SGD's own recipe (none: the task's), chosen on validation, never by attack results (docs/defenses.md).
    private_lr: float | None = param(None, "DP-SGD's learning rate (none: the task's)", within="(0, inf)")
    private_batch_size: int | None = param(None, "DP-SGD's expected batch size (none: the task's)", within="[1, inf)")
    private_epochs: int | None = param(None, "DP-SGD's epochs (none: the task's)", within="[1, inf)")

    stacks = False  # Opacus computes per-example gradients of one plain module
    description = "differentially private SGD through Opacus: clipped per-example gradients plus Gaussian noise"
    citation = ("abadi2016deep", "yousefpour2021opacus")
    # Abadi et al. report MNIST at epsilon 0.5, 2 and 8 (delta 1e-5); the grid doubles from 0.5 to 16. The clipping
    # norm is part of DP-SGD's own recipe (private_*, max_grad_norm), chosen on validation at epsilon 8.
    grid = MappingProxyType({"epsilon": (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)})

    # Added after records were first hashed: the training config states each only when set, so every earlier
    # cache key and config hash stays valid.
    STATED_WHEN_SET = ("private_lr", "private_batch_size", "private_epochs")

    def training_config(self) -> dict:
        config = super().training_config()
        params = config["params"]
        return config | {"params": {k: v for k, v in params.items() if k not in self.STATED_WHEN_SET or v is not None}}

    def training_recipe(self, recipe):
        """The task's recipe with DP-SGD's own learning rate, batch size and epochs where it sets them."""
        own = {"lr": self.private_lr, "batch_size": self.private_batch_size, "epochs": self.private_epochs}
        return dataclasses.replace(recipe, **{key: value for key, value in own.items() if value is not None})

    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        from opacus.validators import ModuleValidator  # heavy: imported only by a run that uses DP-SGD

        # Layers DP-SGD cannot train (BatchNorm mixes examples) become their DP equivalents,
        # in every model built for this defense, so the served model is the trained one.
        return model if ModuleValidator.is_valid(model) else ModuleValidator.fix(model)

    def delta_for(self, n: int) -> float:
        delta = 1 / (10 * n) if self.delta is None else self.delta
        if delta >= 1 / n:
            raise UserError(
                f"defense 'dpsgd': delta = {self.delta} must be below 1/n = {1 / n:.3g} (n = {n} members per model); "
                "leave it out for 1/(10 n)"
            )
        return delta

    def expected_facts(self, recipe, members: np.ndarray) -> dict[str, list[float]]:
        facts = {"epsilon": [], "delta": [], "noise_multiplier": []}
        for n in members.sum(axis=1).tolist():
            delta = self.delta_for(n)
            epsilon, noise = accounting(self.epsilon, delta, math.ceil(n / recipe.batch_size), recipe.epochs)
            for name, value in (("epsilon", epsilon), ("delta", delta), ("noise_multiplier", noise)):
                facts[name].append(float(value))
        return facts

    def fit(self, job) -> dict[str, np.ndarray]:
        with warnings.catch_warnings():
            for message in QUIET:
                warnings.filterwarnings("ignore", message=message)
            return self._fit(job)

    def _fit(self, job) -> dict[str, np.ndarray]:
        from opacus import PrivacyEngine

        (k,) = job.indices
        members = np.flatnonzero(job.members[k])
        delta = self.delta_for(len(members))
        model, recipe, device = job.models.module, job.recipe, job.device
        torch.manual_seed(derive(job.seed, "dpsgd", k))  # in-model randomness such as dropout
        # The loader yields member indices; Opacus replaces its sampler by Poisson sampling drawn from `batches`.
        batches = torch.Generator().manual_seed(derive(job.seed, "dpsgd-batches", k))
        loader = DataLoader(TensorDataset(torch.from_numpy(members)), batch_size=recipe.batch_size, generator=batches)
        noise = torch.Generator(device=device).manual_seed(derive(job.seed, "dpsgd-noise", k))
        privacy = PrivacyEngine(accountant="prv", secure_mode=False)
        private_model, optimizer, criterion, loader = privacy.make_private_with_epsilon(
            module=model,
            criterion=torch.nn.CrossEntropyLoss(),
            optimizer=engine.make_optimizer(model.parameters(), recipe),
            data_loader=loader,
            target_epsilon=self.epsilon,
            target_delta=delta,
            epochs=recipe.epochs,
            max_grad_norm=self.max_grad_norm,
            noise_generator=noise,
            grad_sample_mode="ghost",  # exact per-example norms without storing per-example gradients
        )
        private_model.train()
        for _ in tqdm(range(recipe.epochs), desc=f"train model {k} (dp-sgd)", disable=not job.progress):
            for (idx,) in loader:
                idx = idx.to(device)
                loss = criterion(private_model(job.x[idx]), job.y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        private_model.cleanup()  # the hooks go; `model` (job.models.module) holds the trained weights
        return {
            "epsilon": np.array([privacy.get_epsilon(delta)]),
            "delta": np.array([delta]),
            "noise_multiplier": np.array([optimizer.noise_multiplier]),
        }
