# corpus-tools: `make demo` runs the whole chain on the bundled sample; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Label Studio runs from its own virtualenv (it pins pyarrow<25 and an exact SDK); cached outside the clone.
LS_VERSION ?= 1.23.2
# The cache folder is corpus_tools.files.cache_root's: $CORPUS_TOOLS_CACHE, else $XDG_CACHE_HOME/corpus-tools.
CACHE_ROOT := $(or $(CORPUS_TOOLS_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/corpus-tools)
LS_VENV ?= $(CACHE_ROOT)/ls-venv-$(LS_VERSION)
export LS_BIN ?= $(LS_VENV)/bin/label-studio
PYTEST_ARGS ?=

.PHONY: venv test test-fast lint docs docs-screenshots demo ls-venv clean

$(BIN)/corpus-tools: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

venv: $(BIN)/corpus-tools

# Installs label-studio==$(LS_VERSION) into $(LS_VENV) unless it is there (checked by version, under a lock).
ls-venv: venv
	LS_BIN=$(LS_BIN) $(BIN)/corpus-tools ls install

lint: venv
	$(BIN)/ruff check corpus_tools tests bench
	$(BIN)/lint-imports

docs: venv
	$(BIN)/python -m corpus_tools.cli.docgen

# Screenshot of the labeling screen from a throw-away Label Studio driven by the system Chromium.
docs-screenshots: venv ls-venv
	$(BIN)/python tests/screenshots.py --out docs/img/labeling.png

test: venv ls-venv lint
	$(BIN)/python -m pytest --basetemp=.pytest-tmp -p no:cacheprovider $(PYTEST_ARGS)

test-fast: venv lint
	$(BIN)/python -m pytest --basetemp=.pytest-tmp -p no:cacheprovider -m "not labelstudio and not browser and not hub and not slow" $(PYTEST_ARGS)

# KEEP=1 leaves Label Studio running and prints its URL and login.
demo: venv ls-venv
	$(BIN)/corpus-tools demo $(if $(KEEP),--keep)

clean:
	rm -rf .pytest-tmp build dist *.egg-info
