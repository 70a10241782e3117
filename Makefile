# Every target bootstraps its own virtual environment, so each works on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(PY) -m compileall -q support_console  # an editable install gets no bytecode (pip's normal one does)
	touch $(STAMP)

run: $(STAMP)  ## start the console
	$(VENV)/bin/support-console $(ARGS)

test: $(STAMP)  ## run the test suite (in parallel, one worker per core)
	$(PY) -m pytest -q -n auto $(ARGS)

lint: $(STAMP)  ## ruff, mypy (strict on the domain) and the import-layer contract
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)  ## print the benchmark figures
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV)
