"""Operations routes: liveness (``/healthz``, always 200 while the process runs) and readiness (``/readyz``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from app.http.deps import service_state
from app.http.state import ServiceState

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: ServiceState = Depends(service_state)) -> JSONResponse:
    if state.pipeline is None:
        return JSONResponse(status_code=503, content={"ready": False, "reason": state.error or "loading"})
    manifest = state.pipeline.index.manifest
    return JSONResponse({"ready": True, "model": manifest.model.name, "chunks": manifest.counts.get("chunks"),
                         "documents": manifest.counts.get("documents")})
