# mtdl-kit — two commands for a fresh machine:
#   make dashboard   start the Streamlit dashboard on http://127.0.0.1:8501 (bundled defaults)
#   make test        run the whole test suite (unit, notebooks, AppTest, real browser)
# Both bootstrap .venv (Python 3.11) from requirements.txt, the lock (pyproject.toml declares the
# ranges a `pip install mtdl-kit` accepts); re-installs only when it changes. The dashboard and lab
# targets call the cross-platform `mtdl-kit dashboard` / `mtdl-kit lab` commands.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-$(shell cat requirements.txt requirements-e2e.txt pyproject.toml | sha256sum | cut -c1-16)
PORT ?= 8501

.PHONY: lecture crossover venv test test-fast screenshots dashboard lab site student notebooks samples gallery bench quality zoo lint format clean chromium

venv: $(STAMP)

$(STAMP): requirements.txt requirements-e2e.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 (e.g. apt-get install python3.11-venv) or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo ">> installing pinned packages into $(VENV) (first time: ~2 min, ~2 GB; torch is pinned with monai in one pip call)"
	@$(PY) -m pip install --no-cache-dir --progress-bar on -r requirements.txt -r requirements-e2e.txt
	@echo ">> installing mtdl-kit itself (editable)"
	@$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(PY) -m pip check
	@rm -f $(VENV)/.stamp-*
	@touch $@

# Debian chromium for the browser tests (Playwright drives it; never `playwright install`).
chromium:
	@command -v chromium >/dev/null || { \
	  echo ">> installing Debian chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: venv chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

screenshots: venv chromium
	MTDL_KIT_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/dashboard/test_browser.py

test-fast: venv
	$(PY) -m pytest -q -m "not slow and not browser"

dashboard: venv
	$(VENV)/bin/mtdl-kit dashboard --port $(PORT)

# JupyterLab on notebooks/ in place (adds --allow-root as root)
lab: venv
	$(VENV)/bin/mtdl-kit lab

# the lessons executed in QUICK mode and rendered as a static site in build/site/ (offline; fails on a
# notebook error or a broken internal link); open build/site/index.html
site: venv
	$(PY) scripts/build_site.py --out build/site

student: venv
	$(PY) scripts/make_student.py

# the lessons are edited as notebooks/<lesson>.py (jupytext percent format) or in JupyterLab; this brings
# each .py/.ipynb pair in sync (the newer file wins; outputs stay out; cell ids are kept)
notebooks: venv
	$(VENV)/bin/jupytext --sync notebooks/*.ipynb notebooks/*.py

samples: venv
	$(VENV)/bin/mtdl-kit samples

gallery: venv
	$(VENV)/bin/mtdl-kit gallery --out docs/gallery.png

bench: venv
	$(PY) benchmarks/bench_regions.py
	$(PY) benchmarks/bench_models.py
	$(PY) benchmarks/bench_weighting.py
	$(PY) benchmarks/bench_dashboard.py
	$(PY) benchmarks/bench_zoo.py
	$(PY) benchmarks/bench_notebooks.py
	$(PY) benchmarks/bench_bad_inputs.py

# the results table behind the notebooks' claims (long: see benchmarks/RESULTS.md; QUICK=1 for a smoke run)
quality: venv
	$(PY) benchmarks/bench_quality.py $(if $(QUICK),--quick,)

# re-train the pretrained zoo into data_samples/weights/ with the lab recipe (about 5 h of training on a 2-core CPU; resumable)
zoo: venv
	$(VENV)/bin/mtdl-kit zoo train

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build

# a class of 30 simulated students against the real `streamlit run` server (about 40 min; RESULTS.md "lecture")
lecture: venv
	$(PY) benchmarks/bench_lecture.py

# the transfer lab's relatedness crossover, eye and chest, headline + fresh seeds (hours on 2 cores; resumable)
crossover: venv
	$(PY) benchmarks/bench_crossover.py --cache .cache/transfer
