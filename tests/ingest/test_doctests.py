"""The runnable examples in the docstrings of the loaders' cleaning and NGC modules, models and sentences."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "core.models",
    "ingest.sentences",
    "ingest.loaders.frontmatter",
    "ingest.loaders.mdblocks",
    "ingest.loaders.mdclean",
    "ingest.loaders.meta",
    "ingest.loaders.ngc",
    "ingest.loaders.ngc_html",
    "ingest.loaders.ngc_meta",
    "ingest.loaders.profiles",
    "ingest.loaders.sniff",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
