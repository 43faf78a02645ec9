# BlueDock Portal — the two commands: `make run` and `make test`.
# The distribution's CPython when it is 3.11+ with venv (Debian builds it optimised, PGO and LTO,
# into a static executable; a plain source build such as pyenv's default runs the scheduling
# engine 8-10 % slower: benchmark B2), else the first python3 on PATH.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 	2>/dev/null && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HELM := .cache/tools/helm

.PHONY: run test bench test-deps clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $(STAMP)

## Start the portal on its embedded defaults (SQLite, local Redis, web + worker + beat).
run: $(STAMP) $(HELM)
	$(BIN)/python scripts/run.py

## The pinned helm binary the app store runs (lint, template, push); see scripts/install-helm.sh.
$(HELM): scripts/install-helm.sh
	bash scripts/install-helm.sh

## System packages and tools the suite drives for real (Keystone, chromium, the OIDC provider).
test-deps:
	bash scripts/install-test-deps.sh

## The whole suite against real PostgreSQL and Redis, plus ruff, migrations, import-linter, OpenAPI.
test: $(STAMP) test-deps
	$(BIN)/python scripts/test.py $(ARGS)

## Performance figures (ratios against baselines measured in the same run).
bench: $(STAMP) $(HELM)
	$(BIN)/python scripts/bench.py $(ARGS)

clean:
	rm -rf var .cache
