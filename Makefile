# DIEF Exchange: `make run` starts the whole suite locally, `make test` proves it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-failover lint slapd gnupg chromium axe-core vendor-graphiql console-messages clean

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

## chromium: Debian's browser for the GraphiQL test (driven by Playwright), only when absent
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian package chromium"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

## axe-core: the accessibility engine the console's browser tests run in chromium, from its
## npm package into build/axe-core/ (a scratch folder, not committed; needs npm once)
AXE_VERSION := 4.14.1
AXE := build/axe-core/axe-$(AXE_VERSION).min.js
axe-core: $(AXE)
$(AXE):
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed once to fetch axe-core $(AXE_VERSION)"; exit 1; }
	@tmp=$$(mktemp -d) && cd $$tmp && \
		npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && \
		tar -xzf axe-core-$(AXE_VERSION).tgz package/axe.min.js package/LICENSE && \
		cd - >/dev/null && mkdir -p build/axe-core && \
		cp $$tmp/package/LICENSE build/axe-core/LICENSE && \
		cp $$tmp/package/axe.min.js $(AXE) && rm -rf $$tmp && \
		echo "axe-core $(AXE_VERSION) in $(AXE)"

## console-messages: the console's texts extracted, and the fr/es catalogues updated
console-messages: install
	$(BIN)/pybabel extract -F console/babel.cfg --no-location --sort-output \
		-o console/translations/messages.pot .
	$(BIN)/pybabel update -i console/translations/messages.pot -d console/translations \
		--no-fuzzy-matching --ignore-obsolete --no-wrap

## vendor-graphiql: refresh the committed GraphiQL assets from their npm packages (needs
## npm and the registry; the gateway serves the committed files and needs neither)
GRAPHIQL_DIR := gateway/static/graphiql
vendor-graphiql:
	@tmp=$$(mktemp -d) && cd $$tmp && \
		npm pack --silent graphiql@3.8.3 react@18.3.1 react-dom@18.3.1 >/dev/null && \
		for f in *.tgz; do mkdir "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}"; done && \
		cd - >/dev/null && \
		cp $$tmp/graphiql-3.8.3/package/graphiql.min.js $$tmp/graphiql-3.8.3/package/graphiql.min.css $(GRAPHIQL_DIR)/ && \
		cp $$tmp/graphiql-3.8.3/package/LICENSE $(GRAPHIQL_DIR)/LICENSE.graphiql && \
		cp $$tmp/react-18.3.1/package/umd/react.production.min.js $(GRAPHIQL_DIR)/ && \
		cp $$tmp/react-18.3.1/package/LICENSE $(GRAPHIQL_DIR)/LICENSE.react && \
		cp $$tmp/react-dom-18.3.1/package/umd/react-dom.production.min.js $(GRAPHIQL_DIR)/ && \
		cp $$tmp/react-dom-18.3.1/package/LICENSE $(GRAPHIQL_DIR)/LICENSE.react-dom && \
		rm -rf $$tmp && echo "vendored GraphiQL 3.8.3 and React 18.3.1 into $(GRAPHIQL_DIR)"

## test: installs what the tests need, then runs them against real servers, the test files
## shared out between PYTEST_WORKERS processes (each file whole in one: its servers start once)
PYTEST_WORKERS ?= 2
test: install slapd gnupg chromium axe-core
	$(BIN)/ruff check services gateway console tests examples
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## test-failover: only the test that kills a replica and the NATS stream leader under load (part of `make test`)
test-failover: install
	$(BIN)/pytest -m failover tests/test_failover.py

lint: install
	$(BIN)/ruff check services gateway console tests examples
	$(BIN)/ruff format --check services gateway console tests examples

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
