"""Test-session defaults: built artefacts (embedding cache, jobs, uploads) go to a temporary data directory, never
into the checkout's ``var/``, unless a test sets its own ``paths.data_dir``."""

from __future__ import annotations

import os
import tempfile

_DATA_DIR = tempfile.mkdtemp(prefix="medcite-test-var-")
os.environ.setdefault("MEDCITE_PATHS__DATA_DIR", _DATA_DIR)
