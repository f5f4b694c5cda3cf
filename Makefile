# The two commands of the README: `make run` and `make test`. Both build the virtualenv first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean system-packages

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP) system-packages
	$(VENV)/bin/signoff dev

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

system-packages:
	@bash devstack/install-system-packages.sh

test: lint system-packages
	$(VENV)/bin/pytest --durations=25

bench: $(STAMP)
	$(VENV)/bin/python bench/approval_throughput.py

clean:
	rm -rf $(VENV) .signoff .pytest_cache .mypy_cache .ruff_cache
