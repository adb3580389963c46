# Two entry points that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MINUTES ?= 3

.PHONY: demo serve test test-deps setup data lint clean

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

# What the tests use beyond the venv: Fashion-MNIST, WordNet and Debian's Chromium (the browser
# test). Installed where this user can (root with apt-get); otherwise one line says what the
# missing piece skips and how to get it. Never fails: the tests that need it skip themselves.
test-deps:
	@missing=""; \
	[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ -n "$$KNOWGEN_DATA" ] || missing="$$missing dataset-fashion-mnist"; \
	[ -f /usr/share/wordnet/data.noun ] || missing="$$missing wordnet-base"; \
	[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing="$$missing chromium chromium-driver"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing (apt-get)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing >/dev/null 2>&1 || \
		(apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing >/dev/null 2>&1) || \
		echo "warning: apt-get could not install$$missing; the tests that need them are skipped"; \
	elif [ -n "$$missing" ]; then \
		echo "note: missing$$missing; the tests that need them are skipped (get them with: sudo apt-get install -y$$missing)"; \
	fi

# The kernel sets of the other x86-64 CPU kinds, emulated on this machine: ATen's portable loops,
# and an AVX2-only machine (ATen, oneDNN and MKL each capped at AVX2). The tests marked
# machine_sensitive (tolerances on float arithmetic) run again under each.
KERNEL_SETS := "ATEN_CPU_CAPABILITY=default" \
	"ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2"

# The whole suite on this machine's own kernels (its 15 slowest tests listed at the end), then the
# machine-sensitive tests under the other kernel sets, then the wall times.
test: setup test-deps
	@start=$$(date +%s); rc=0; \
	$(BIN)/python -m pytest --durations=15 --durations-min=1 || rc=$$?; \
	main=$$(( $$(date +%s) - start )); \
	for kernels in $(KERNEL_SETS); do \
		echo "== machine-sensitive tests under $$kernels"; \
		env $$kernels $(BIN)/python -m pytest -q -m "machine_sensitive and not slow" || rc=$$?; \
	done; \
	echo "make test: whole suite $${main} s, under the other kernel sets $$(( $$(date +%s) - start - main )) s, exit $$rc"; \
	exit $$rc

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) runs .pytest_cache
