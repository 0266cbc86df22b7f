"""The clinician web page: ``/`` serves ``static/index.html``; ``/static/*`` its script and stylesheet.

Every asset is local (no CDN, no web fonts), so the page works offline and under the strict
``default-src 'self'`` content security policy. The page itself calls ``POST /v1/answer`` and renders the
structured answer (see ``static/app.js``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index_page() -> FileResponse:
    """The single-page front-end."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets under ``/static``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="medcite-static")
