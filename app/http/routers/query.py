"""Query routes: ``POST /v1/answer``, ``POST /v1/search``, ``GET /v1/documents`` -- thin over the pipeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, create_model

from app.http.deps import ready_pipeline, review_desk
from app.http.reviewing import ReviewDesk
from app.query.pipeline import AnswerPipeline
from app.query.schemas import Answer, AnswerRequest, SearchRequest, SearchResponse
from core.models import DocumentMeta

router = APIRouter(prefix="/v1", tags=["query"])

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
    documents: list[DocumentInfo]  # type: ignore[valid-type]
    index: dict[str, Any] = Field(description="Index manifest summary: model, created, counts.")


@router.post("/answer", response_model=Answer)
def answer(request: AnswerRequest, pipe: AnswerPipeline = Depends(ready_pipeline),
           desk: ReviewDesk = Depends(review_desk)) -> Answer:
    return desk.answer(pipe, request)  # an approved article when one matches; stored when the deployment says so


@router.post("/search", response_model=SearchResponse)
def search(request: SearchRequest, pipe: AnswerPipeline = Depends(ready_pipeline)) -> SearchResponse:
    return pipe.search(request)


@router.get("/documents", response_model=DocumentList)
def documents(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000),
              q: str | None = Query(None, max_length=200, description="Title substring filter."),
              pipe: AnswerPipeline = Depends(ready_pipeline)) -> DocumentList:
    store, manifest = pipe.index.store, pipe.index.manifest
    metas = list(store.documents.values())
    if q:
        needle = q.lower()
        metas = [m for m in metas if needle in m.title.lower()]
    docs = [DocumentInfo(**m.model_dump(include=set(PUBLIC_FIELDS)),
                         chunks=manifest.documents[m.doc_id].n_chunks if m.doc_id in manifest.documents else 0)
            for m in metas[offset: offset + limit]]
    return DocumentList(total=len(metas), offset=offset, documents=docs,
                        index={"model": manifest.model.name, "created": manifest.created.isoformat(),
                               "counts": manifest.counts, "format_version": manifest.format_version})
