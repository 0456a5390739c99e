# regime-trader — the two commands a newcomer needs: `make demo` and `make test`.
SHELL   := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
BUDGET  ?= small

.PHONY: install demo test test-fast lint type format bench bench-install clean

install: $(STAMP)

# Re-runs only when the project's dependency list changes (quick when already done).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: a plain `torch` requirement would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install -q "torch==2.13.0"
	# (filters the machine's pip notes about absent local index folders; pipefail keeps pip's status)
	$(BIN)/python -m pip install -q -e ".[dev,tracking,distributed,serve]" 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@touch $(STAMP)

demo: install
	$(BIN)/regime-trader demo --budget $(BUDGET)

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" -x

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

type: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install
	$(BIN)/python bench/train.py
	$(BIN)/python bench/features.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/nets.py
	$(BIN)/python bench/update.py

# vectorbt for bench/simulate.py only (never imported by the package or the tests).
bench-install: install
	$(BIN)/python -m pip install -q -e ".[bench]" 2>&1 | { grep -v "is ignored: it is neither" || true; }

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
