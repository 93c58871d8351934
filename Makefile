# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# PostgreSQL for the store and worker tests (as on CI); unreachable means skipped, except CI=true.
export DRIFTLINE_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: test lint typecheck unit prometheus-tools dashboards demo compare-example bench bench-stream bench-join bench-alerts clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) prometheus-tools
	$(BIN)/pytest

test: lint typecheck unit

# Prometheus, promtool and amtool (Debian's packages) for the dashboard and rule tests.
# Installed once when missing; the Debian services are not started (no policy change needed
# in containers, whose policy-rc.d refuses; elsewhere they are stopped right after).
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)
prometheus-tools:
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null \
		&& command -v amtool >/dev/null; then :; else \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
			-y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null \
		&& { command -v systemctl >/dev/null && [ -d /run/systemd/system ] \
			&& $(SUDO) systemctl disable --now prometheus prometheus-alertmanager \
			prometheus-node-exporter >/dev/null 2>&1 || true; }; fi

# Regenerate the committed dashboard JSON (tests fail when it is stale).
dashboards: $(STAMP)
	$(BIN)/python -m dashboards.build

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

bench-join: $(STAMP)
	$(BIN)/python bench/join.py

bench-alerts: $(STAMP)
	$(BIN)/python bench/alerts.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .demo .demo-compare
