# Zava: `make demo` sets up and runs the demo; `make test` runs the whole suite.
# Both create .venv and install what they need. PyTorch is pinned to the CPU build
# first: any other torch requirement would pull gigabytes of CUDA packages.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[local-embeddings]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev,local-embeddings]'
	touch $@ $(VENV)/.installed-app

demo: $(VENV)/.installed-app
	$(BIN)/zava demo

test: $(VENV)/.installed-dev
	bash scripts/system-packages.sh
	$(BIN)/ruff check zava tests benchmarks
	$(BIN)/mypy zava tests/unit
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check zava tests benchmarks
	$(BIN)/mypy zava tests/unit
	$(BIN)/lint-imports --no-cache

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.seed_load --size workshop
	$(BIN)/python -m benchmarks.rls_overhead
	$(BIN)/python -m benchmarks.tool_latency
	$(BIN)/python -m benchmarks.oauth_verify
	$(BIN)/python -m benchmarks.search_quality --size workshop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
