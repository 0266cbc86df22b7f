"""medcite's service layer: the query core, the review store, the HTTP API and page, and the CLI.

Sub-packages, importing downwards only (``.importlinter``): ``cli``/``benchmark`` (entry points) -> ``http``
(FastAPI app, routers, security, jobs, uploads) -> ``settings`` (the one root settings object) -> ``review``
(articles and review workflow in a database) -> ``query`` (retrieval, follow-ups, generation, abstention, safety,
related questions, rendering; no web framework).
May import: ``ingest``, ``index`` and ``core`` -- never ``evals``.
"""
