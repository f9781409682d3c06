# Kutamo Identity: one command to run the system, one to test it. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
RUN_DIR ?= .run
STACK := $(PY) -m kutamo_dev --run-dir $(RUN_DIR)
PACKAGES := contracts kit services/identity services/provisioning dev
STAMP := $(VENV)/.installed
# The lock tool (uv; README "Dependencies" says why), in a venv of its own so `make lock` needs neither .venv nor a
# lock file that already installs.
UV_VERSION := 0.13.8
UV := .cache/uv-$(UV_VERSION)/bin/uv
COMPILE := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock"

.PHONY: help install browser infra-up infra-down run stop demo test fuzz bench schemas lint typecheck lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv: the development lock (hash-checked), then the project's packages editable

$(STAMP): requirements/dev.lock $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(addprefix -e ,$(PACKAGES))
	touch $@

infra-up: install ## Start PostgreSQL, Kafka and the Microsoft emulator (reuses what is already up)
	$(STACK) up

infra-down: install ## Stop what infra-up started
	$(STACK) down

run: install ## Bring the whole system up: infrastructure and both services; Ctrl-C stops it
	$(STACK) run

stop: install ## Stop everything `make run` started
	$(STACK) down

demo: install ## One demo sign-in against the running system; prints the provisioned user
	$(STACK) demo

test: install browser ## Start the real servers (reusing running ones), run every test, stop what was started
	$(STACK) test -- $(PYTEST_ARGS)

browser: tests/browser/node_modules/.installed ## Debian's Chromium (apt-get; needs root) and axe-core (npm) for the browser tests
	@command -v chromium >/dev/null || { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q chromium; }; }

tests/browser/node_modules/.installed: tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --silent
	touch $@

fuzz: install ## A longer schemathesis run against the identity API (FUZZ_MAX_EXAMPLES, default 300)
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-300} $(STACK) test -- tests/e2e/identity/test_openapi_fuzz.py -q

bench: install ## Run the benchmarks (BENCH="name ..." for some); results in bench/results/, summary in docs/benchmarks.md
	$(STACK) up >/dev/null
	KUTAMO_RUN_DIR=$(RUN_DIR) $(PY) -m bench $(BENCH)

schemas: install ## Regenerate the published JSON Schema and AsyncAPI documents from contracts/ (refuses breaking changes)
	$(PY) -m kutamo_contracts.documents

lint: install ## ruff
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

typecheck: install ## mypy --strict on contracts and services
	$(VENV)/bin/mypy

lock: $(UV) ## Compile requirements/{runtime,dev}.lock (hashes) from the .in files; pins kept unless LOCK_ARGS=--upgrade
	@! grep -ls '^<<<<<<<\|^>>>>>>>' requirements/*.lock || { echo 'a lock has merge conflict markers: take either side (git checkout --theirs requirements/<name>.lock), then make lock' >&2; exit 1; }
	$(COMPILE) $(LOCK_ARGS) --output-file requirements/runtime.lock requirements/runtime.in
	$(COMPILE) $(LOCK_ARGS) --constraint requirements/runtime.lock --output-file requirements/dev.lock requirements/dev.in

$(UV):
	rm -rf .cache/uv-$(UV_VERSION) && $(PYTHON) -m venv .cache/uv-$(UV_VERSION)
	.cache/uv-$(UV_VERSION)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

clean: infra-down ## Stop everything and remove the run folder and the venv
	rm -rf $(RUN_DIR) $(VENV)
