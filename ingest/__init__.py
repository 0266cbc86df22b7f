"""Ingestion: load source files into clean Documents, then detect sections and chunk them."""
