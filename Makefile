# The course's commands. Every target creates/updates .venv first, so a fresh clone needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
PORT ?= 8888

.PHONY: venv lab build check-build lint format notebooks test test-fast chromium grade release collect feedback export bench site clean

## make venv: .venv with the pinned requirements (reinstalled when requirements.txt changes)
venv: $(STAMP)
$(STAMP): requirements.txt
	@if [ ! -x $(PY) ]; then \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	    echo "error: the pinned requirements need Python 3.11; run e.g. make PYTHON=python3.11 venv" >&2; exit 1; }; \
	  $(PYTHON) -m venv $(VENV) || { echo "error: cannot create $(VENV) (Debian: apt-get install python3-venv)" >&2; exit 1; }; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check $(PIP_ARGS) -r requirements.txt
	@rm -f $(VENV)/.installed-*; touch $@

## make lab: open the course in JupyterLab on the landing page (LAB_ARGS=--no-browser on a server)
LAB_ARGS ?=
lab: venv
	JUPYTER_CONFIG_PATH="$(CURDIR)/autograder" $(VENV)/bin/jupyter lab --port=$(PORT) --ServerApp.root_dir="$(CURDIR)" \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS) START_HERE.ipynb

## make build: regenerate lib/deepkit stubs and exercises/ from solutions/
build: venv
	$(PY) -m tools.build

## make check-build: fail if the committed generated tree differs from a fresh build
check-build: venv
	$(PY) -m tools.build --check

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## make lint: ruff (lint + format check) over the tree, notebooks through their jupytext twins
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## make format: apply ruff's fixes and formatting, then carry the twins' changes into the notebooks
format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	$(MAKE) notebooks

## make notebooks: sync every notebook with its jupytext text twin (the newer of the two wins)
NOTEBOOK_TWINS = START_HERE.py $(wildcard lectures/[0-9]*.py) $(wildcard solutions/*/*.py)
notebooks: venv
	@for f in $(NOTEBOOK_TWINS); do $(VENV)/bin/jupytext --quiet --sync "$$f" || exit 1; done

## make test: lint, then the whole suite (installs what it needs, chromium included)
# pytest's exit code 5 means "no tests collected": it fails the target like any other non-zero code.
PYTEST = $(PY) -m pytest -q -p no:cacheprovider
test: venv chromium lint
	@$(PYTEST) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc = 5 ]; then echo "error: pytest collected no tests" >&2; fi; exit $$rc

## make test-fast: lint and everything except the slow tests (sandboxed grading, builds, notebooks, browser)
test-fast: venv lint
	@$(PYTEST) -m "not slow and not browser" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc = 5 ]; then echo "error: pytest collected no tests" >&2; fi; exit $$rc

## make grade: autograde every submission in autograder/submitted/ (sandboxed, parallel), then feedback + CSV
grade: venv
	$(PY) -m autograder autograde --all
	$(PY) -m autograder feedback --all
	$(PY) -m autograder export --all

## make release / collect FROM=<LMS zip or folder> A=NN [LMS=canvas|moodle|blackboard|folder] [ROSTER=<LMS export>]
## / feedback / export [FORMAT=canvas|moodle|blackboard|csv]: the other grading steps (docs/LMS.md)
release: venv
	$(PY) -m autograder release

collect: venv
	$(PY) -m autograder collect "$(FROM)" --assignment $(A) $(if $(LMS),--lms $(LMS)) $(if $(ROSTER),--roster "$(ROSTER)")

feedback: venv
	$(PY) -m autograder feedback --all

export: venv
	$(PY) -m autograder export --all $(if $(FORMAT),--format $(FORMAT))

## make bench: reference deepkit vs torch ratios, notebook times, grading throughput per topic (plain serial
## nbgrader vs ours on a local Dask cluster of 1 and 2 workers, projections for 300 / 10,000 submissions) and
## widget latency -> bench/results/ (BENCH_ARGS="--quick" for a smoke run, "--no-notebooks",
## "--grading-topics 01,09", "--students 6", "--no-widgets"; see python -m bench -h)
bench: venv
	$(PY) -m bench $(BENCH_ARGS)

## make site: every lecture executed and rendered to HTML in site/ (open site/index.html)
site: venv
	$(PY) -m tools.site $(SITE_ARGS)

clean:
	rm -rf site autograder/submitted autograder/autograded autograder/feedback autograder/staging autograder/exports autograder/gradebook.db \
	  autograder/collected autograder/students.json
