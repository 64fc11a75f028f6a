# The two commands of the README: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= results
MPI_TEST_RANKS ?= 1 2 3 4

.PHONY: demo test lint unit mpi-tests smoke bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/harness run cfd --ranks 1 --size small --out $(OUT) --sweep-id demo
	$(BIN)/harness run cfd --ranks 2 --size small --out $(OUT) --sweep-id demo
	@echo "records: $(OUT)/demo/"

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(PY) -m pytest tests/unit tests/cli tests/integration -q --timeout=600

# tests/mpi run inside mpiexec; their assertions hold at any rank count
mpi-tests: $(STAMP)
	@for n in $(MPI_TEST_RANKS); do \
	  echo "== tests/mpi at $$n ranks"; \
	  $(BIN)/mpiexec -n $$n $(PY) -m pytest tests/mpi -q -p no:cacheprovider --timeout=300 \
	    || exit 1; \
	done

smoke: $(STAMP)
	$(BIN)/harness smoke --out $$(mktemp -d)

test: lint unit mpi-tests smoke

bench: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-only -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .benchmarks
