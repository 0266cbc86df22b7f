"""Optional rerank stage: a local cross-encoder behind the ``Reranker`` protocol (off unless configured)."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from app.query.settings import RetrievalSettings
if TYPE_CHECKING:
    from app.query.retrieval import Hit, Reranker


class RerankerNotFoundError(FileNotFoundError):
    """``MEDCITE_RETRIEVAL__RERANKER_PATH`` does not point at a local cross-encoder directory."""


class CrossEncoderReranker:
    """Rescores (query, passage) pairs with a local ``sentence_transformers.CrossEncoder``, loaded on first use.

    ``loader`` (path -> object with ``predict(pairs, batch_size=..., show_progress_bar=...)``) lets tests and
    other backends plug in; the default never downloads (``HF_HUB_OFFLINE=1``, ``local_files_only=True``).
    """

    name = "cross-encoder"

    def __init__(self, path: Path, *, batch_size: int = 32, device: str = "cpu",
                 loader: Callable[[Path], Any] | None = None) -> None:
        path = Path(path).expanduser()
        if not path.is_dir():
            raise RerankerNotFoundError(
                f"reranker model directory {path} does not exist; set MEDCITE_RETRIEVAL__RERANKER_PATH to a local "
                "cross-encoder directory, or unset it to disable reranking"
            )
        self.path, self.batch_size = path, batch_size
        self._loader = loader or (lambda p: _load_cross_encoder(p, device))
        self._model: Any = None
        self._lock = threading.Lock()

    def _get_model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._loader(self.path)
        return self._model

    def rerank(self, query: str, hits: list[Hit], texts: list[str]) -> list[Hit]:
        if len(hits) != len(texts):
            raise ValueError(f"rerank got {len(hits)} hits but {len(texts)} texts")
        if not hits:
            return []
        pairs = [(query, text) for text in texts]
        scores = np.asarray(self._get_model().predict(pairs, batch_size=self.batch_size, show_progress_bar=False),
                            dtype=np.float64).reshape(-1)
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
        return [replace(hits[i], score=float(scores[i]), retriever=self.name) for i in order]


def _load_cross_encoder(path: Path, device: str) -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(str(path), device=device, local_files_only=True)
    except OSError as exc:
        raise RerankerNotFoundError(
            f"cannot load a cross-encoder from {path} (MEDCITE_RETRIEVAL__RERANKER_PATH): {exc}"
        ) from exc


def make_reranker(settings: RetrievalSettings) -> Reranker | None:
    """The configured reranker, or ``None`` when ``settings.reranker_path`` is unset."""
    return None if settings.reranker_path is None else CrossEncoderReranker(settings.reranker_path)
