# The course's commands. Every target creates/updates .venv first, so a fresh clone needs nothing else.
# venv, lab, update and notebook-filter come from course/lab.mk (the student edition ships the same file).
include course/lab.mk

.PHONY: build widget-latency check-build lint format notebooks test test-fast chromium grade release publish student-edition \
	collect feedback export bench site clean

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

## make test: lint, then the whole suite (installs what it needs, chromium included): the quick tests on up to 4
## processes (pytest-xdist), then the slow and browser tests one at a time (they time sandboxes and redraws, and
## grade on all cores themselves).
# pytest's exit code 5 means "no tests collected": a half that selects nothing is fine, both halves is an error.
PYTEST = $(PY) -m pytest -q -p no:cacheprovider
QUICK = -m "not slow and not browser" -n auto --maxprocesses 4
test: venv chromium lint
	@$(PYTEST) $(QUICK) $(PYTEST_ARGS); quick=$$?; \
	if [ $$quick != 0 ] && [ $$quick != 5 ]; then exit $$quick; fi; \
	$(PYTEST) -m "slow or browser" $(PYTEST_ARGS); slow=$$?; \
	if [ $$quick = 5 ] && [ $$slow = 5 ]; then echo "error: pytest collected no tests" >&2; exit 5; fi; \
	if [ $$slow = 5 ]; then exit 0; fi; exit $$slow

## make test-fast: lint and everything except the slow tests (sandboxed grading, builds, notebooks, browser)
test-fast: venv lint
	@$(PYTEST) $(QUICK) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc = 5 ]; then echo "error: pytest collected no tests" >&2; fi; exit $$rc

## make grade [A=NN]: autograde the collected submissions of topic NN (all topics without A) on the hidden cases,
## after the canary; only those not yet graded as they are now (GRADE_ARGS=--force regrades all); feedback + CSV
## (WORK=DIR: a term's own submitted/, autograded/, gradebook.db instead of autograder/)
ASSIGNMENT_ARG = $(if $(A),--assignment $(A),--all)
WORK_ARG = $(if $(WORK),--work "$(WORK)",)
grade: venv
	$(PY) -m autograder $(WORK_ARG) autograde $(ASSIGNMENT_ARG) $(GRADE_ARGS)
	$(PY) -m autograder $(WORK_ARG) feedback $(ASSIGNMENT_ARG)
	$(PY) -m autograder $(WORK_ARG) export $(ASSIGNMENT_ARG)

## make release A=NN: add topic NN to the student edition in EDITION (every topic without A): a git repository
## (committed; `make publish` pushes it for nbgitpuller) and EDITION.zip (for an LMS). See docs/INSTRUCTORS.md.
EDITION ?= $(abspath $(CURDIR)/../$(notdir $(CURDIR))-student-edition)
release: venv
	$(PY) -m autograder release --student-edition "$(EDITION)" $(if $(A),--assignment $(A),) $(RELEASE_ARGS)

publish: venv
	git -C "$(EDITION)" push origin main

## make student-edition OUT=DIR [TOPICS="01 04"]: an edition of exactly these topics (default: all) in DIR + DIR.zip
student-edition: venv
	@[ -n "$(OUT)" ] || { echo "usage: make student-edition OUT=DIR [TOPICS=\"01 04\"]" >&2; exit 2; }
	$(PY) -m autograder release --student-edition "$(OUT)" $(if $(TOPICS),--topics "$(TOPICS)",) $(RELEASE_ARGS)

## make collect FROM=<LMS zip or folder> A=NN [LMS=canvas|moodle|blackboard|folder] [ROSTER=<LMS export>]
## / feedback / export [FORMAT=canvas|moodle|blackboard|csv]: the other grading steps (docs/LMS.md)
collect: venv
	$(PY) -m autograder $(WORK_ARG) collect "$(FROM)" --assignment $(A) $(if $(LMS),--lms $(LMS)) \
	  $(if $(ROSTER),--roster "$(ROSTER)")

feedback: venv
	$(PY) -m autograder $(WORK_ARG) feedback $(ASSIGNMENT_ARG)

export: venv
	$(PY) -m autograder $(WORK_ARG) export $(ASSIGNMENT_ARG) $(if $(FORMAT),--format $(FORMAT))

## make bench: reference deepkit vs torch ratios, notebook times, grading throughput per topic (plain serial
## nbgrader vs ours on a local Dask cluster of 1 and 2 workers, CPU per submission, projections for 300 / 10,000
## submissions, the goal of issue 17; bench/grading.py, also `python -m autograder bench`) and widget latency
## -> bench/results/ (BENCH_ARGS="--quick" for a smoke run, "--no-notebooks", "--grading-topics 01,09",
## "--students 6", "--run-notebook", "--no-widgets"; see python -m bench -h)
bench: venv
	$(PY) -m bench $(BENCH_ARGS)

## make widget-latency: every explorer's input-to-image latency in chromium while a spinning process keeps one
## core busy (issue 17's condition), written to bench/results/widget_latency.json (make bench prints it)
widget-latency: venv chromium
	UPDATE_RESULTS=1 LATENCY_BUSY_CORE=1 $(PYTEST) tests/test_browser.py -k lecture_runs $(PYTEST_ARGS)

## make site: every lecture executed and rendered to HTML in site/ (open site/index.html)
site: venv
	$(PY) -m tools.site $(SITE_ARGS)

clean:
	rm -rf site autograder/submitted autograder/autograded autograder/feedback autograder/staging autograder/exports autograder/gradebook.db \
	  autograder/collected autograder/students.json
