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

# The restart fault test (6-7 minutes, most of it waiting out its outages) runs in a pytest
# session of its own beside the rest; each session has its own PostgreSQL database, dev servers
# and ports, so the suite takes about as long as the longer of the two, not their sum.
BESIDE := tests/faults/test_restarts.py

test: lint system-packages
	@log=$$(mktemp); \
	$(VENV)/bin/pytest --durations=5 $(BESIDE) > $$log 2>&1 & beside=$$!; \
	$(VENV)/bin/pytest --durations=25 --ignore=$(BESIDE); rest=$$?; \
	wait $$beside; beside_rc=$$?; \
	echo "=== $(BESIDE), run beside the rest (exit $$beside_rc) ==="; cat $$log; rm -f $$log; \
	test $$rest -eq 0 && test $$beside_rc -eq 0

bench: $(STAMP)
	$(VENV)/bin/python bench/approval_throughput.py

clean:
	rm -rf $(VENV) .signoff .pytest_cache .mypy_cache .ruff_cache
