# The two commands a new user needs (README): `make reproduce` and `make test`.
# Both create .venv on first use and install kexue with torch pinned by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
OUT ?= report
STAMP := $(VENV)/.kexue-installed

.PHONY: setup reproduce quick test lint bench clean

$(STAMP): pyproject.toml constraints.txt scripts/install_data.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c constraints.txt "torch==2.13.0"
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	bash scripts/install_data.sh $(BIN)
	touch $(STAMP)

setup: $(STAMP)

reproduce: $(STAMP)  ## set up and run every reproduction, writing $(OUT)/report.html
	$(BIN)/kexue reproduce --out $(OUT)

quick: $(STAMP)
	$(BIN)/kexue reproduce --quick --out $(OUT)-quick

test: $(STAMP)  ## set up and run the test suite
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

bench: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(OUT) $(OUT)-quick .pytest_cache .mypy_cache .ruff_cache
