"""medcite's shared kernel: the data models, contract constants, settings machinery and file helpers every layer uses.

Owns: ``models`` (Document, Chunk, DocumentMeta: what crosses package boundaries), ``contracts`` (citation pattern,
disclaimers, abstention and review wording, index format version), ``settings`` (the section base class and the
paths every layer shares), ``fileio`` (atomic writes, JSON-lines reading).
May import: the standard library and pydantic only -- never ``index``, ``ingest``, ``app`` or ``evals``.
"""
