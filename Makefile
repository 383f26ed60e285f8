# invlatent — set-up, demo, tests, lint and benchmarks. Everything lives in .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint format bench samples clean browser-deps reproduce

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile torch==2.13.0
	$(BIN)/pip install --quiet --no-compile -e '.[all]'
	@# e2cnn for the regular-field recipe's test (skipped without it): pure Python, kept only if
	@# it installs beside the pins
	-$(BIN)/pip install --quiet --no-compile e2cnn==0.2.3
	@# pip compiles on one core; this uses them all (files Python cannot parse are skipped)
	-$(BIN)/python -m compileall -qq -j 0 $(VENV)/lib
	touch $(STAMP)

demo: install
	PATH=$(abspath $(BIN)):$$PATH bash scripts/demo.sh

# chromium's download and unpacking overlap the Python install
test:
	@$(MAKE) --no-print-directory -j2 install browser-deps
	$(BIN)/python -m pytest -q -n 2

test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

lint: install
	$(BIN)/ruff check invlatent tests bench scripts
	$(BIN)/ruff format --check invlatent tests bench scripts
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix invlatent tests bench scripts
	$(BIN)/ruff format invlatent tests bench scripts

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Debian's chromium for tests/test_browser.py (the report page in a headless browser): installed
# when running as root with apt, otherwise a note; never fails (the browser tests then skip).
browser-deps:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  || echo "browser-deps: apt could not install chromium; browser tests will skip"; \
	else echo "browser-deps: no chromium and no root apt; browser tests will skip"; fi

# docs/results.md: every claim with mean ± std over 3 seeds, its 95 % interval and the paired test's
# verdict (scripts/reproduce.py): 25-50 minutes on 2 cores, most of it training the QM9 VAE
reproduce: install
	nice -n 10 $(BIN)/python scripts/reproduce.py

samples: install
	$(BIN)/python scripts/make_samples.py sample_latents

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
