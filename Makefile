# `make test` installs everything the tests need (Debian packages included), builds the docs
# site and runs the tests.
# `.ci/run` calls exactly this, so CI proves the README's quick start.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := prometheus iputils-ping systemd systemd-container prometheus-alertmanager chromium libatomic1 faketime postgresql prometheus-blackbox-exporter

.PHONY: test deps lint docs unit

test: deps lint docs unit

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test,docs]'

lint:
	$(PYTHON) -m ruff check agent tests tools
	$(PYTHON) -m mypy

# The documentation site: a broken link, a missing anchor or a page left out of the nav fails
# (not --quiet: it hides the warnings --strict counts).
docs:
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --site-dir build/site

unit:
	$(PYTHON) -m pytest -q
