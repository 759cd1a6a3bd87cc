# Set-up and entry points. Every target installs what it needs into .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
STREAMLABELS_DATA ?= $(abspath ../shared/datasets)
export STREAMLABELS_DATA

.PHONY: install demo test test-all

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/streamlabels replay

test: install
	$(PY) -m pytest -q -m "not slow"

test-all: install
	$(PY) -m pytest -q
