"""Registers the ``medcite eval`` command (the harness arrives with the evaluation issue)."""

from __future__ import annotations

import typer


def register(cli: typer.Typer) -> None:
    """Attach evaluation commands to the top-level CLI (nothing yet)."""
    return None
