"""The encoder of index builds: the fastest encode path that gives the served model's vectors.

Measured (``scripts/encode_paths.py``, 2 cores with AVX512-BF16/AMX): the fp32 model computed in bfloat16 on
torch encodes ~3x faster than ONNX fp32 with vectors within cosine 0.9999 of it, so the index is the same fp32
index and the query side keeps ONNX (int8 is 1.9x, at cosine 0.95). Two one-thread encoder processes gained <= 5%
over one two-thread process, so a build encodes in one. :func:`build_settings` picks the path.

>>> from index.settings import EmbeddingSettings
>>> build_settings(EmbeddingSettings(backend="onnx-int8", build_backend="auto")).backend
'onnx-int8'
>>> build_settings(EmbeddingSettings(build_backend="torch-bf16")).backend
'torch-bf16'
"""

from __future__ import annotations

import logging
from pathlib import Path

from index.embedding import Embedder, get_embedder
from index.settings import EmbeddingSettings

log = logging.getLogger(__name__)
#: Builds with fewer sentences than this encode with the served encoder in-process: starting torch and
#: loading the model (seconds) would cost more than it saves (an upload of one guideline is ~2,000 sentences).
MIN_BULK_TEXTS = 5000


def native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16; elsewhere torch emulates it, slowly)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def build_settings(settings: EmbeddingSettings, *, bf16: bool | None = None) -> EmbeddingSettings:
    """The encoder settings of an index build for the served ``settings`` (``bf16``: native bfloat16, default
    read from the CPU). 'auto' swaps only between paths that give the same index: fp32 -> torch-bf16."""
    choice = settings.build_backend
    if choice == "auto":
        fp32 = settings.backend in ("onnx", "torch") and settings.device == "cpu"
        choice = "torch-bf16" if fp32 and (native_bf16() if bf16 is None else bf16) else "same"
    return settings if choice == "same" else settings.model_copy(update={"backend": choice})


def bulk_embedder(settings: EmbeddingSettings, texts: int) -> Embedder:
    """The embedder of a build's dense stage that has up to ``texts`` sentences to encode (:func:`build_settings`,
    the served encoder under :data:`MIN_BULK_TEXTS`)."""
    chosen = settings if texts < MIN_BULK_TEXTS else build_settings(settings)
    if chosen.backend != settings.backend:
        log.info("build encoder: %s for %d sentences (queries: %s)", chosen.backend, texts, settings.backend)
    return get_embedder(chosen)
