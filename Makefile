# The course's commands. Every target creates/updates .venv first, so a fresh clone needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
PORT ?= 8888

.PHONY: venv lab build check-build test test-fast chromium grade bench site clean

venv: $(STAMP)
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*; touch $@

## make lab: open the course in JupyterLab on the landing page
lab: venv
	$(VENV)/bin/jupyter lab --port=$(PORT) START_HERE.ipynb

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

## make test: the whole suite (installs what it needs, chromium included)
test: venv chromium
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: venv
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow and not browser"

## make grade: autograde every submission in autograder/submitted/ (see README, instructor guide)
grade: venv
	$(PY) -m autograder autograde --all

## make bench: reference deepkit vs torch ratios, notebook times, grading throughput
bench: venv
	$(PY) -m bench

## make site: executed lectures rendered to HTML in site/
site: venv
	$(PY) -m tools.site

clean:
	rm -rf site autograder/submitted autograder/autograded autograder/feedback autograder/staging autograder/gradebook.db
