# neon-tenants: `make run` (the demo) and `make test` (everything CI runs).
# Every target that touches Pulumi sources scripts/env.sh: the offline engine environment.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(REPO)/.venv
PY := $(VENV)/bin/python
WITH_ENV := source $(REPO)/scripts/env.sh &&
HOST_DIR := $(REPO)/tools/pulumi-language-python
TESTS ?= $(REPO)/tests
PYTEST_ARGS ?=

.PHONY: help setup run test test-go doctor lint bench chaos

help:
	@echo "make setup   toolchain: PostgreSQL 15, .venv, Pulumi engine (scripts/bootstrap.sh)"
	@echo "make run     setup, then the demo (emulator + fleets): neon-tenants demo"
	@echo "make test    setup, then every test (engine, postgres and slow included)"
	@echo "make doctor  versions, locations, which Neon will be used"
	@echo "make lint    ruff + mypy --strict (+ go vet for the language host)"
	@echo "make bench   every benchmarks/bench_*.py, one JSON line per figure"
	@echo "make chaos   the full fault matrix; writes docs/RELIABILITY.md (CHAOS_SEED=N replays)"

setup:
	@bash $(REPO)/scripts/bootstrap.sh

run: setup
	$(WITH_ENV) $(VENV)/bin/neon-tenants demo

test: setup test-go
	$(WITH_ENV) $(PY) -m pytest $(TESTS) $(PYTEST_ARGS)

# The language host's own unit tests; it builds from the same module cache as the engine.
test-go:
	@if command -v go >/dev/null; then \
		cd $(HOST_DIR) && go test -modfile=../pulumi-build/go.mod -count=1 . ; \
	else echo "go not found: skipping the language host's Go tests"; fi

doctor:
	$(WITH_ENV) $(VENV)/bin/neon-tenants doctor

lint:
	$(VENV)/bin/ruff check $(REPO)
	$(VENV)/bin/mypy
	@if command -v go >/dev/null; then \
		cd $(HOST_DIR) && test -z "$$(gofmt -l .)" && go vet -modfile=../pulumi-build/go.mod . ; fi

bench: setup
	@cd $(REPO) && for f in benchmarks/bench_*.py; do \
		echo "== $$f"; $(WITH_ENV) $(PY) -m benchmarks.$$(basename $$f .py); done

# The fault matrix (issue 14): every fleet operation x every fault profile + kill -9, rerun,
# audit; writes docs/RELIABILITY.md with the seed and commit. The short profile runs in `make test`.
CHAOS_SEED ?=
chaos: setup
	cd $(REPO) && $(WITH_ENV) $(PY) -m neon_tenants.chaos --profile full \
		$(if $(CHAOS_SEED),--seed $(CHAOS_SEED),)
