"""Settings of the query side: retrieval, answer assembly and request limits.

>>> RetrievalSettings().fusion, AnswerSettings().abstain_threshold, LimitSettings().max_question_chars
('convex', 0.42, 2000)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field

from core.contracts import MAX_QUESTION_CHARS, MAX_TURNS
from core.settings import PathSettings, Section

#: The shipped sentence-selection model (app/query/models; retrain with `make train-selector`).
SELECTION_MODEL = Path(__file__).resolve().parent / "models" / "sentence-selector-v1.txt"
from index.settings import EmbeddingSettings, IndexSettings
class RetrievalSettings(Section):
    candidates: int = Field(100, ge=1, le=1000, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["rrf", "convex"] = Field(
        "convex", description="How BM25 and dense rankings are fused: reciprocal rank fusion, or a convex combination of "
        "min-max normalised scores (see evals/RESULTS.md)."
    )
    convex_alpha: float = Field(
        0.7, ge=0, le=1, description="Dense share of a convex fusion (BM25 gets 1 - alpha); 0.7 from the dev sweep."
    )
    rrf_k: float = Field(60.0, gt=0, description="Reciprocal-rank-fusion constant k.")
    weight_bm25: float = Field(
        0.5, ge=0, description="RRF weight of the BM25 ranking when fusion='rrf' (0.5 was best for RRF in the dev sweep)."
    )
    weight_dense: float = Field(1.0, ge=0, description="RRF weight of the dense ranking.")
    reranker_path: Path | None = Field(
        None, description="Local cross-encoder model directory; None disables reranking."
    )
    rerank_top_n: int = Field(30, ge=1, description="Fused candidates passed to the reranker.")
    top_k: int = Field(8, ge=1, le=50, description="Passages handed to answer assembly.")


class AnswerSettings(Section):
    generator: Literal["extractive", "llm"] = Field(
        "extractive", description="Answer generator (app.query.generator registry): 'extractive' states source "
        "sentences, each cited; 'llm' has the OpenAI-compatible server of the llm section write the answer from the "
        "retrieved passages and keeps only sentences verified against the passage they cite (extractive fallback)."
    )
    abstain_threshold: float = Field(
        0.42, description="Best sentence's dense similarity below which medcite abstains (calibrated on dev data "
        "by scripts/calibrate_abstention.py)."
    )
    selection: Literal["learned", "blend", "hand"] = Field(
        "blend", description="How candidate sentences are scored (app.query.selection): the LightGBM model of "
        "selection_model (trained on silver clinician questions), the hand-set weighted sum plus selection_blend x "
        "that model's probability, or the hand-set weighted sum alone (evals/RESULTS.md compares them)."
    )
    selection_blend: float = Field(0.3, ge=0, le=2, description="Weight of the learned probability in 'blend'.")
    selection_model: Path = Field(
        SELECTION_MODEL, description="Learned sentence-selection model (LightGBM text file written by "
        "`make train-selector`; its model card sits beside it as .md)."
    )
    entity_check: bool = Field(
        True, description="Check that the bottom line is about the drug, population and quantity the question "
        "names (app.query.consistency); abstain with the 'sources give no ...' line when nothing fits."
    )
    condition_check: bool = Field(
        True, description="Part of the entity check: the bottom line's passage must name a condition the question "
        "names, and must not be about patients with a condition the question does not name."
    )
    int8_similarity_map: tuple[float, float] = Field(
        (0.934, 0.0412), description="(a, b) of int8 cosine = a * fp32 cosine + b, applied to the fp32-calibrated "
        "abstention thresholds when the encoder is onnx-int8 (scripts/map_encoder_similarity.py measures it)."
    )
    max_sections: int = Field(3, ge=1, le=4, description="Maximum answer sections (besides the bottom line).")
    max_statements: int = Field(8, ge=1, le=30, description="Maximum bullet statements over all sections.")
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="MMR trade-off: relevance (1) vs novelty (0).")
    max_sentence_chars: int = Field(400, ge=80, description="Longer source sentences are trimmed at a clause.")
    related_questions: int = Field(4, ge=0, le=5, description="Related questions returned.")
    stale_after_years: float = Field(
        5.0, gt=0, description="A cited source older than this is marked as possibly superseded in the answer."
    )


class LLMSettings(Section):
    """An OpenAI-compatible chat server (llama.cpp ``llama-server``, vLLM, Ollama, a hosted model) for
    ``answer.generator = 'llm'`` (or ``"generator": "llm"`` per request)."""

    base_url: str | None = Field(
        None, description="Base URL of the OpenAI-compatible API, e.g. 'http://127.0.0.1:8080/v1'; None = no LLM "
        "(requests for the llm generator get the extractive answer with a notice).")
    model: str = Field("default", description="Model name sent with each request (llama-server ignores it).")
    api_key: str | None = Field(None, repr=False, description="Bearer key for the server, if it needs one.")
    timeout_s: float = Field(60.0, gt=0, le=600, description="Seconds to wait for one completion before falling "
                             "back to the extractive answer.")
    max_tokens: int = Field(700, ge=32, le=8192, description="Most tokens the model may write per answer.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0 = deterministic).")
    max_passages: int = Field(6, ge=1, le=20, description="Retrieved passages given to the model, best first.")
    passage_chars: int = Field(1200, ge=200, le=8000, description="Characters of each passage given to the model.")
    min_support: float = Field(
        0.6, ge=0, le=1, description="Cosine (sentence encoder) between a generated sentence and the best sentence "
        "of the passages it cites at or above which it counts as supported (with every number and drug name in "
        "it found in those passages).")
    json_schema: bool = Field(True, description="Send response_format json_schema (llama-server, vLLM and OpenAI "
                              "constrain the output to it); off for servers that refuse it.")


class LimitSettings(Section):
    """Request limits the query side enforces (at most the schema caps in ``core.contracts``)."""

    max_question_chars: int = Field(MAX_QUESTION_CHARS, ge=1, le=MAX_QUESTION_CHARS,
                                    description="Longest accepted question (characters).")
    max_turns: int = Field(MAX_TURNS, ge=0, le=MAX_TURNS, description="Most earlier turns accepted per request.")


class QueryConfig(Protocol):
    """The settings sections the query pipeline reads (the root ``app.settings.Settings`` satisfies it)."""

    paths: PathSettings
    embedding: EmbeddingSettings
    index: IndexSettings
    retrieval: RetrievalSettings
    answer: AnswerSettings
    limits: LimitSettings
    llm: LLMSettings
