# Two entry points: `make run` (install + start the app) and `make test` (install + run the tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install install-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(VENV)/bin/python
	$(PIP) install --quiet -e .

# torch is pinned to the CPU build on local disk; any other version pulls several GB of CUDA.
install-test: $(VENV)/bin/python
	@# the browser tests drive Debian's headless Chromium through its chromedriver
	@if [ ! -x /usr/bin/chromedriver ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && apt-get install -y chromium chromium-driver fonts-wqy-microhei; \
		else \
			echo "chromium-driver is missing: run 'sudo apt-get install -y chromium chromium-driver' (the browser tests are skipped without it)"; \
		fi; \
	fi
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test,st]'
	$(MAKE) --no-print-directory tests/llm_server/node_modules/.installed

# The real-model test's server (tests/llm_server): npm node-llama-cpp with its prebuilt CPU binaries
# only (no optional CUDA/Vulkan builds, no install script: nothing is compiled or downloaded).
tests/llm_server/node_modules/.installed: tests/llm_server/package.json tests/llm_server/package-lock.json
	@if ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y nodejs npm; \
		else echo "node and npm are missing: run 'sudo apt-get install -y nodejs npm'"; exit 1; fi; \
	fi
	cd tests/llm_server && npm ci --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(VENV)/bin/python app.py

# The eval gate: floors a little under the dev set's measured values, so a regression fails the build.
EVAL_GATE := --fail-under hit@1=0.97 --fail-under hit@5=0.99 --fail-under facts=0.95 \
	--fail-under citation_precision=0.97 --fail-under refusal_accuracy=0.94 --fail-under false_refusal=0.03

# The retrieval tests run twice: on the embedded store, then against a real `chroma run` on 127.0.0.1
# that tests/conftest.py starts (and stops) when ASSISTANT_TEST_CHROMA_SERVER=1.
test: install-test
	$(VENV)/bin/python -m pytest -q
	ASSISTANT_TEST_CHROMA_SERVER=1 $(VENV)/bin/python -m pytest -q tests/retrieval
	$(VENV)/bin/assistant ingest
	$(VENV)/bin/assistant eval --systems assistant --out eval/out/ci $(EVAL_GATE)
