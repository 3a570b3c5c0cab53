# One-command set-up, build and test. Needs only python3, make and git.
#   make book     install, validate the corpus, execute the notebooks, build the HTML book
#   make test     install, then lint and run every test (the book build included)
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORPUS ?= seeds
BOOK_HTML := _build/html
export MALI_PARTNERS_CORPUS := $(abspath $(CORPUS))

.PHONY: help install validate analyse book book-strict publish test test-fast lint lock bench bench-quick clean distclean

help:
	@echo "make book | test | validate | analyse | publish | bench-quick | bench | lint | clean"

SPEEDUPS := $(VENV)/.speedups
SPEEDUP_SOURCES := $(addprefix mali_partners/,trajectory.py actors.py text.py dating.py clean.py frequency.py gazetteer.py speedups.py)

install: $(STAMP) $(SPEEDUPS)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . || $(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# Compiled builds of the per-article modules (mali_partners/speedups.py), rebuilt when one of them changes;
# an edited module runs as Python until then. Without a C compiler this says so and the package runs as Python.
$(SPEEDUPS): $(STAMP) $(SPEEDUP_SOURCES)
	$(BIN)/python -m mali_partners.build_speedups
	@touch $@

validate: install
	$(BIN)/mali-partners validate $(CORPUS)

analyse: install validate
	$(BIN)/mali-partners analyse $(CORPUS) --out _build/tables

# Strict build: a notebook error or any Sphinx warning fails it (-W), --keep-going lists them all.
# Execution is cached (jupyter-cache in _build/.jupyter_cache): an unchanged rebuild executes nothing.
book: install validate
	$(BIN)/python -m mali_partners.bookinfo --corpus $(CORPUS) --out _build/bookinfo.json
	$(BIN)/mali-partners analyse $(CORPUS) --out _build/tables
	rm -rf $(BOOK_HTML)  # stale pages of removed files would be published otherwise; execution stays cached
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "book: open $(BOOK_HTML)/index.html"

publish: book
	$(BIN)/python -m mali_partners.publish --html $(BOOK_HTML) --site _site

lint: install
	$(BIN)/ruff check mali_partners tests benchmarks notebooks
	$(BIN)/ruff format --check mali_partners tests benchmarks notebooks

test: install book lint
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

bench-quick: install
	$(BIN)/python -m benchmarks.run --sizes 1000

bench: install
	$(BIN)/python -m benchmarks.run --sizes 1000 10000 100000

lock: install
	$(BIN)/python -m pip freeze --exclude-editable > requirements.txt.new && mv requirements.txt.new requirements.txt

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) _site
