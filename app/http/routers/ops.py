"""Operations routes: liveness (``/healthz``, always 200 while the process runs) and readiness (``/readyz``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from app.http.build import build_progress
from app.http.deps import service_state
from app.http.state import ServiceState

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: ServiceState = Depends(service_state)) -> JSONResponse:
    """Ready once an index version is served; while a background build runs, its stage and progress
    (``build``: stage, step, done/total, eta_s) and whether the served version is partial (lexical-only)."""
    progress = build_progress(state.settings)
    build = None if progress is None else {**progress.model_dump(mode="json"), "fraction": progress.fraction}
    if state.pipeline is None:
        building = progress is not None and progress.state == "building"
        reason = "building the index (lexical stage first)" if building else state.error or "loading"
        return JSONResponse(status_code=503, content={"ready": False, "reason": reason, "build": build})
    manifest = state.pipeline.index.manifest
    return JSONResponse({"ready": True, "partial": not manifest.dense, "model": manifest.model.name,
                         "chunks": manifest.counts.get("chunks"), "documents": manifest.counts.get("documents"),
                         "version": state.pipeline.index.path.name, "build": build})
