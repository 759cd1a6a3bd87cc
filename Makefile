# Set-up and entry points. Every target installs what it needs into .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
STREAMLABELS_DATA ?= $(abspath ../shared/datasets)
export STREAMLABELS_DATA

.PHONY: install demo test test-all docs docs-figures skmf-env

$(VENV)/.installed: pyproject.toml setup.py
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

# The docs site, in build/docs/index.html. Strict: any warning (a broken link or reference, a
# docstring reST error) fails it; -E re-reads every page, so none hides in a cached one.
# tests/test_docs.py runs the same build.
DOCS_OUT ?= build/docs
docs: install
	$(PY) -m sphinx -W --keep-going -E -q -b html docs $(DOCS_OUT)
	@echo "docs: $(DOCS_OUT)/index.html"

# The notebooks' figures the docs show, stored in docs/figures/ from a run of each notebook.
docs-figures: install
	$(PY) -m pytest -q tests/test_notebooks.py -k runs_and_draws --write-figures

# scikit-multiflow 0.5.3 in an interpreter of its own (the main install never depends on it):
# old numpy/scipy pins, and its shipped C sources regenerated with cython<3 for Python 3.11.
SKMF_VENV ?= .skmf-venv
SKMF_BUILD := $(SKMF_VENV)/build

$(SKMF_VENV)/.installed:
	python3 -m venv $(SKMF_VENV)
	$(SKMF_VENV)/bin/python -m pip install -q numpy==1.23.5 scipy==1.10.1 scikit-learn==1.2.2 \
		"pandas<2.1" "matplotlib<3.8" "contourpy<1.2" "cython<3" "setuptools<70" wheel
	rm -rf $(SKMF_BUILD) && mkdir -p $(SKMF_BUILD)
	$(SKMF_VENV)/bin/python -m pip download -q --no-deps --no-binary :all: \
		scikit-multiflow==0.5.3 -d $(SKMF_BUILD)
	tar -xzf $(SKMF_BUILD)/scikit-multiflow-0.5.3.tar.gz -C $(SKMF_BUILD)
	find $(SKMF_BUILD)/scikit-multiflow-0.5.3/src -name '*.c' -delete
	cd $(SKMF_BUILD)/scikit-multiflow-0.5.3/src/skmultiflow/metrics && \
		$(abspath $(SKMF_VENV))/bin/cython -3 *.pyx
	cd $(SKMF_BUILD)/scikit-multiflow-0.5.3 && \
		$(abspath $(SKMF_VENV))/bin/python -m pip install -q --no-build-isolation .
	rm -rf $(SKMF_BUILD)
	$(SKMF_VENV)/bin/python -c "import skmultiflow; print('scikit-multiflow', skmultiflow.__version__)"
	touch $@

skmf-env: $(SKMF_VENV)/.installed
