# DIEF Exchange: `make run` starts the whole suite locally, `make test` proves it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint slapd chromium console-messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: embedded MongoDB-wire server, NATS with JetStream and every service; Ctrl-C stops all
run: install
	$(BIN)/dief run

## slapd: OpenLDAP for the LDAP tests, installed from Debian only when absent
slapd:
	@if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then \
		echo "installing OpenLDAP slapd (Debian packages slapd, ldap-utils)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq slapd ldap-utils >/dev/null; \
	fi

## chromium: Debian's chromium for the console's browser tests, installed only when absent
## (Playwright drives it through its executable path; no browser is ever downloaded)
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

## console-messages: the console's texts extracted, and the fr/es catalogues updated
console-messages: install
	$(BIN)/pybabel extract -F console/babel.cfg --no-location --sort-output \
		-o console/translations/messages.pot .
	$(BIN)/pybabel update -i console/translations/messages.pot -d console/translations \
		--no-location --no-fuzzy-matching

## test: installs what the tests need, then runs them against real servers
test: install slapd chromium
	$(BIN)/ruff check services gateway console tests examples
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check services gateway console tests examples
	$(BIN)/ruff format --check services gateway console tests examples

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
