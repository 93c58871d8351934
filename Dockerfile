# driftline: the worker image (`docker compose` runs it; see README "Operating driftline").
# Stage 1 installs the locked dependencies (requirements.lock: exact versions and hashes, the
# ones the tests ran) and the package into a virtual environment;
# stage 2 copies only that environment into a slim image run as a non-root user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/driftline
ENV PATH=/opt/driftline/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
RUN pip install --upgrade pip && pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY detectors ./detectors
COPY store ./store
COPY streams ./streams
COPY alerting ./alerting
COPY dashboards ./dashboards
RUN pip install --no-deps .

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 driftline \
    && useradd --system --uid 10001 --gid driftline --create-home \
       --home-dir /var/lib/driftline driftline
COPY --from=build /opt/driftline /opt/driftline
# The web server (/metrics, /healthz, /readyz) listens on every interface in a container.
ENV PATH=/opt/driftline/bin:$PATH PYTHONUNBUFFERED=1 \
    DRIFTLINE_WORKER__WEB_HOST=0.0.0.0 DRIFTLINE_WORKER__WEB_PORT=6066
WORKDIR /var/lib/driftline
USER driftline:driftline
EXPOSE 6066
# Healthy once the worker joined its group and restored its windows (one-shot commands
# such as `db upgrade` and `simulate` disable it in docker-compose.yml).
HEALTHCHECK --interval=15s --timeout=3s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:6066/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["driftline"]
CMD ["worker"]
