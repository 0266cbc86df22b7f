# medcite: the two commands of the README are `make serve` and `make test`.
PY     ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.medcite-installed
INDEX  ?= var/index/default
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install index serve test test-slow test-browser test-postgres bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first and pinned: the CPU build lies on local disk; an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Incremental: embeds only what changed since the last build (nothing on a second run).
index: install
	$(BIN)/medcite ingest corpus --index $(INDEX)

serve: index
	$(BIN)/medcite serve --index $(INDEX)

# Layer contracts first (.importlinter: imports point one way), then the default tests and every docstring example.
DOCTEST_PATHS := core index ingest app evals scripts

test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not slow and not browser"
	$(BIN)/python -m pytest -q --doctest-modules $(DOCTEST_PATHS) --ignore=app/review/migrations

test-slow: install
	$(BIN)/python -m pytest -q -m "slow and not browser"

# Review-store tests on a real PostgreSQL 15 (Debian's packages via apt-get, no container).
test-postgres: install
	url="$$(bash .ci/postgres-setup.sh)" && MEDCITE_TEST_POSTGRES_URL="$$url" $(BIN)/python -m pytest -q -m postgres tests/app/review tests/app/http/test_review_api.py

# Browser tests: Debian's Chromium (apt) driven by Playwright for Python; no browser download.
test-browser: install
	VENV=$(VENV) bash .ci/browser-setup.sh
	$(BIN)/python -m pytest -q -m browser

bench: index
	$(BIN)/python -m ingest.benchmark --index $(INDEX)

clean:
	rm -rf var .pytest_cache
