"""The minilm-top family (top encoder layer over cached lower-layer states) and the LoRA family."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from miabench import engine
from miabench.api import Recipe
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.tasks import text_models
from miabench.tasks.text_models import FAMILIES

TEXTS = ["I feel hopeless today.", "What a lovely morning!", "nobody listens to me", "ok"]
LABELS = [1, 0, 1, 0]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path))
    return tmp_path


def population(count: int) -> tuple[list[str], torch.Tensor]:
    """``count`` distinct short texts with alternating labels (a tiny population)."""
    texts = [f"{TEXTS[i % 4]} ({i})" for i in range(count)]
    return texts, torch.tensor([LABELS[i % 4] for i in range(count)])


def train_model(family, x, y, members, k, recipe, seed=0):
    model = engine.SingleModel(engine.initialise(lambda: family.make_model(2), seed, k))
    engine.train(model, x, y, members, [k], recipe, seed=seed, progress=False)
    return model


# --- minilm-top -------------------------------------------------------------------------------


def test_lower_states_are_cached_once_as_float16(cache_dir, monkeypatch):
    states, lengths = text_models.cached_lower_states(TEXTS, max_length=32, layers=5, progress=False)
    assert states.dtype == np.float16 and states.shape == (lengths.sum(), 384)
    assert lengths.tolist() == [len(ids) for ids in text_models.tokenizer_of(None)(TEXTS)["input_ids"]]
    assert len(list((cache_dir / "states").glob("*.npz"))) == 1

    def no_encoding(*args, **kwargs):
        raise AssertionError("cached states must be read, not recomputed")

    monkeypatch.setattr(text_models, "lower_states", no_encoding)
    again, again_lengths = text_models.cached_lower_states(TEXTS, max_length=32, layers=5, progress=False)
    assert np.array_equal(again, states) and np.array_equal(again_lengths, lengths)


def test_padded_states_carry_the_mask_in_the_last_channel():
    states = np.arange(5 * 384, dtype=np.float16).reshape(5, 384) % 7 + 1
    x = text_models.padded_states(states, np.array([2, 3], dtype=np.int32))
    assert x.shape == (2, 3, 385) and x.dtype == torch.float16
    assert x[..., 384].tolist() == [[1, 1, 0], [1, 1, 1]]
    assert torch.equal(x[0, :2, :384], torch.from_numpy(states[:2])) and not x[0, 2].any()
    assert torch.equal(x[1, :, :384], torch.from_numpy(states[2:]))


def test_top_layer_over_cached_states_gives_the_encoders_embeddings(cache_dir):
    """Untrained, the pretrained top layer on the layer-5 states is all-MiniLM-L6-v2 itself (up to float16)."""
    family = FAMILIES["minilm-top"]
    x = family.features(TEXTS, progress=False)
    model = family.make_model(2).eval()
    with torch.no_grad():
        pooled = torch.nn.functional.normalize(model.pool(x), dim=-1).numpy()
    full = text_models.embed(TEXTS, text_models.encoder_path(), max_length=family.max_length, progress=False)
    assert (pooled * full).sum(1).min() > 0.9999  # cosine similarity
    assert model(x).shape == (4, 2)


def test_top_family_trains_only_its_layer_and_head_and_is_deterministic(cache_dir):
    family = FAMILIES["minilm-top"]
    texts, y = population(16)
    x = family.features(texts, progress=False)
    members = MembershipPlan.balanced(2, 16, 0).members
    recipe = Recipe(epochs=1, batch_size=4, lr=1e-4, optimizer="adamw")
    state = {name: value.clone() for name, value in family.make_model(2).state_dict().items()}
    assert set(state) == {n for n in state if n.startswith(("layers.0.", "head."))}  # nothing frozen is stored
    first = [train_model(family, x, y, members, k, recipe) for k in (0, 1)]
    again = train_model(family, x, y, members, 1, recipe)
    logits = [engine.predict(model, x, lambda batch, view: batch, views=1) for model in (*first, again)]
    assert torch.equal(logits[1], logits[2])  # the same (seed, model): the same model, bit for bit
    assert not torch.equal(logits[0], logits[1])  # another model: another head and other batches
    trained = first[0].state_dicts()[0]
    assert all(not torch.equal(trained[name], state[name]) for name in ("layers.0.output.dense.weight", "head.weight"))


# --- lora -------------------------------------------------------------------------------------

needs_peft = pytest.mark.skipif(not importlib.util.find_spec("peft"), reason="pip install 'miabench[lora]'")


def test_lora_family_pads_with_minus_one_and_keeps_every_token():
    family = FAMILIES["lora"]
    ids = family.features(TEXTS, progress=False)
    lengths = [len(tokens) for tokens in text_models.tokenizer_of(None)(TEXTS)["input_ids"]]
    assert ids.dtype == torch.long and ids.shape == (4, max(lengths))
    assert (ids != text_models.PAD).sum(1).tolist() == lengths


@needs_peft
def test_lora_model_holds_only_adapters_and_head_with_the_papers_settings():
    from peft import PeftModel

    model = FAMILIES["lora"].make_model(2)
    assert isinstance(model.model, PeftModel)
    config = model.model.peft_config["default"]
    assert (config.r, config.lora_alpha, config.lora_dropout) == (64, 128, 0.05)
    assert set(config.target_modules) == {"query", "value"}  # BERT's names of the q/v projections
    names = [name for name, _ in model.named_parameters()]
    assert names and all("lora_" in name or "modules_to_save" in name for name in names)
    assert any("classifier" in name for name in names)
    assert set(model.state_dict()) == set(names)  # the frozen base is in no state dict, checkpoint or cache
    assert sum(p.numel() for p in model.parameters()) < 0.1 * sum(b.numel() for b in model.buffers())
    recipe = FAMILIES["lora"].recipe
    assert (recipe.epochs, recipe.batch_size, recipe.lr, recipe.optimizer) == (3, 32, 2e-4, "adamw")


@needs_peft
def test_lora_family_trains_only_adapters_and_head_deterministically():
    family = FAMILIES["lora"]
    texts, y = population(24)
    x = family.features(texts, progress=False)
    members = MembershipPlan.balanced(2, 24, 0).members
    recipe = Recipe(epochs=1, batch_size=4, lr=2e-4, optimizer="adamw")
    fresh = engine.initialise(lambda: family.make_model(2), 0, 0)
    before_weights = {name: value.clone() for name, value in fresh.state_dict().items()}
    before_base = {name: value.clone() for name, value in fresh.named_buffers()}
    model = engine.SingleModel(fresh)
    engine.train(model, x, y, members, [0], recipe, seed=0, progress=False)
    changed = {name for name, value in fresh.state_dict().items() if not torch.equal(value, before_weights[name])}
    assert any("lora_B" in name for name in changed) and any("classifier" in name for name in changed)
    assert all(torch.equal(value, before_base[name]) for name, value in fresh.named_buffers())  # base untouched
    again = train_model(family, x, y, members, 0, recipe)
    other = train_model(family, x, y, members, 1, recipe)
    logits = [engine.predict(m, x, lambda batch, view: batch, views=1) for m in (model, again, other)]
    assert logits[0].shape == (1, 24, 1, 2) and torch.isfinite(logits[0]).all()
    assert torch.equal(logits[0], logits[1]) and not torch.equal(logits[0], logits[2])


@needs_peft
def test_lora_padding_does_not_change_a_texts_logits():
    """Dynamic padding: a text's logits do not depend on the longer texts it is batched with."""
    family = FAMILIES["lora"]
    model = engine.initialise(lambda: family.make_model(2), 0, 0).eval()
    ids = family.features(TEXTS, progress=False)
    with torch.no_grad():
        together = model(ids)
        alone = torch.cat([model(ids[i : i + 1]) for i in range(len(TEXTS))])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_lora_bases_come_from_the_environment_under_their_own_names(tmp_path):
    (variant,) = text_models.lora_variants(f"llama-3.2-1b={tmp_path}")
    assert variant.name == "lora-llama-3.2-1b" and variant.base == str(tmp_path) and variant.recipe.lr == 2e-4
    assert text_models.lora_variants("") == [] and text_models.lora_variants(None) == []
    for setting in ("Llama=/x", "llama", "a=/x,a=/y"):
        with pytest.raises(UserError, match="MIABENCH_LORA_BASES"):
            text_models.lora_variants(setting)
    with pytest.raises(UserError, match="no folder"):
        text_models.base_location(str(tmp_path / "missing"))


def test_listing_families_imports_neither_peft_nor_transformers():
    code = "import sys; import miabench.tasks.text; print('peft' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True)
    assert out.stdout.split() == ["False", "False"]
