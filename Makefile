# The two commands of the README. Both install whatever is missing first (ci/setup.sh).
ARGS ?=

.PHONY: run test setup lint bench detection-report

setup:
	@ci/setup.sh

run: setup
	.venv/bin/tiercel run $(ARGS)

test: setup
	@ci/test-deps.sh
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy --strict src
	.venv/bin/pytest -q -ra tests

# ruff, and mypy --strict on the package (pyproject.toml [tool.mypy]).
lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy --strict src

bench: setup
	.venv/bin/python bench/live_throughput.py

# The attack and benign corpora, live, under tiercel's defaults and upstream Falco's rules (root).
detection-report: setup
	.venv/bin/python bench/detection_report.py
