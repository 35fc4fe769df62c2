"""Training-time image augmentation on tensors: random mirror and translation, drawn per model.

Each model draws its flips and shifts from its own seed, as it draws its batch
order, so a model sees the same augmented batches whether it trains alone or in a
group. The draws for a whole epoch are made at once on the CPU; applying them is a
few tensor operations on the device (no torchvision, no per-image Python loop).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from miabench.seeding import derive


def draw(seed: int, model_indices: Sequence[int], epoch: int, count: int, flip: bool, translate: int) -> torch.Tensor:
    """``[G, count, 3]`` int64: for each of a model's ``count`` batch positions, flip (0/1), then the
    row and column offsets of the crop taken from the padded image (0, 0: unshifted)."""
    rows = []
    for k in model_indices:
        rng = np.random.default_rng(derive(seed, "augment", k, epoch))
        flips = rng.integers(0, 2, (count, 1)) * flip
        shifts = rng.integers(-translate, translate + 1, (count, 2))
        rows.append(np.concatenate([flips, shifts], axis=1))
    return torch.from_numpy(np.stack(rows))


def apply(x: torch.Tensor, draws: torch.Tensor, translate: int) -> torch.Tensor:
    """Images ``[..., C, H, W]`` mirrored and translated by ``draws`` ``[..., 3]``; borders are reflected."""
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    images, draws = x.reshape(-1, c, h, w), draws.reshape(-1, 3).to(x.device)
    images = torch.where(draws[:, 0, None, None, None].bool(), images.flip(-1), images)
    if translate:
        padded = F.pad(images, (translate,) * 4, mode="reflect")
        rows = (draws[:, 1, None] + translate + torch.arange(h, device=x.device))[:, None, :, None]  # [M, 1, H, 1]
        cols = (draws[:, 2, None] + translate + torch.arange(w, device=x.device))[:, None, None, :]  # [M, 1, 1, W]
        which = torch.arange(len(images), device=x.device)[:, None, None, None]
        channel = torch.arange(c, device=x.device)[None, :, None, None]
        images = padded[which, channel, rows, cols]
    return images.reshape(*lead, c, h, w)
