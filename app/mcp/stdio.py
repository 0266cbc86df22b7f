"""``medcite mcp``: the MCP tools over stdio, for IDE assistants and agents that start the server themselves.

The server answers ``initialize`` at once and loads the index and the model in a background thread; a tool called
before loading is done waits for it (up to :data:`LOAD_WAIT_SECONDS`). While it runs, the SDK points fd 1 at
stderr so nothing but protocol messages reaches stdout; medcite's logs go to stderr as JSON lines, without
question text. A version another process makes current (an admin upload, ``medcite ingest``) is swapped in within
``ServerSettings.index_poll_seconds``.
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import AsyncIterator

from app.mcp.server import build_server, not_ready
from app.query.pipeline import AnswerPipeline
from app.query.schemas import AnswerRequest
from app.settings import Settings
from index.storage import open_index
from index.watch import CurrentWatcher

log = logging.getLogger("medcite.mcp")
#: How long a tool call waits for the index and model to finish loading.
LOAD_WAIT_SECONDS = 300.0


class LoadingPipeline:
    """The pipeline, loaded in the background; calling it returns it (waiting for the load) or raises why not."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pipeline: AnswerPipeline | None = None
        self.error: str | None = None
        self.loaded = threading.Event()
        self.watcher = CurrentWatcher(settings.paths.index_dir, self._served, self._reopen,
                                      settings.server.index_poll_seconds or 2.0)

    def start(self) -> None:
        threading.Thread(target=self._load, daemon=True, name="medcite-mcp-load").start()

    def _load(self) -> None:
        try:
            pipeline = AnswerPipeline.from_settings(self.settings)
            pipeline.answer(AnswerRequest(question="warm up the model"))
            self.pipeline = pipeline
        except Exception as exc:  # reported to the tool caller (without paths); details in the log
            self.error = f"the index or model failed to load ({type(exc).__name__}); see the server log"
            log.error("index or model failed to load: %s: %s", type(exc).__name__, exc)
        finally:
            self.loaded.set()
        if self.settings.server.index_poll_seconds > 0:
            self.watcher.start()

    def _served(self) -> str | None:
        return self.pipeline.index.path.name if self.pipeline is not None else None

    def _reopen(self, version: str) -> None:
        old = self.pipeline
        if old is None:
            new = AnswerPipeline.from_settings(self.settings)
        else:
            index = open_index(self.settings.paths.index_dir, self.settings.index, expect_model=old.embedder.info)
            new = AnswerPipeline(index, old.embedder, old.settings, old.bank)
        self.pipeline, self.error = new, None
        log.info("serving index version %s", new.index.path.name)

    def __call__(self) -> AnswerPipeline:
        self.loaded.wait(LOAD_WAIT_SECONDS)
        if self.pipeline is None:
            raise not_ready(self.error)
        return self.pipeline


def run_stdio(settings: Settings) -> None:
    """Serve the MCP tools on stdin/stdout until the client closes the connection (the caller configures logging)."""
    source = LoadingPipeline(settings)

    @asynccontextmanager
    async def lifespan(_server: object) -> AsyncIterator[None]:
        source.start()  # inside the SDK's stdio context: stray output of the load goes to stderr
        yield
        source.watcher.stop()

    build_server(source, lifespan=lifespan).run("stdio")
