# Two entry points that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MINUTES ?= 3

.PHONY: demo serve test setup data lint clean

$(BIN)/knowgen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,text,serve]'
	touch $@

setup: $(BIN)/knowgen

data:
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ -n "$$KNOWGEN_DATA" ]; then \
		echo "Fashion-MNIST present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y dataset-fashion-mnist wordnet-base >/dev/null || (apt-get update >/dev/null && apt-get install -y dataset-fashion-mnist wordnet-base >/dev/null); \
	else \
		echo "Fashion-MNIST is missing: run 'sudo apt-get install -y dataset-fashion-mnist'," \
		     "or put its four IDX files in a folder and set KNOWGEN_DATA=that/folder"; exit 1; \
	fi

# Train the default preset for a few CPU minutes; samples and metrics land in runs/demo/.
demo: setup data
	$(BIN)/knowgen train --preset dcgan --data fashion-mnist --minutes $(MINUTES) --out runs/demo --overwrite
	$(BIN)/knowgen export runs/demo
	$(BIN)/knowgen sample runs/demo/export --n 64 --out runs/demo/samples.png
	@echo "demo done: see runs/demo/samples.png, runs/demo/metrics.jsonl (knowgen info runs/demo)"

# Serve the demo model (after `make demo`): a web page and an HTTP API on http://127.0.0.1:8000/
serve: setup
	$(BIN)/knowgen serve runs/demo

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) runs .pytest_cache
