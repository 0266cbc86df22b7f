"""medcite's index layer: the sentence encoder and everything an index version stores on disk.

Owns the interfaces and their backends, each behind a registry/factory:
``embedding`` (:class:`~index.embedding.Embedder`: torch and ONNX encoders, ``create_embedder``), ``vectors``
(:class:`~index.vectors.VectorStore` by chunk id: FAISS in ``faiss_store``, numpy in ``memory``), ``lexical``
(medical tokenizer and :class:`~index.lexical.LexicalIndex`: bm25s, or pure Python in ``memory``), plus the chunk
store (``store``), sentence vectors, the embedding cache, the manifest and the atomic versioned layout
(``storage``: ``write_index``, ``open_index``).
May import: ``core`` and third-party libraries -- never ``ingest``, ``app`` or ``evals``. Nothing is re-exported
here so that ``import index.settings`` stays light.
"""
