"""Counted queries to a target model, for attacks that ask it more than the signals cube holds.

An attacker with label-only access may query the target on inputs of its choosing
(perturbed candidates, say). Every queried input counts against the budget the
attack declared in its threat model; the record reports the total.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from miabench import device as devices


class QueryBudgetExceeded(RuntimeError):
    pass


class Oracle:
    def __init__(self, model: nn.Module, budget: int, device: torch.device, serve=None):
        self.model = model.to(device).eval()
        self.budget = budget
        self.device = device
        self.serve = serve or (lambda logits: logits)  # the defense's output transform, logits [B, C] -> [B, C]
        self.used = 0

    @property
    def remaining(self) -> int:
        return self.budget - self.used

    @torch.no_grad()
    def labels(self, x: torch.Tensor) -> np.ndarray:
        """The target's predicted class for each input of the batch ``x``."""
        if len(x) > self.remaining:
            raise QueryBudgetExceeded(f"{len(x)} queries asked with {self.remaining} left of {self.budget}")
        self.used += len(x)
        with devices.autocast(self.device):
            logits = self.model(x.to(self.device)).float().cpu().numpy()
        return self.serve(logits).argmax(-1)
