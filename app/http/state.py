"""What the running service holds: the settings, the served pipeline (swapped whole, never mutated), why it is not
ready, and the admin operations. One instance per app, at ``app.state.medcite``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.query.pipeline import AnswerPipeline
from app.query.schemas import AnswerRequest
from app.settings import Settings

if TYPE_CHECKING:
    from app.http.admin import Admin

log = logging.getLogger("medcite.api")


class ServiceState:
    """The pipeline once loaded (``None`` while loading or after a failed load, with ``error`` saying why)."""

    def __init__(self, settings: Settings, pipeline: AnswerPipeline | None = None) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.error: str | None = None
        self.admin: Admin | None = None

    def load(self) -> None:
        """Open the index and the model (first call pays the lazy loads), then recover interrupted jobs."""
        try:
            pipeline = AnswerPipeline.from_settings(self.settings)
            pipeline.answer(AnswerRequest(question="warm up the model"))
            self.pipeline = pipeline
        except Exception as exc:  # reported by /readyz (without paths), not raised into the server loop
            self.error = f"the index or model failed to load ({type(exc).__name__}); see the server log"
            log.error("index or model failed to load: %s: %s", type(exc).__name__, exc)
        self.recover()

    def recover(self) -> None:
        """Resume the jobs a crash interrupted and clean their temporary files (never fatal for the service)."""
        if self.admin is None:
            return
        try:
            self.admin.recover()
        except Exception:  # a broken jobs directory must not keep the service from starting
            log.exception("could not recover interrupted jobs")
