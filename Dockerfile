# syntax=docker/dockerfile:1
# The agent in a small image: `docker build -t outage-cost-agent .`
#   docker run -v /etc/outage-agent:/etc/outage-agent:ro -v outage-ledger:/var/lib/outage-agent \
#     -p 127.0.0.1:9321:9321 outage-cost-agent            # the daemon on /etc/outage-agent/config.yaml
#   docker run -p 127.0.0.1:9321:9321 outage-cost-agent demo --listen 0.0.0.0:9321
# deploy/docker-compose.yml runs the demo with Prometheus, Alertmanager and Grafana.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY agent ./agent
# Wheels for the agent and everything it needs; the final stage installs them offline.
RUN pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="Outage Cost Agent" \
      org.opencontainers.image.description="Availability probes and the live cost of outages, for Prometheus" \
      org.opencontainers.image.source="https://github.com/outage-cost-agent/outage-cost-agent" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STATE_DIRECTORY=/var/lib/outage-agent
# Offline, from the wheels just built: nothing to pin here beyond pyproject.toml.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --disable-pip-version-check --no-index --find-links=/wheels \
        outage-cost-agent \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/outage-agent \
        --shell /usr/sbin/nologin outage \
 && install -d -o outage -g outage -m 0750 /var/lib/outage-agent \
 && install -d -m 0755 /etc/outage-agent
# The ledger (a relative agent.ledger resolves against $STATE_DIRECTORY) outlives the container.
VOLUME ["/var/lib/outage-agent"]
WORKDIR /var/lib/outage-agent
USER 10001:10001
EXPOSE 9321
# /healthz answers 200 once the ledger is open and 503 while ledger writes fail. The check
# assumes port 9321: change it too if you change --listen.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9321/healthz', timeout=4)"]
ENTRYPOINT ["outage-agent"]
CMD ["run", "-c", "/etc/outage-agent/config.yaml", "--listen", "0.0.0.0:9321"]
