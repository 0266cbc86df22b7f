"""FastAPI application: thin routes over ``AnswerPipeline``.

The index and model load once, in a background thread at start-up: ``/healthz`` answers at once, ``/readyz`` and the
query routes answer 503 until loading is done (or failed, with the reason).
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import Any, Callable

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, create_model

from app.http.admin import install_admin
from app.http.logs import RequestLogMiddleware
from app.query.pipeline import AnswerPipeline
from app.http.security import install_security
from app.query.schemas import Answer, AnswerRequest, SearchRequest, SearchResponse
from core.models import DocumentMeta
from app.settings import Settings
log = logging.getLogger("medcite.api")


#: Metadata fields shown to clients: everything but where the server read the file from.
PUBLIC_FIELDS = [name for name in DocumentMeta.model_fields if name != "source_path"]
DocumentInfo = create_model(
    "DocumentInfo", __doc__="A document of the index (its server-side file path is never shown).",
    **{name: (DocumentMeta.model_fields[name].annotation, DocumentMeta.model_fields[name]) for name in PUBLIC_FIELDS},
    chunks=(int, Field(description="Chunks of this document in the index.")),
)


class DocumentList(BaseModel):
    total: int
    offset: int
    documents: list[DocumentInfo]
    index: dict[str, Any] = Field(description="Index manifest summary: model, created, counts.")


class _State:
    """Holds the pipeline once loaded; replaced wholesale (never mutated in place) on reload."""

    def __init__(self) -> None:
        self.pipeline: AnswerPipeline | None = None
        self.error: str | None = None


def _load(state: _State, settings: Settings, then: Callable[[], Any] | None = None) -> None:
    try:
        state.pipeline = AnswerPipeline.from_settings(settings)
        state.pipeline.answer(AnswerRequest(question="warm up the model"))  # first call pays lazy loads
    except Exception as exc:  # reported by /readyz (without paths), not raised into the server loop
        state.error = f"the index or model failed to load ({type(exc).__name__}); see the server log"
        log.error("index or model failed to load: %s: %s", type(exc).__name__, exc)
    if then is not None:
        then()


def create_app(settings: Settings, pipeline: AnswerPipeline | None = None) -> FastAPI:
    """Build the app; pass ``pipeline`` to serve an already loaded one (tests)."""
    state = _State()
    state.pipeline = pipeline

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        def recover() -> None:  # resume jobs a crash interrupted, clean their temporary files
            try:
                app.state.admin.recover()
            except Exception:  # a broken jobs directory must not keep the service from starting
                log.exception("could not recover interrupted jobs")
        if state.pipeline is None:
            threading.Thread(target=_load, args=(state, settings, recover), daemon=True, name="medcite-load").start()
        else:
            recover()
        yield

    app = FastAPI(title="medcite", version="0.1.0", lifespan=lifespan,
                  description="Cited answers from medical guidelines, fully offline.")
    app.state.medcite = state

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"{where}: {msg}")
        return JSONResponse(status_code=422, content={"error": {"type": "invalid_request",
                                                                "message": "; ".join(problems)},
                                                      "detail": jsonable_errors(exc)})

    def ready() -> AnswerPipeline:
        if state.pipeline is None:
            raise HTTPException(503, detail=state.error or "index and model are still loading")
        return state.pipeline

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        if state.pipeline is None:
            return JSONResponse(status_code=503, content={"ready": False,
                                                          "reason": state.error or "loading"})
        manifest = state.pipeline.index.manifest
        return JSONResponse({"ready": True, "model": manifest.model.name, "chunks": manifest.counts.get("chunks"),
                             "documents": manifest.counts.get("documents")})

    @app.post("/v1/answer", response_model=Answer, tags=["query"])
    def answer(request: AnswerRequest) -> Answer:
        pipe = ready()
        try:
            return pipe.answer(request)
        except ValueError as exc:  # e.g. contradictory filters (year_min after year_max)
            raise HTTPException(400, detail=str(exc)) from None

    @app.post("/v1/search", response_model=SearchResponse, tags=["query"])
    def search(request: SearchRequest) -> SearchResponse:
        pipe = ready()
        try:
            return pipe.search(request)
        except ValueError as exc:  # e.g. hybrid+rerank without a configured reranker
            raise HTTPException(400, detail=str(exc)) from None

    @app.get("/v1/documents", response_model=DocumentList, tags=["query"])
    def documents(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000),
                  q: str | None = Query(None, max_length=200, description="Title substring filter.")) -> DocumentList:
        pipe = ready()
        store, manifest = pipe.index.store, pipe.index.manifest
        metas = list(store.documents.values())
        if q:
            needle = q.lower()
            metas = [m for m in metas if needle in m.title.lower()]
        page = metas[offset: offset + limit]
        docs = [DocumentInfo(**m.model_dump(include=set(PUBLIC_FIELDS)), chunks=manifest.documents[m.doc_id].n_chunks
                             if m.doc_id in manifest.documents else 0) for m in page]
        return DocumentList(total=len(metas), offset=offset, documents=docs,
                            index={"model": manifest.model.name, "created": manifest.created.isoformat(),
                                   "counts": manifest.counts, "format_version": manifest.format_version})

    install_admin(app, settings)  # admin routes: upload / delete / reindex / jobs
    install_security(app, settings.security)  # query keys, rate limit, body limit, headers, CORS
    app.add_middleware(RequestLogMiddleware, log_questions=settings.security.log_questions)  # outermost
    from app.http.routers.chat import install as install_chat; install_chat(app)  # noqa: E702  OpenAI-compatible chat API
    from app.http.routers.web import install as install_web; install_web(app)  # noqa: E702  the web page at /
    return app


def jsonable_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Validation errors without echoing the (possibly 50 kB) input back."""
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
