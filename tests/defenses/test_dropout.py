"""Dropout: layers after every activation, active only in training; on real models it lowers LiRA's AUC."""

import pytest
import torch
from torch import nn

from miabench import engine
from miabench.errors import UserError
from miabench.registry import defenses, tasks


def test_dropout_layers_follow_every_activation_and_act_only_in_training():
    defense = defenses.create("dropout", {"p": "0.3"})
    plain = tasks.create("location").make_model()
    model = defense.wrap_model(tasks.create("location").make_model())
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == sum(isinstance(m, nn.ReLU) for m in model.modules()) == 2
    assert all(d.p == 0.3 for d in drops)
    assert all(
        isinstance(s[0], nn.ReLU) and isinstance(s[1], nn.Dropout) for s in model if isinstance(s, nn.Sequential)
    )

    plain.load_state_dict(model.state_dict())  # same keys: dropout adds no weights
    stacked = engine.StackedModels([model, model])  # two models with the same weights
    x = torch.randn(1, 8, 446).expand(2, 8, 446)
    stacked.train()
    first, second = stacked(x), stacked(x)
    assert not torch.allclose(first, second)  # masks are redrawn every pass...
    assert not torch.allclose(first[0], first[1])  # ...and differ between the stacked models
    stacked.eval()
    torch.testing.assert_close(stacked(x)[0], plain(x[0]))  # served: dropout is the identity


def test_dropout_refuses_a_model_without_activations():
    with pytest.raises(UserError, match="no torch.nn activation"):
        defenses.create("dropout").wrap_model(nn.Sequential(nn.Linear(4, 2)))
