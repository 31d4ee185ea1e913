# Two commands on a fresh machine (README): `make demo` and `make test`.
# Both create the local virtualenv .venv from setup.py on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2
# Unbuffered, so that pytest's closing line stays after TF's start-up messages on stderr.
export PYTHONUNBUFFERED := 1

.PHONY: demo test install clean

$(VENV)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m slnl_tf.train --config=demo
	@echo "classifying three raw files with the export (true class: synthetic class N-1 for AN in the name):"
	$(PY) -m slnl_tf.predict --export_dir=runs/demo/export/slnl_rfa/1 --top_k=2 \
	  $$(ls runs/demo/data/raw/*.skeleton | sed -n '1p;400p;800p')

# --dist loadgroup: the tests marked with one xdist_group run in one worker, which builds
# their shared session fixture once (tests/conftest.py).
test: $(VENV)/.installed
	$(PY) -m pytest -n 2 --dist loadgroup -q tests

clean:
	rm -rf $(VENV) *.egg-info
