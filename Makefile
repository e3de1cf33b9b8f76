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
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test,st]'

run: install
	$(VENV)/bin/python app.py

test: install-test
	$(VENV)/bin/python -m pytest -q
