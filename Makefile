# Two entry points: `make demo` (the simulated operando demo) and `make test` (the test suite).
# Each creates .venv with Python 3.11+ and installs what it needs.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
THIRD_PARTY := .venv-labmcp
THIRD_PARTY_STAMP := $(THIRD_PARTY)/.installed

.PHONY: demo test paper lint format benchmark ioc clean system-libs test-libs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# labmcp-palmsens (a third-party MethodSCRIPT driver and simulator the tests hold ours
# against) lives in a venv of its own: its MCP stack installs httpx2, which starlette's test
# client then prefers, and tiled's in-process catalog breaks.
$(THIRD_PARTY_STAMP):
	$(PYTHON) -m venv $(THIRD_PARTY)
	$(THIRD_PARTY)/bin/python -m pip install --quiet "labmcp-palmsens==0.1.3"
	touch $(THIRD_PARTY_STAMP)

system-libs:
	@bash scripts/ensure-system-libs.sh

test-libs:
	@bash scripts/ensure-system-libs.sh test

demo: $(STAMP) system-libs
	$(BIN)/stxm-operando demo

paper: $(STAMP) system-libs
	QT_QPA_PLATFORM=offscreen $(BIN)/stxm-operando paper

test: $(STAMP) $(THIRD_PARTY_STAMP) test-libs
	@start=$$(date +%s); QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest; status=$$?; \
	echo "make test: the suite took $$(( $$(date +%s) - start )) s"; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check stxm_operando tests benchmarks tools
	$(BIN)/ruff format --check stxm_operando tests benchmarks tools

format: $(STAMP)
	$(BIN)/ruff format stxm_operando tests benchmarks tools
	$(BIN)/ruff check --fix stxm_operando tests benchmarks tools

benchmark: $(STAMP)
	for bench in benchmarks/bench_*.py; do $(BIN)/python $$bench || exit 1; done

ioc: $(STAMP)
	$(BIN)/stxm-operando ioc

clean:
	rm -rf $(VENV) $(THIRD_PARTY) demo-output paper-output .pytest_cache
