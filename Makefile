# The two set-up commands of the README:
#   make run    create .venv, install segbench (CPU torch pinned), run the main job
#   make test   install if needed, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the real datasets live outside the project (never committed); tests read them from here
SEGBENCH_DATA_DIR ?= $(abspath ../shared/data)
export SEGBENCH_DATA_DIR
# models come from installed packages only; nothing is downloaded at run time
export HF_HUB_OFFLINE := 1
PYTEST_ARGS ?=

RAY_VENV ?= .venv-ray

.PHONY: install run test lint bench ray-env benchmark fcps-peer

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the CPU build; without the pin pip fetches a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,launchers,postgres]"
	touch $@

# The Hydra Ray launcher pins cloudpickle<3 (and so joblib<1.6): it gets an environment of its
# own, layered on .venv (a .pth file adds .venv's packages after its own), with only what Ray
# needs installed in it. tests/test_launchers.py runs it when SEGBENCH_RAY_PYTHON names it.
$(RAY_VENV)/.installed: $(VENV)/.installed
	$(PYTHON) -m venv $(RAY_VENV)
	echo "import site; site.addsitedir('$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')')" \
	  > "$$($(RAY_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/_segbench_base.pth"
	$(RAY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RAY_VENV)/bin/python -m pip install --quiet "joblib<1.6" -e ".[ray]"
	touch $@

ray-env: $(RAY_VENV)/.installed

install: $(VENV)/.installed

run: install
	$(BIN)/python -m segbench algo=gmm features=rfm+text

# two test workers on two cores: one OpenMP/BLAS thread each (oversubscribed OpenMP made
# k-means 40x slower here)
test: install
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

bench: install
	$(BIN)/python benchmarks/run_all.py

# The reference study (conf/experiment/benchmark.yaml): the selection stage first (it stores
# the Optuna studies the `tuned` condition reads), then both conditions over seeds 1-5, then
# the leaderboard; two jobs at a time
BENCH_JOBS ?= 2
benchmark: install
	$(BIN)/python -m segbench experiment=benchmark_select hydra/launcher=joblib hydra.launcher.n_jobs=$(BENCH_JOBS)
	$(BIN)/python -m segbench experiment=benchmark hydra/launcher=joblib hydra.launcher.n_jobs=$(BENCH_JOBS)
	$(BIN)/python -m segbench.leaderboard --study benchmark --out results/benchmark

# FCPS peer validation: segbench beside the published partitions (results/fcps_peer/)
# the empty MLflow store new SQLite stores are copied from (rebuild after upgrading MLflow)
store-template: install
	$(BIN)/python -c "from segbench.tracking.template import build; print(build())"

fcps-peer: install
	$(BIN)/python -m segbench.peer --out results/fcps_peer
