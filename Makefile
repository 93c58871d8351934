# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# PostgreSQL for the store and worker tests (as on CI); unreachable means skipped, except CI=true.
export DRIFTLINE_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: lock test test-containers docker-engine lint typecheck unit prometheus-tools chromium dashboards config-schema api-schema event-schema demo compare-example report-example bench-report bench bench-stream bench-join bench-alerts soak bench-decode-depth clean bench-concept bench-power bench-name-flood bench-null-worker bench-api bench-sequential bench-multivariate

# The environment is installed from the committed lock (exact versions and hashes), never
# resolved afresh: uv at the locked version is bootstrapped with pip, then syncs the venv.
TEST_LOCK := requirements-test.lock
RUNTIME_LOCK := requirements.lock
UV_VERSION = $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' $(TEST_LOCK))
UV := $(BIN)/uv
COMPILE = $(UV) pip compile pyproject.toml --quiet --generate-hashes --universal \
	--python-version 3.11 --no-header

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml $(TEST_LOCK) | $(UV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes $(TEST_LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# Refresh both locks to the newest releases pyproject.toml allows, then run every test.
lock: | $(UV)
	$(COMPILE) --extra test --upgrade -o $(TEST_LOCK)
	$(COMPILE) --constraint $(TEST_LOCK) -o $(RUNTIME_LOCK)
	rm -f $(STAMP)
	$(MAKE) test

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Every test on both cores (pytest-xdist): first tests/integration (real brokers, workers,
# databases, Prometheus, Chromium), a module per process (--dist loadfile keeps a module's
# fixtures in one process), then the rest. Each run fails when it runs no test.
unit: $(STAMP) prometheus-tools chromium
	$(BIN)/pytest --durations=25 -n 2 --dist loadfile tests/integration
	$(BIN)/pytest --durations=10 -n 2 --ignore=tests/integration

test: lint typecheck unit

# The integration tests on Apache Kafka 3.9 (KRaft) and PostgreSQL 16 in containers
# (testcontainers; the images of docker-compose.yml) instead of the embedded broker and
# the local PostgreSQL. Needs a Docker engine; without one, says so in one line and fails.
test-containers: docker-engine prometheus-tools
	DRIFTLINE_TEST_CONTAINERS=1 $(BIN)/pytest tests/integration

docker-engine: $(STAMP)
	@$(BIN)/python -m tests.containers

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

# Chromium (Debian's package) for the browser test of `driftline report`; installed once
# when missing, like the Prometheus tools above.
chromium:
	@if command -v chromium >/dev/null; then :; else \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
			-y -qq --no-install-recommends chromium >/dev/null; fi

# Regenerate the committed dashboard JSON (tests fail when it is stale).
dashboards: $(STAMP)
	$(BIN)/python -m dashboards.build

# Regenerate the committed JSON Schema of the configuration file (a test fails when stale).
config-schema: $(STAMP)
	$(BIN)/python -m streams.config.schema

# Regenerate the committed OpenAPI document of `driftline api` (docs/api/openapi.json;
# a test fails when it is stale).
api-schema: $(STAMP)
	$(BIN)/python -m streams.api.openapi

# Regenerate the committed JSON Schema of the events (docs/schema/; tests fail when stale).
event-schema: $(STAMP)
	$(BIN)/python -m client.schema

# The demo on the embedded default: embedded broker, SQLite, a worker and a simulator
# that injects drift, with a live table of closed windows.
demo: $(STAMP)
	$(BIN)/driftline demo

# The batch path: two synthetic files compared with the same code.
compare-example: $(STAMP)
	$(BIN)/python -m streams.devtools.examples --out .demo-compare
	$(BIN)/driftline compare .demo-compare/reference.csv .demo-compare/current.csv \
		--target label --prediction score --prediction prediction

# The HTML report of the same two files, and of synthetic stored windows, to open in a
# browser: .demo-compare/report.html and .demo-compare/report-stored.html.
report-example: $(STAMP)
	$(BIN)/python -m streams.devtools.examples --out .demo-compare
	$(BIN)/driftline report --reference .demo-compare/reference.csv \
		--current .demo-compare/current.csv --target label --prediction score \
		--prediction prediction --out .demo-compare/report.html
	rm -f .demo-compare/stored.db
	$(BIN)/python -m streams.devtools.report_data --database sqlite:///.demo-compare/stored.db
	$(BIN)/driftline report --model fraud --model-version 1 \
		--database sqlite:///.demo-compare/stored.db --out .demo-compare/report-stored.html

bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-stream: $(STAMP)
	$(BIN)/python bench/stream.py

bench-join: $(STAMP)
	$(BIN)/python bench/join.py

bench-alerts: $(STAMP)
	$(BIN)/python bench/alerts.py

# Two workers under steady valid and invalid traffic for 30 minutes, killed and restarted,
# then exact counts and flat memory checked (embedded broker, PostgreSQL above).
# SOAK_ARGS=--minutes 3 for a short run.
soak: $(STAMP)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

bench-decode-depth: $(STAMP)
	$(BIN)/python bench/decode_depth.py
# Concept drift: detection delay and false detections by error input and detector setting.
bench-concept: $(STAMP)
	$(BIN)/python bench/concept.py
# False-flag rate and power of the per-feature verdict against Evidently, NannyML and Alibi
# Detect (each in a venv of its own, made on first use); `make bench-power QUICK=1` for a short run.
bench-power: $(STAMP)
	$(BIN)/python bench/power.py $(if $(QUICK),--quick)
# The time to write `driftline report` for 100 features, from files and from the store.
bench-report: $(STAMP)
	$(BIN)/python bench/report.py
bench-name-flood: $(STAMP)
	$(BIN)/python bench/name_flood.py
# The false-alarm rate of long seeded null streams through a real worker (embedded broker,
# SQLite) at 100 to 100,000 events a window, the effect gate on and off (about 12 minutes).
# The API's p50/p99 for a 30-day feature history (bench/api_history.py; PostgreSQL too when
# DRIFTLINE_TEST_DATABASE_URL is set).
bench-api: $(STAMP)
	$(BIN)/python -m bench.api_history

bench-null-worker: $(STAMP)
	$(BIN)/python bench/null_worker.py

# Champion against challenger: the always-valid test's false-decision rate on A/A runs and its
# power, against a fixed-sample z-test repeated at every look (a few minutes);
# `make bench-sequential QUICK=1` for a short run.
bench-sequential: $(STAMP)
	$(BIN)/python bench/sequential.py $(if $(QUICK),--quick)
# Multivariate drift (PCA reconstruction error): NannyML's butterfly, the null false-alarm
# rate at 100 to 10,000 rows a window, the time a window; `QUICK=1` for a fifth of the runs.
bench-multivariate: $(STAMP)
	$(BIN)/python bench/multivariate.py $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .demo .demo-compare
