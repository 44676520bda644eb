# The learner's commands, shared by the repository's Makefile and the student edition's (which ships this file):
#   make lab       JupyterLab on START_HERE.ipynb (the first run creates .venv and installs everything, ~1-5 min)
#   make update    new topics and fixes from the course, keeping your work (python -m course.update)
# Run them in the course folder. LAB_ARGS=--no-browser on a server (the URL it prints opens START_HERE), PORT=8899
# if 8888 is busy, VENV=/path/to/shared/venv for a shared environment (a symlink is fine).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
PORT ?= 8888
LAB_ARGS ?=
# git's view of a notebook is the notebook without its outputs (course/nbclean.py, nbstripout's rules): running a
# notebook is never a change, so it never blocks an update (the files on disk keep their outputs)
NBCLEAN = '$(abspath $(PY))' -S '$(CURDIR)/course/nbclean.py'

.PHONY: venv lab update notebook-filter

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

## make notebook-filter: git ignores notebook outputs (the .gitattributes say which notebooks); in a git checkout only
notebook-filter: venv
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git config filter.nbclean.clean "$(NBCLEAN)" && git config filter.nbclean.smudge cat && \
	  git config diff.nbclean.textconv "$(NBCLEAN)"; fi

## make lab: JupyterLab on START_HERE, no news; its terminals run the virtualenv's python (course/jupyter_server_config.py)
lab: venv notebook-filter
	PATH="$(abspath $(VENV))/bin:$$PATH" DEEPKIT_VENV="$(abspath $(VENV))" \
	JUPYTER_CONFIG_PATH="$(CURDIR)/course:$(CURDIR)/autograder" \
	  $(VENV)/bin/jupyter lab --port=$(PORT) --ServerApp.root_dir="$(CURDIR)" \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

## make update: new topics and fixes from the course's git remote; your work is committed first and wins
update: venv notebook-filter
	$(PY) -m course.update
