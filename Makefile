# invlatent — set-up, demo, tests, lint and benchmarks. Everything lives in .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint format bench samples clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[all]'
	touch $(STAMP)

demo: install
	PATH=$(abspath $(BIN)):$$PATH bash scripts/demo.sh

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check invlatent tests bench scripts
	$(BIN)/ruff format --check invlatent tests bench scripts

format: install
	$(BIN)/ruff check --fix invlatent tests bench scripts
	$(BIN)/ruff format invlatent tests bench scripts

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

samples: install
	$(BIN)/python scripts/make_samples.py sample_latents

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
