"""The encoder of index builds: bf16 chosen only where it gives the served fp32 index, and its vectors are fp32's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.bulk_encode import MIN_BULK_TEXTS, build_settings, bulk_embedder, native_bf16
from index.embedding import create_embedder
from index.settings import EmbeddingSettings

SENTENCES = [
    "Wilms tumor -- CT scan of the abdomen will confirm the renal origin of the mass.",
    "Metformin is the preferred initial pharmacologic agent for type 2 diabetes.",
    "Screen adults aged 50 to 75 years for colorectal cancer (grade A).",
    "Amoxicillin 80-90 mg/kg/day in two divided doses for acute otitis media.",
]


def test_native_bf16_reads_the_cpu_flags(tmp_path: Path) -> None:
    cpu = tmp_path / "cpuinfo"
    cpu.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert native_bf16(cpu) is False
    cpu.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    assert native_bf16(cpu) is True
    cpu.write_text("processor\t: 0\nflags\t\t: fpu amx_bf16\n")
    assert native_bf16(cpu) is True
    assert native_bf16(tmp_path / "missing") is False


@pytest.mark.parametrize(("backend", "build", "bf16", "expected"), [
    ("onnx", "auto", True, "torch-bf16"),   # fp32 served, native bf16: the fast path to the same index
    ("onnx", "auto", False, "onnx"),        # emulated bf16 would be slower
    ("torch", "auto", True, "torch-bf16"),
    ("onnx-int8", "auto", True, "onnx-int8"),  # int8 is another index: never swapped for bf16
    ("onnx", "same", True, "onnx"),
    ("onnx-int8", "torch-bf16", False, "torch-bf16"),  # asked for explicitly
])
def test_build_settings_swap_only_to_the_same_index(backend: str, build: str, bf16: bool, expected: str) -> None:
    settings = EmbeddingSettings(backend=backend, build_backend=build)
    assert build_settings(settings, bf16=bf16).backend == expected


def test_small_builds_keep_the_served_encoder() -> None:
    settings = EmbeddingSettings(build_backend="torch-bf16")
    assert bulk_embedder(settings, MIN_BULK_TEXTS - 1).settings.backend == "onnx"
    assert bulk_embedder(settings, MIN_BULK_TEXTS).settings.backend == "torch-bf16"


def test_bf16_is_the_fp32_model_for_the_index() -> None:
    fp32, bf16 = create_embedder(EmbeddingSettings()), create_embedder(EmbeddingSettings(backend="torch-bf16"))
    int8 = create_embedder(EmbeddingSettings(backend="onnx-int8"))
    assert bf16.info == fp32.info
    assert int8.info != fp32.info


@pytest.mark.slow
def test_bf16_vectors_are_the_fp32_vectors() -> None:
    fp32 = create_embedder(EmbeddingSettings()).encode(SENTENCES)
    bf16 = create_embedder(EmbeddingSettings(backend="torch-bf16")).encode(SENTENCES)
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    cosines = (fp32 * bf16).sum(axis=1)
    assert cosines.min() > 0.999
    # and each sentence is still nearest to itself among the others (the vectors did not collapse)
    assert (np.argmax(bf16 @ fp32.T, axis=1) == np.arange(len(SENTENCES))).all()
