"""Where queries go: an in-process index (:class:`LocalBackend`) or a service over HTTP (:class:`RemoteBackend`).

Both speak the same contract: ``search`` returns the document id of each ranked chunk (``/v1/search``
passages' ``doc_id``), ``answer`` returns an :class:`app.query.schemas.Answer` (``/v1/answer``), optionally for a
follow-up with the conversation's earlier turns (``AnswerRequest.turns``). Queries longer than the service limit
are clipped identically in both, so local and remote runs score the same text.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence, Union

import httpx
from pydantic import BaseModel, ValidationError

from app.query.schemas import Answer, Turn
from core.contracts import MAX_QUESTION_CHARS
from evals.errors import EvalError

RETRIEVER_PROBE = "blood pressure"
#: Retries of a request answered 429 (rate limited) or 503 (busy), waiting ``Retry-After`` seconds each time.
MAX_RETRIES = 120
MAX_RETRY_WAIT_S = 60.0
#: Limits of an earlier turn, taken from the request schema (``app.query.schemas.Turn``).
MAX_TURN_ANSWER_CHARS = next(m.max_length for m in Turn.model_fields["answer"].metadata if hasattr(m, "max_length"))
MAX_CITED_CHUNKS = next(m.max_length for m in Turn.model_fields["cited_chunk_ids"].metadata
                        if hasattr(m, "max_length"))

#: An earlier turn as a :class:`app.query.schemas.Turn` or a dict of its fields.
TurnLike = Union[Turn, Mapping[str, Any]]


class RetrieverUnavailable(EvalError):
    """The backend cannot run this retriever (e.g. no reranker configured)."""


class SearchOutcome(BaseModel):
    doc_ids: list[str]
    latency_ms: float


class AnswerOutcome(BaseModel):
    answer: Answer
    latency_ms: float


class Backend(Protocol):
    kind: str

    def describe(self) -> dict[str, Any]: ...

    def unavailable(self, retriever: str) -> str | None: ...

    def search(self, query: str, k: int, retriever: str) -> SearchOutcome: ...

    def answer(self, question: str, audience: str, turns: Sequence[TurnLike] | None = None) -> AnswerOutcome: ...

    def close(self) -> None: ...


def clip(text: str) -> str:
    """The query as the service accepts it (stripped, at most MAX_QUESTION_CHARS characters)."""
    return text.strip()[:MAX_QUESTION_CHARS]


def as_turns(turns: Sequence[TurnLike] | None) -> list[Turn]:
    """Earlier turns as request models, clipped to the schema's limits (question, answer text, cited chunks).

    >>> [t.model_dump() for t in as_turns([{"question": " Wilms? ", "cited_chunk_ids": ["d#1"]}])]
    [{'question': 'Wilms?', 'answer': None, 'cited_chunk_ids': ['d#1']}]
    """
    out = []
    for i, turn in enumerate(turns or []):
        fields = dict(turn.model_dump() if isinstance(turn, Turn) else turn)
        fields["question"] = clip(str(fields.get("question") or ""))
        if fields.get("answer") is not None:
            fields["answer"] = str(fields["answer"])[:MAX_TURN_ANSWER_CHARS]
        fields["cited_chunk_ids"] = list(fields.get("cited_chunk_ids") or [])[:MAX_CITED_CHUNKS]
        try:
            out.append(Turn.model_validate(fields))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise EvalError(f"turn {i}: {'.'.join(map(str, err['loc'])) or 'turn'}: {err['msg']}") from None
    return out


def manifest_summary(manifest: Any) -> dict[str, Any]:
    """The header fields of an index manifest (no per-document entries)."""
    return {
        "created": manifest.created.isoformat(), "format_version": manifest.format_version,
        "counts": dict(manifest.counts), "corpus_hash": manifest.corpus_hash, "faiss_factory": manifest.faiss_factory,
        "vector_backend": manifest.vector_backend, "chunking": dict(manifest.chunking),
    }


class LocalBackend:
    """Scores an index in this process through ``AnswerPipeline``: the code behind ``/v1/search`` and
    ``/v1/answer`` (query expansion included), so local and remote runs of the same index score the same."""

    kind = "local"

    def __init__(self, settings: Any, index_dir: Path) -> None:
        from app.query.pipeline import AnswerPipeline

        self.settings = settings.model_copy(deep=True)
        self.settings.paths.index_dir = Path(index_dir)
        self.pipeline = AnswerPipeline.from_settings(self.settings)
        self.index, self.engine = self.pipeline.index, self.pipeline.engine

    def describe(self) -> dict[str, Any]:
        m = self.index.manifest
        return {"backend": "local", "index": str(self.index.path), "model": m.model.model_dump(),
                "manifest": manifest_summary(m), "retrieval": self.settings.retrieval.model_dump(mode="json")}

    def unavailable(self, retriever: str) -> str | None:
        if retriever == "hybrid+rerank" and self.engine.reranker is None:
            return "no reranker configured (set MEDCITE_RETRIEVAL__RERANKER_PATH to a local cross-encoder)"
        return None

    def search(self, query: str, k: int, retriever: str) -> SearchOutcome:
        from app.query.schemas import SearchRequest

        t0 = time.perf_counter()
        response = self.pipeline.search(SearchRequest(query=clip(query), top_k=k, retriever=retriever))
        latency = (time.perf_counter() - t0) * 1000.0
        return SearchOutcome(doc_ids=[p.doc_id for p in response.passages], latency_ms=latency)

    def answer(self, question: str, audience: str, turns: Sequence[TurnLike] | None = None) -> AnswerOutcome:
        from app.query.schemas import AnswerRequest

        request = AnswerRequest(question=clip(question), turns=as_turns(turns), audience=audience)
        t0 = time.perf_counter()
        answer = self.pipeline.answer(request)
        return AnswerOutcome(answer=answer, latency_ms=(time.perf_counter() - t0) * 1000.0)

    def close(self) -> None:
        return None


class RemoteBackend:
    """Scores a running service through ``POST /v1/search`` and ``POST /v1/answer``."""

    kind = "remote"

    def __init__(self, endpoint: str, *, api_key: str | None = None, timeout: float = 120.0,
                 ready_timeout: float = 600.0, transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.endpoint, timeout=timeout, headers=headers, transport=transport)
        self.waited_s = 0.0  # time spent waiting out 429/503 answers (not counted as latency)
        self.ready = self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> dict[str, Any]:
        """Poll ``/readyz`` until the service has loaded; a service without ``/readyz`` is assumed ready."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = self.client.get("/readyz")
            except httpx.HTTPError as exc:
                raise EvalError(f"cannot reach {self.endpoint}: {exc}") from None
            if response.status_code == 404:
                return {}
            if response.status_code == 200:
                return _json(response)
            reason = _json(response).get("reason", response.text[:200])
            if reason != "loading" or time.monotonic() > deadline:
                raise EvalError(f"{self.endpoint} is not ready: HTTP {response.status_code} {reason}")
            time.sleep(1.0)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": "remote", "endpoint": self.endpoint, "readyz": self.ready,
                                "rate_limit_wait_s": round(self.waited_s, 1)}
        try:
            response = self.client.get("/v1/documents", params={"limit": 1})
            if response.status_code == 200:
                index = _json(response).get("index", {})
                info["model"] = {"name": index.get("model", self.ready.get("model", "unknown"))}
                info["manifest"] = index
        except httpx.HTTPError:
            pass
        info.setdefault("model", {"name": self.ready.get("model", "unknown")})
        return info

    def unavailable(self, retriever: str) -> str | None:
        try:
            self.search(RETRIEVER_PROBE, 1, retriever)
        except RetrieverUnavailable as exc:
            return str(exc)
        return None

    def _post(self, path: str, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """POST ``payload``; 429/503 answers are retried after ``Retry-After`` (latency = the answered attempt)."""
        for attempt in range(MAX_RETRIES + 1):
            t0 = time.perf_counter()
            try:
                response = self.client.post(path, json=payload)
            except httpx.HTTPError as exc:
                raise EvalError(f"POST {self.endpoint}{path} failed: {exc}") from None
            latency = (time.perf_counter() - t0) * 1000.0
            if response.status_code not in (429, 503) or attempt == MAX_RETRIES:
                break
            wait = retry_after(response)
            self.waited_s += wait
            time.sleep(wait)
        if response.status_code in (401, 403):
            raise EvalError(f"POST {self.endpoint}{path} returned HTTP {response.status_code}: the service needs a "
                            "query key (--api-key or MEDCITE_EVAL_API_KEY)")
        if response.status_code == 400 and path == "/v1/search":
            body = _json(response)
            message = (body.get("error") or {}).get("message") if isinstance(body.get("error"), dict) else None
            raise RetrieverUnavailable(f"{payload.get('retriever')}: {message or body.get('detail') or response.text[:200]}")
        if response.status_code != 200:
            raise EvalError(f"POST {self.endpoint}{path} returned HTTP {response.status_code}: {response.text[:300]}")
        return _json(response), latency

    def search(self, query: str, k: int, retriever: str) -> SearchOutcome:
        body, latency = self._post("/v1/search", {"query": clip(query), "top_k": k, "retriever": retriever})
        try:
            ids = [str(p["doc_id"]) for p in body["passages"]]
        except (KeyError, TypeError):
            raise EvalError(f"{self.endpoint}/v1/search: response has no passages[].doc_id") from None
        return SearchOutcome(doc_ids=ids, latency_ms=latency)

    def answer(self, question: str, audience: str, turns: Sequence[TurnLike] | None = None) -> AnswerOutcome:
        payload: dict[str, Any] = {"question": clip(question), "audience": audience}
        if turns:  # no "turns" key for a first question: the request stays what it was before turns existed
            payload["turns"] = [t.model_dump() for t in as_turns(turns)]
        body, latency = self._post("/v1/answer", payload)
        try:
            return AnswerOutcome(answer=Answer.model_validate(body), latency_ms=latency)
        except ValidationError as exc:
            raise EvalError(f"{self.endpoint}/v1/answer: response is not an Answer ({exc.errors()[0]['msg']})") from None

    def close(self) -> None:
        self.client.close()


def retry_after(response: httpx.Response) -> float:
    """Seconds to wait from a ``Retry-After`` header (1 s when absent or not a number; at most 60 s).

    >>> retry_after(httpx.Response(429, headers={"Retry-After": "3"}))
    3.0
    """
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.0), MAX_RETRY_WAIT_S)
    except ValueError:
        return 1.0


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
