# Keel — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_PACKAGES := libs/keel-proto libs/keel-runtime libs/keel-devstack \
	services/identity services/ledger services/items services/billing

.DEFAULT_GOAL := help

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock $(addsuffix /pyproject.toml,$(LOCAL_PACKAGES))
	@echo "==> installing into $(VENV) (pinned by requirements.lock; the first time takes a few minutes)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(BIN)/python -m pip install --disable-pip-version-check --progress-bar off \
		-r requirements.lock | $(PYTHON) tools/install_progress.py requirements.lock
	@$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
		$(addprefix -e ,$(LOCAL_PACKAGES))
	@touch $@

install: $(STAMP) ## Create .venv and install everything pinned (idempotent)

gen: install ## Regenerate Python code and the gateway descriptor set from protos/
	@$(BIN)/python tools/gen.py

check-gen: gen ## Fail if regenerating changes, adds or removes any committed file
	@if [ -n "$$(git status --porcelain -- libs/keel-proto)" ]; then \
		git status --short -- libs/keel-proto | head -20; \
		echo "generated code is stale: run 'make gen' and commit"; exit 1; fi

lint: gen ## buf lint + buf format check + ruff check + ruff format check (mypy: make typecheck)
	@$(BIN)/buf lint
	@$(BIN)/buf format -d --exit-code
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

typecheck: install ## mypy --strict on our code (generated code excluded)
	@$(BIN)/mypy libs/keel-runtime/src libs/keel-devstack/src services/*/src

breaking: gen ## buf breaking (FILE) vs main (docs/contracts.md), never before protos/BREAKING_BASELINE; AGAINST=<ref>
	@$(BIN)/python tools/breaking.py $(if $(AGAINST),--against "$(AGAINST)")

fmt: install ## Format protos and Python
	@$(BIN)/buf format -w
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

run: gen ## Start the whole mesh locally (embedded PostgreSQL, Redis, NATS, Envoy); Ctrl-C stops it
	@$(BIN)/python -m keel_devstack run $(RUN_ARGS)

test: gen ## Run unit, integration and end-to-end tests against an embedded stack
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: gen ## Only the unit tests (no servers; seconds): `-m unit`
	@$(BIN)/python -m pytest -m unit -q $(PYTEST_ARGS)

faults: gen ## Fault suite: kills, freezes and outages under load; fails on any loss or double effect
	@KEEL_FAULTS=1 $(BIN)/python -m pytest tests/faults -m faults -p no:cacheprovider $(PYTEST_ARGS)

env: install ## Print a running stack's addresses as shell exports (eval the output)
	@$(BIN)/python -m keel_devstack env

demo: install ## Walk the sign-up/login/event slice against a running `make run`
	@$(BIN)/python -m keel_devstack.demo

traces: install ## Print a request's trace from `make run`'s spans as a tree (ID=<request or trace id>)
	@$(BIN)/python -m keel_runtime.traces --dir var/traces $(if $(ID),show "$(ID)" --wait 5,list)

bench: gen ## Benchmarks P1-P7 through the servers (QUICK=1: a smoke run; BENCH_ARGS=--only mesh)
	@$(BIN)/python -m keel_devstack.bench $(if $(QUICK),--quick) $(BENCH_ARGS)

lock: ## Re-pin requirements.lock from the current .venv
	@{ echo "# Pinned runtime, dev and embedded-server dependencies (pip freeze of a clean install)."; \
	   echo "# Regenerate with: make lock"; \
	   $(BIN)/python -m pip freeze --all --exclude-editable | grep -v -E '^(pip)=='; } > requirements.lock

clean: ## Remove the virtualenv, build output and local state
	rm -rf $(VENV) build var gateway/build

.PHONY: help install gen check-gen lint typecheck breaking fmt run test faults env demo traces bench lock clean
