"""Deterministic fake embeddings for tests that must not load the real model."""

from __future__ import annotations

import hashlib
import re

import numpy as np

DIM = 64


def hashed_vector(text: str) -> np.ndarray:
    """Bag of words hashed into DIM dimensions, L2-normalised (deterministic across processes)."""
    vec = np.zeros(DIM, dtype=np.float32)
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return vec / max(float(np.linalg.norm(vec)), 1e-9)
