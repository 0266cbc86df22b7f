"""medcite's query core: from a question (and earlier turns) to a cited answer, with no web framework.

Stages: ``followup`` (resolve a follow-up against earlier turns) -> ``retrieval`` (``SearchEngine``: lexical,
dense and fused rankings over the index interfaces, filters, preferences) -> ``generator`` (``AnswerGenerator``;
the extractive one assembles cited statements with ``assemble``, ``citing``, ``intents``, ``procedures``,
``alternatives``, ``grades``) -> ``abstention`` (``Abstainer`` on generic evidence signals) -> ``pipeline``
(``AnswerPipeline`` composes them with ``safety``, ``currency`` and ``related``) -> ``render`` (Markdown).
``schemas`` holds the request and answer models, ``settings`` this layer's settings sections.
May import: ``index`` and ``core`` -- never ``app.http``, FastAPI/Starlette, ``ingest`` or ``evals``.
"""
