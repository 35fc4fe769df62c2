"""Text model families: the embedding cache, hashed n-grams, and fine-tuning on the CPU."""

import numpy as np
import pytest
import torch

from miabench.tasks import text_models
from miabench.tasks.text_models import FAMILIES, cached_embeddings

TEXTS = ["I feel hopeless today.", "What a lovely morning!", "nobody listens to me", "ok"]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_embeddings_are_computed_once_and_then_read(cache_dir, monkeypatch):
    first = cached_embeddings(TEXTS, max_length=32, progress=False)
    assert first.shape == (4, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    assert len(list((cache_dir / "embeddings").glob("*.npy"))) == 1

    def no_embedding(*args, **kwargs):
        raise AssertionError("cached embeddings must be read, not recomputed")

    monkeypatch.setattr(text_models, "embed", no_embedding)
    assert np.array_equal(cached_embeddings(TEXTS, max_length=32, progress=False), first)


def test_embedding_key_changes_with_texts_settings_and_encoder(cache_dir, monkeypatch):
    cached_embeddings(TEXTS, max_length=32, progress=False)
    cached_embeddings(TEXTS[:3], max_length=32, progress=False)
    cached_embeddings(TEXTS, max_length=16, progress=False)
    monkeypatch.setattr(text_models, "encoder_fingerprint", lambda path: "another encoder")
    cached_embeddings(TEXTS, max_length=32, progress=False)
    assert len(list((cache_dir / "embeddings").glob("*.npy"))) == 4


def test_similar_texts_embed_closer():
    vectors = text_models.embed(
        ["I am so sad and lonely", "I feel very sad and alone", "the stock market closed higher"],
        text_models.encoder_path(), max_length=32, progress=False,
    )  # fmt: skip
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3


def test_ngram_features_are_hashed_and_normalised():
    features = FAMILIES["ngram-mlp"].features(TEXTS, progress=False)
    assert features.shape == (4, 2 * FAMILIES["ngram-mlp"].dims)
    np.testing.assert_allclose(features[:, : FAMILIES["ngram-mlp"].dims].norm(dim=1), 1.0, rtol=1e-5)
    model = FAMILIES["ngram-mlp"].make_model(2)
    assert model(features).shape == (4, 2)


def test_finetune_family_trains_two_tiny_models_on_the_cpu():
    from miabench import engine
    from miabench.api import Recipe
    from miabench.plan import MembershipPlan

    family = FAMILIES["minilm-finetune"]
    ids = family.features(TEXTS * 2, progress=False)
    assert ids.dtype == torch.long and ids.shape == (8, family.max_length)
    labels = torch.tensor([1, 0, 1, 0, 1, 0, 1, 0])
    plan = MembershipPlan.balanced(2, 8, 0)
    recipe = Recipe(epochs=1, batch_size=4, lr=5e-5, optimizer="adamw")
    for k in (0, 1):
        model = engine.SingleModel(engine.initialise(lambda: family.make_model(2), 0, k))
        before = [p.detach().clone() for p in model.parameters()]
        engine.train(model, ids, labels, plan.members, [k], recipe, seed=0, progress=False)
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
        logits = engine.predict(model, ids, lambda x, view: x, views=1)
        assert logits.shape == (1, 8, 1, 2) and torch.isfinite(logits).all()
