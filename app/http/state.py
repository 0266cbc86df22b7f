"""What the running service holds: the settings, the served pipeline (swapped whole, never mutated), why it is not
ready, and the admin operations. One instance per app, at ``app.state.medcite``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.query.pipeline import AnswerPipeline, load_bank
from app.query.related import QuestionBank
from app.query.schemas import AnswerRequest
from app.settings import Settings
from index.embedding import get_embedder
from index.storage import index_exists

if TYPE_CHECKING:
    from app.http.admin import Admin
    from app.http.build import BackgroundBuild

log = logging.getLogger("medcite.api")


class ServiceState:
    """The pipeline once loaded (``None`` while loading or after a failed load, with ``error`` saying why)."""

    def __init__(self, settings: Settings, pipeline: AnswerPipeline | None = None) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.bank: QuestionBank | None = None  # loaded before the first index version is (a first run)
        self.error: str | None = None
        self.admin: Admin | None = None
        self.build: BackgroundBuild | None = None
        #: Whether :meth:`recover` resumes interrupted jobs: with several worker processes only the first does.
        self.recovers_jobs = True
        #: True while :meth:`load` opens the index (the CURRENT watcher then leaves it alone).
        self.loading = False

    def load(self) -> None:
        """Open the index and the model (first call pays the lazy loads), then recover interrupted jobs; with
        ``server.build_on_start`` the index is then built or updated in the background (a first run has none)."""
        self.loading = True
        try:
            self._load()
        finally:
            self.loading = False

    def _load(self) -> None:
        if self.settings.server.build_on_start and not index_exists(self.settings.paths.index_dir):
            self.recover()
            self.start_build()  # one process builds (a lock); the others take each version from CURRENT
            self._warm_model()  # while the lexical stage runs in its child process
            return
        try:
            pipeline = AnswerPipeline.from_settings(self.settings)
            pipeline.answer(AnswerRequest(question="warm up the model"))
            self.pipeline = pipeline
        except Exception as exc:  # reported by /readyz (without paths), not raised into the server loop
            self.error = f"the index or model failed to load ({type(exc).__name__}); see the server log"
            log.error("index or model failed to load: %s: %s", type(exc).__name__, exc)
        self.recover()
        self.build_if_configured()

    def build_if_configured(self) -> None:
        """With ``server.build_on_start``, bring the index up to date in the background (one process builds)."""
        if self.settings.server.build_on_start and self.recovers_jobs:
            self.start_build()

    def start_build(self) -> bool:
        """Build or update the index in the background (:mod:`app.http.build`); each new version is swapped in."""
        from app.http.build import BackgroundBuild

        if self.admin is None or self.build is not None:
            return False
        served = None if self.pipeline is None else getattr(self.pipeline.index, "dense", True)
        if self.pipeline is not None and not _built_from(self.pipeline, self.admin.input_paths()):
            log.info("the served index was not built from %s: not updating it in the background",
                     self.settings.paths.corpus_dir)
            return False
        self.build = BackgroundBuild(self.settings, self.admin.input_paths, on_version=self._swap_in)
        return self.build.start(served)

    def _warm_model(self) -> None:
        """Load the model and embed the related-question bank while the first index is built (a worker of a first
        run used to embed the bank after the lexical stage, delaying the first answer by a minute)."""
        try:
            get_embedder(self.settings.embedding).encode(["warm up the model"])
            self.bank = load_bank(self.settings)
        except Exception:  # reported when the first version loads
            log.exception("the embedding model or the question bank failed to load")

    def _swap_in(self) -> None:
        try:
            assert self.admin is not None
            self.admin.swap()
            log.info("serving index version %s", self.pipeline.index.path.name if self.pipeline else "?")
        except Exception:  # the next stage or the CURRENT watcher tries again; the old version keeps serving
            log.exception("the built index version failed to load")

    def recover(self) -> None:
        """Resume the jobs a crash interrupted and clean their temporary files (never fatal for the service)."""
        if self.admin is None or not self.recovers_jobs:
            return
        try:
            self.admin.recover()
        except Exception:  # a broken jobs directory must not keep the service from starting
            log.exception("could not recover interrupted jobs")


def _built_from(pipeline: AnswerPipeline, inputs: list) -> bool:
    """Whether the served index holds documents of ``inputs`` (the corpus and uploads a build would ingest)."""
    from ingest.inputs import in_scope

    store = getattr(getattr(pipeline, "index", None), "store", None)
    metas = list(getattr(store, "documents", {}).values())[:50]
    return any(in_scope(meta.source_path, inputs) for meta in metas if meta.source_path)
