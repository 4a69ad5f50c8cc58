# One command sets up and runs the demo; one sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench browser clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/newsdesk demo

# Browser tests use the system Chromium; install it where we may (root on Debian), else they skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: browser tests will be skipped"; }

test: setup browser
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m bench.collect
	$(BIN)/python -m bench.draft
	$(BIN)/python -m bench.newsletter
	$(BIN)/python -m bench.extraction ../shared/eval/article-extraction
	$(BIN)/python -m bench.clustering ../shared/eval/event-clusters/ecbplus_docs.jsonl

clean:
	rm -rf $(VENV) .pytest_cache
