# The two commands of the README: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= results
MPI_TEST_RANKS ?= 1 2 3 4

.PHONY: demo test lint unit mpi-tests boundscheck smoke bench bench-check bench-compare validate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# a public series with nine core counts, shown apart in the demo report as reference data
DEMO_REFERENCE := benchmarks/validation/vlasiator_mahti_strong_light.csv
DEMO_REFERENCE_SOURCE := "fmihpc/vlasiator, scaling/202506_CSC_Mahti/strong/timings_light.dat @de616ea (CSC Mahti, 2-200 nodes)"

# the main job on the embedded defaults: every workload at 1 and 2 ranks, the analysis,
# pushed into the KPI store; the machine probed (2 ranks, quick sizes); the report, with every
# phase predicted at 10x-500x on that machine model beside the measured phases; the prediction
demo: $(STAMP)
	@id=demo-$$(date -u +%Y%m%dT%H%M%S); \
	$(BIN)/harness sweep jobs/demo.toml --local --out $(OUT) --sweep-id $$id && \
	$(BIN)/harness analyze $(OUT)/$$id && \
	$(BIN)/harness kpi push $(OUT)/$$id --store sqlite:///$(OUT)/kpi.sqlite && \
	$(BIN)/harness kpi show --store sqlite:///$(OUT)/kpi.sqlite && \
	echo "records and analysis input: $(OUT)/$$id/; KPI store: $(OUT)/kpi.sqlite" && \
	$(BIN)/harness probe --ranks 2 --quick --out $(OUT)/probe && \
	$(BIN)/harness report $(OUT)/$$id -o $(OUT)/$$id/report \
	  --reference $(DEMO_REFERENCE) --reference-source $(DEMO_REFERENCE_SOURCE) \
	  --machine $(OUT)/probe/machine.toml && \
	$(BIN)/harness predict $(OUT)/$$id --machine $(OUT)/probe/machine.toml

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
	@echo "== tests/mpi/test_fea_mpi.py at 8 ranks (a 2x2x2 grid; oversubscribed: correctness only)"
	$(BIN)/mpiexec -n 8 $(PY) -m pytest tests/mpi/test_fea_mpi.py -q -p no:cacheprovider --timeout=300

# the kernels again with Numba's bounds checking on (its own cache: other machine code)
KERNEL_TESTS := $(wildcard tests/unit/test_kernel_*.py) tests/unit/test_calibrate.py
boundscheck: $(STAMP)
	NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=$(VENV)/numba-boundscheck \
	  $(PY) -m pytest $(KERNEL_TESTS) -q -p no:cacheprovider
	NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=$(VENV)/numba-boundscheck \
	  $(BIN)/mpiexec -n 2 $(PY) -m pytest tests/mpi -q -p no:cacheprovider --timeout=300

smoke: $(STAMP)
	$(BIN)/harness smoke --out $$(mktemp -d)

test: lint unit mpi-tests boundscheck smoke

# benchmarks: always completes, saves pytest-benchmark JSON under .benchmarks/ and prints the
# table of targets; `make bench-check` judges the newest saved run (exit 1 listing misses);
# `make bench-compare BASE=0001` runs again and fails on a median 10 % slower than saved run 0001
BENCH_ARGS ?=
bench: $(STAMP)
	-$(PY) -m pytest benchmarks --benchmark-only -q -p no:cacheprovider \
	  --benchmark-save=bench $(BENCH_ARGS)
	$(PY) benchmarks/bench_check.py --report

bench-check: $(STAMP)
	$(PY) benchmarks/bench_check.py

bench-compare: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-only -q -p no:cacheprovider --benchmark-save=bench \
	  --benchmark-compare=$(BASE) --benchmark-compare-fail=median:10% $(BENCH_ARGS)

# hold-out validation on public scaling series, beside Extra-P (installed here: the `peer`
# extra's numpy pin would downgrade numpy, so Extra-P goes in without its dependencies)
validate: $(STAMP)
	$(PY) -m pip install --quiet --no-deps 'extrap>=4.2' && \
	  $(PY) -m pip install --quiet 'marshmallow~=3.7' 'tqdm>=4.47' 'matplotlib>=3.6' || \
	  echo "Extra-P could not be installed: the table shows the harness alone"
	$(PY) benchmarks/validate.py $(if $(RECORDS),--records $(RECORDS)) \
	  $(if $(MACHINE),--machine $(MACHINE))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .benchmarks
