# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# PostgreSQL for the store and worker tests (as on CI); unreachable means skipped, except CI=true.
export DRIFTLINE_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: test lint typecheck unit demo compare-example bench bench-stream clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# The demo on the embedded default: embedded broker, SQLite, a worker and a simulator
# that injects drift, with a live table of closed windows.
demo: $(STAMP)
	$(BIN)/driftline demo

# The batch path: two synthetic files compared with the same code.
compare-example: $(STAMP)
	$(BIN)/python -m streams.examples --out .demo-compare
	$(BIN)/driftline compare .demo-compare/reference.csv .demo-compare/current.csv \
		--target label --prediction score --prediction prediction

bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-stream: $(STAMP)
	$(BIN)/python bench/stream.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .demo .demo-compare
