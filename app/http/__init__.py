"""medcite's HTTP layer: the FastAPI app over the query core.

``factory.create_app`` (lifespan, middleware, routers) builds the app from the root settings; ``state`` holds the
loaded pipeline and swaps index versions; ``deps`` the request dependencies (pipeline, auth); ``errors`` the one
error envelope (OpenAI's shape on the chat routes); ``security`` keys, rate limits and headers; ``routers/`` one
module-level ``APIRouter`` per capability; ``jobs`` and ``uploads`` the admin ingest jobs; ``logs`` the JSON
request log.
May import: ``app.query``, ``app.review``, ``app.settings``, ``ingest``, ``index``, ``core`` -- never ``app.cli``
or ``evals``.
"""
