"""medcite's ingest layer: source files -> clean documents -> sections and chunks -> an index version.

Owns the loaders (``loaders``: PDF, HTML, Markdown with front matter, NGC XML, JSON lines), section detection and
chunking, and the build (``pipeline.ingest``: plan, chunk, embed through the cache, write; ``worker`` runs it in a
child process for upload jobs).
May import: ``index`` and ``core`` -- never ``app`` or ``evals``.
"""
