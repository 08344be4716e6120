# `make test` installs everything the tests need (Debian packages included) and runs them.
# `.ci/run` calls exactly this, so CI proves the README's quick start.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := prometheus iputils-ping systemd prometheus-alertmanager chromium libatomic1 faketime postgresql prometheus-blackbox-exporter

.PHONY: test deps lint unit

test: deps lint unit

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'

lint:
	$(PYTHON) -m ruff check agent tests
	$(PYTHON) -m mypy

unit:
	$(PYTHON) -m pytest -q
