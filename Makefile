# sapwood developer tasks. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= test,lint,nvrtc

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

.PHONY: install
install: $(PY) ## build the release wheel and install it with the test extras into .venv
	$(PY) -m pip install --quiet --upgrade ".[$(EXTRAS)]"

.PHONY: dev
dev: $(PY) ## rebuild the extension in place (maturin develop --release)
	$(PY) -m pip install --quiet "maturin>=1.9.4,<2"
	$(VENV)/bin/maturin develop --release --extras $(EXTRAS)

.PHONY: fmt
fmt: $(PY) ## format Rust and Python
	cargo fmt --all
	$(VENV)/bin/ruff format python tests benches
	$(VENV)/bin/ruff check --fix python tests benches

.PHONY: lint-rust
lint-rust: ## rustfmt and clippy, warnings are errors
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: lint-python
lint-python: ## ruff and the stub check of sapwood._native
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches
	$(PY) -m mypy.stubtest sapwood._native --allowlist .stubtest-allowlist

.PHONY: lint
lint: lint-rust lint-python ## every linter

.PHONY: test-rust
test-rust: ## cargo test over the workspace
	cargo test --workspace

.PHONY: test-python
test-python: ## pytest over tests/
	$(PY) -m pytest tests

.PHONY: test
test: install lint-rust test-rust lint-python test-python ## what CI runs: install, lint, every test

.PHONY: docs
# The docs extra alone, read from pyproject.toml (tomllib: Python 3.11+), so that building the
# pages does not rebuild the extension; sapwood itself is installed only when missing.
docs: $(PY) ## build the documentation into docs/_build/html (sphinx-build -W: warnings are errors)
	$(PY) -c "import sapwood" 2>/dev/null || $(MAKE) install
	$(PY) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["docs"]))' \
		| xargs $(PY) -m pip install --quiet
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

.PHONY: bench
bench: install ## criterion benches and the side-by-side comparisons against the peers
	cargo bench --workspace
	$(PY) -m pip install --quiet ".[bench]"
	$(PY) benches/compare/run.py
