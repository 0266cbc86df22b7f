"""medcite's index package: settings, data models, the embedder and everything stored on disk.

Modules: ``embedding`` (local sentence encoder), ``vectors`` (FAISS vector store), ``lexical`` (medical
tokenizer + BM25), ``store`` (chunk store), ``manifest`` (index manifest) and ``storage`` (atomic,
versioned on-disk layout). Nothing is re-exported here so that ``import index.settings`` stays light.
"""
