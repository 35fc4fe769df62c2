"""Training-time augmentation on tensors: deterministic under a seed, per model, and exact."""

import torch

from miabench import augment


def test_draws_depend_only_on_seed_model_and_epoch():
    first = augment.draw(seed=0, model_indices=[0, 1, 2], epoch=3, count=50, flip=True, translate=2)
    again = augment.draw(seed=0, model_indices=[0, 1, 2], epoch=3, count=50, flip=True, translate=2)
    alone = augment.draw(seed=0, model_indices=[1], epoch=3, count=50, flip=True, translate=2)
    assert torch.equal(first, again)
    assert torch.equal(first[1], alone[0])  # a model draws the same alone as in a group
    assert not torch.equal(first, augment.draw(seed=1, model_indices=[0, 1, 2], epoch=3, count=50, flip=True,
                                               translate=2))  # fmt: skip
    assert not torch.equal(first, augment.draw(seed=0, model_indices=[0, 1, 2], epoch=4, count=50, flip=True,
                                               translate=2))  # fmt: skip
    assert set(first[..., 0].unique().tolist()) == {0, 1}
    assert first[..., 1:].abs().max() == 2


def test_no_flip_and_no_translation_draw_nothing():
    draws = augment.draw(seed=0, model_indices=[0], epoch=0, count=100, flip=False, translate=0)
    assert not draws.any()
    images = torch.randn(1, 100, 3, 6, 6)
    assert torch.equal(augment.apply(images, draws, translate=0), images)


def test_flip_mirrors_and_translation_shifts_with_reflected_border():
    image = torch.arange(36.0).view(1, 6, 6).repeat(3, 1, 1)  # [C, H, W]
    x = image.expand(1, 3, 3, 6, 6)  # [G=1, B=3, C, H, W]
    draws = torch.tensor([[[1, 0, 0], [0, 1, 0], [0, 0, -2]]])  # mirror; crop one row lower; two columns left
    out = augment.apply(x, draws, translate=2)
    assert torch.equal(out[0, 0], image.flip(-1))
    # Row offset 1: row r of the output is row r + 1 of the input (the last row reflects).
    assert torch.equal(out[0, 1, :, :5], image[:, 1:])
    assert torch.equal(out[0, 1, :, 5], image[:, 4])
    # Column offset -2: column c of the output is column c - 2; the first two reflect columns 2 and 1.
    assert torch.equal(out[0, 2, :, :, 2:], image[:, :, :4])
    assert torch.equal(out[0, 2, :, :, 0], image[:, :, 2])
