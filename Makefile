# The two commands: `make demo` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint types unit bench fuzz clean

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/synthguard demo
	$(BIN)/synthguard serve --demo

test: lint types unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench fuzz

types: $(STAMP)
	$(BIN)/mypy

# One BLAS thread per xdist worker: with a worker per core, OpenBLAS's own threads in
# each spin against the other's (the watermark tests ran twice as long).
unit: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/pytest -n 2 -q

# The watermark peers declare torch/opencv GUI wheels they do not need for what we run;
# install them without dependencies, plus the headless OpenCV and PyWavelets they use.
bench: $(STAMP)
	$(BIN)/pip install -q --no-deps invisible-watermark blind-watermark
	$(BIN)/pip install -q opencv-python-headless PyWavelets pyahocorasick flashtext2
	$(BIN)/python -m bench

fuzz: $(STAMP)
	$(BIN)/python -m fuzz $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
