"""Errors the harness reports to the user as one clear message (no stack trace)."""

from __future__ import annotations


class EvalError(RuntimeError):
    """A problem with the run's inputs, index or endpoint; the message names it and, where known, the fix."""
