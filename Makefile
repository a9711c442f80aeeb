# GeoQuiz: `make run` opens the app on the demo project, `make test` runs the whole suite.
# Both create (or reuse) the virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= test,sam,mobilesam,ray,timm,clip,sam3

.PHONY: run test lint bench demo clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e ".[$(EXTRAS)]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check geoquiz ui tests bench main.py
	$(PY) -m ruff format --check geoquiz ui tests bench main.py
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m bench

demo: $(STAMP)
	$(PY) -m geoquiz.cli demo

clean-venv:
	rm -rf $(VENV)
