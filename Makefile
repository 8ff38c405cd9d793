# DIEF Exchange: `make run` starts the whole suite locally, `make test` proves it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint slapd gnupg clean

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

## gnupg: GnuPG for the encrypted notices, installed from Debian only when absent
gnupg:
	@if ! command -v gpg >/dev/null 2>&1 || ! command -v gpgconf >/dev/null 2>&1; then \
		echo "installing GnuPG (Debian packages gnupg, gpg-agent)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gnupg gpg-agent >/dev/null; \
	fi

## test: installs what the tests need, then runs them against real servers
test: install slapd gnupg
	$(BIN)/ruff check services gateway tests examples
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check services gateway tests examples
	$(BIN)/ruff format --check services gateway tests examples

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
