"""Whole demo nights against a loopback fake of each LLM server family (issue 11).

The fakes (tests/fakes/llm_families.py) act as llama.cpp's, vLLM's, Ollama's and OpenAI's
OpenAI-compatible servers are documented (and, for llama.cpp, measured) to act: what they accept,
how they refuse, how fast and how serially they answer, what a small model makes of a request.

Acceptance for every family, as issue 11 states it:
- every story of the night is queued with text (no blank draft, whatever the LLM did);
- the structured-output mode chosen for the endpoint is remembered in the database, and it is a
  mode in which the server constrains the reply with our schema;
- a rerun of the night makes 0 LLM calls.

Tests marked xfail(strict=True) fail on the drafting code of their time for the reason given;
remove the marker when the fix lands (strict: an unexpected pass fails the suite, so it gets noticed).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import httpx2
import openai
import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from newsdesk.cli import app
from newsdesk.demo import SAMPLE_DAY, demo_sources, serve_sample_day
from storage.db import Database
from storage.models import LLMCall, Setting
from tests.fakes.llm_families import (
    FamilyServer,
    LlamaCppServer,
    LlamaServerCpp,
    OllamaServer,
    OpenAIServer,
    VLLMServer,
    strict_schema_problem,
)
from tests.fakes.small_model import SmallModel, read_prompt

PROBE_MARK = "newsdesk capability probe"  # how capability probes introduce themselves (summarizer.capabilities)


def _is_probe(rec) -> bool:
    return rec.text("system").startswith(PROBE_MARK)


# --- the fakes themselves, as documented ------------------------------------------------------


SCHEMA = {
    "type": "object",
    "properties": {
        "headline": {"type": "string"},
        "summary": {"type": "array", "minItems": 2, "maxItems": 3, "items": {
            "type": "object",
            "properties": {"text": {"type": "string"},
                           "source": {"type": "integer", "minimum": 1, "maximum": 2}},
            "required": ["text", "source"], "additionalProperties": False}},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["Models", "Funding", "Policy"]}},
    },
    "required": ["headline", "summary", "tags"],
    "additionalProperties": False,
}
MESSAGES = [
    {"role": "system", "content": "You are a news editor. Reply with JSON."},
    {"role": "user", "content": (
        "Write a short story from these sources.\n"
        '<doc id="a-17" title="Acme ships Foo 2">Acme released Foo 2 on Monday with 40 billion parameters. '
        "It costs $2 per million tokens.</doc>\n"
        '<doc id="b-4" title="Foo 2 reviewed">Analysts at Bar said Foo 2 will pressure prices. '
        "Acme plans a smaller version in March.</doc>")},
]


def _client(server: FamilyServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0, timeout=10)


def _ask(server: FamilyServer, **kw: Any):
    return _client(server).chat.completions.create(model=server.model, messages=MESSAGES, max_tokens=400, **kw)


def _json_schema(strict: bool = True) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "story", "schema": SCHEMA, "strict": strict}}


def test_small_model_fills_a_schema_from_the_sources() -> None:
    reply = json.loads(SmallModel().reply(MESSAGES, "schema", SCHEMA))
    assert set(reply) == {"headline", "summary", "tags"}
    assert reply["headline"] == "Acme ships Foo 2"
    assert 2 <= len(reply["summary"]) <= 3 and all(1 <= s["source"] <= 2 for s in reply["summary"])
    source_text = MESSAGES[1]["content"]
    assert all(s["text"] in source_text for s in reply["summary"]), "sentences come from the sources"
    assert set(reply["tags"]) <= {"Models", "Funding", "Policy"}
    assert [s.label for s in read_prompt(MESSAGES).segments] == ["a-17", "b-4"]


def test_a_sloppy_model_miscopies_free_ids_but_obeys_an_enum() -> None:
    free = {"type": "object", "properties": {"text": {"type": "string"}, "source_ids": {
        "type": "array", "items": {"type": "string"}}}, "required": ["text", "source_ids"]}
    exact = json.loads(SmallModel().reply(MESSAGES, "schema", free))
    sloppy = json.loads(SmallModel(sloppy=True).reply(MESSAGES, "schema", free))
    assert exact["source_ids"] == ["a-17"]
    assert sloppy["source_ids"] != ["a-17"] and "note" in sloppy, "miscopied id and an extra key"
    enum = json.loads(json.dumps(free).replace('"items": {"type": "string"}',
                                               '"items": {"type": "string", "enum": ["a-17", "b-4"]}'))
    assert json.loads(SmallModel(sloppy=True).reply(MESSAGES, "schema", enum))["source_ids"] == ["a-17"]
    text = SmallModel(sloppy=True).reply(MESSAGES, "text")
    assert text.startswith("Sure!") and "```json" in text


def test_llama_cpp_family_refuses_json_schema_with_500_and_honours_a_schema_in_json_object() -> None:
    with LlamaCppServer() as server:
        with pytest.raises(openai.InternalServerError) as refused:
            _ask(server, response_format=_json_schema())
        assert "json_object" in str(refused.value.body) and refused.value.body.get("type") == "internal_server_error"
        constrained = _ask(server, response_format={"type": "json_object", "schema": SCHEMA})
        assert set(json.loads(constrained.choices[0].message.content)) == {"headline", "summary", "tags"}
        loose = json.loads(_ask(server, response_format={"type": "json_object"}).choices[0].message.content)
        assert set(loose) != {"headline", "summary", "tags"}, "a small model's own shape without a schema"
        assert [r.constraint for r in server.chat_requests] == [None, "schema", "json"]
        models = _client(server).models.list().model_dump()["data"][0]
        assert "meta" not in models and "max_model_len" not in models, "no context size in /v1/models"


def test_llama_cpp_family_is_serial_and_slow() -> None:
    import concurrent.futures as cf

    with LlamaCppServer(latency=0.2) as server, cf.ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: _ask(server, response_format={"type": "json_object", "schema": SCHEMA}), range(3)))
        assert server.max_in_flight == 1
        first = min(r.started for r in server.chat_requests)
        assert max(r.finished for r in server.chat_requests) - first >= 0.6, "three 0.2 s replies, one by one"


def test_cpp_llama_server_takes_json_schema_and_tells_its_context() -> None:
    with LlamaServerCpp(n_ctx=4096) as server:
        _ask(server, response_format=_json_schema())
        assert server.chat_requests[-1].constraint == "schema"
        assert _client(server).models.list().model_dump()["data"][0]["meta"]["n_ctx_train"] == 8192
        props = httpx2.get(server.base_url.removesuffix("/v1") + "/props").json()
        assert props["default_generation_settings"]["n_ctx"] == 4096


def test_vllm_family_constrains_json_schema_and_guided_json_and_refuses_overlong_requests() -> None:
    with VLLMServer(max_model_len=2048) as server:
        assert _client(server).models.list().model_dump()["data"][0]["max_model_len"] == 2048
        _ask(server, response_format=_json_schema())
        _ask(server, extra_body={"guided_json": SCHEMA})
        _ask(server, response_format={"type": "json_object", "schema": SCHEMA})
        assert [r.constraint for r in server.chat_requests] == ["schema", "schema", "json"]
        with pytest.raises(openai.BadRequestError) as too_long:
            _client(server).chat.completions.create(model=server.model, messages=MESSAGES, max_tokens=4000)
        assert "maximum context length is 2048 tokens" in too_long.value.message
        assert too_long.value.body["type"] == "BadRequestError"


def test_ollama_family_ignores_a_schema_inside_json_object_and_cuts_long_prompts_silently() -> None:
    with OllamaServer(num_ctx=256) as server:
        _ask(server, response_format={"type": "json_object", "schema": SCHEMA})
        _ask(server, response_format=_json_schema())
        assert [r.constraint for r in server.chat_requests] == ["json", "schema"]
        long = [MESSAGES[0], {"role": "user", "content": MESSAGES[1]["content"] + " filler" * 2000}]
        reply = _client(server).chat.completions.create(model=server.model, messages=long)
        assert reply.usage.prompt_tokens < 256 < server.chat_requests[-1].sent_tokens, \
            "the prompt was cut to num_ctx without an error"
        show = _client(server).post("/../api/show", body={"model": server.model}, cast_to=object)
        assert show["model_info"]["llama.context_length"] == 8192


def test_openai_family_checks_strict_schemas_and_reports_cached_tokens() -> None:
    loose = {**SCHEMA, "additionalProperties": True}
    assert "'additionalProperties' is required" in strict_schema_problem(loose)
    partial = {**SCHEMA, "required": ["headline"]}
    assert "Missing 'summary'" in strict_schema_problem(partial)
    with OpenAIServer() as server:
        with pytest.raises(openai.BadRequestError) as refused:
            _ask(server, response_format={"type": "json_schema",
                                          "json_schema": {"name": "story", "schema": loose, "strict": True}})
        assert refused.value.body["param"] == "response_format"
        _ask(server, response_format=_json_schema())
        long = [MESSAGES[0], {"role": "user", "content": MESSAGES[1]["content"] + " background" * 1500}]
        client = _client(server)
        first = client.chat.completions.create(model=server.model, messages=long)
        again = client.chat.completions.create(model=server.model, messages=long)
        assert first.usage.prompt_tokens_details.cached_tokens == 0
        assert again.usage.prompt_tokens_details.cached_tokens >= 1024
        server.inject("rate_limit")
        with pytest.raises(openai.RateLimitError) as limited:
            _ask(server)
        assert limited.value.response.headers["retry-after-ms"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0).models.list()


def test_injected_failures_time_out_truncate_and_disconnect() -> None:
    with VLLMServer(hang_seconds=5) as server:
        server.inject("timeout", "truncated", "disconnect")
        fast = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.5)
        with pytest.raises(openai.APITimeoutError):
            fast.chat.completions.create(model=server.model, messages=MESSAGES)
        cut = _ask(server, response_format=_json_schema())
        assert cut.choices[0].finish_reason == "length"
        with pytest.raises(openai.APIConnectionError):
            _ask(server)


# --- whole nights -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_server() -> Iterator[str]:
    with serve_sample_day() as base_url:
        yield base_url


def _night_env(tmp_path: Path, base_url: str, server: FamilyServer, **extra: str) -> dict[str, str]:
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": demo_sources(base_url)}), encoding="utf-8")
    db = Database(f"sqlite:///{tmp_path / 'newsdesk.db'}")
    db.migrate()
    db.dispose()
    return {
        "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
        "NEWSDESK_DATABASE_URL": db.url,
        "NEWSDESK_SOURCES": str(sources),
        "NEWSDESK_ALLOW_PRIVATE_HOSTS": "1",
        "NEWSDESK_MAX_STORIES": "12",
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": server.base_url,
        "NEWSDESK_MODEL": server.model,
        **extra,
    }


def _cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"newsdesk {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.output


def remembered_mode(db_url: str, base_url: str, model: str) -> str | None:
    """The structured-output mode newsdesk stored for this endpoint (its capability record), or None."""
    from summarizer.capabilities import settings_key

    db = Database(db_url)
    with db.session() as s:
        row = s.get(Setting, settings_key(base_url, model))
        caps = dict(row.value) if row is not None else {}
    db.dispose()
    return caps.get("mode")


def _call_errors(db_url: str) -> list[str]:
    db = Database(db_url)
    with db.session() as s:
        errors = [c.error for c in s.scalars(select(LLMCall).where(LLMCall.status == "error")) if c.error]
    db.dispose()
    return errors


def _blank_stories(env: dict[str, str]) -> tuple[int, list[str]]:
    """How many stories the night queued, and why each one without draft text has none."""
    stories = json.loads(_cli(env, "review", "list", "--day", SAMPLE_DAY, "--json"))["stories"]
    blank = []
    for row in stories:
        shown = json.loads(_cli(env, "review", "show", str(row["id"]), "--json"))
        text = " ".join(s.get("text", "") for s in shown.get("summary") or [])
        if not text.strip() or not (shown["row"].get("headline") or "").strip():
            blank.append(f"#{row['id']}: {shown['row'].get('error')}")
    return len(stories), blank


def _assert_night(env: dict[str, str], server: FamilyServer) -> None:
    """Issue 11's acceptance for one family: text for every story, a remembered mode that the server
    honours with our schema, no request abandoned or cut, and a free rerun."""
    _cli(env, "run", "--day", SAMPLE_DAY)
    queued, blank = _blank_stories(env)
    assert queued >= 8, f"the demo day should queue about a dozen stories, got {queued}"
    assert not blank, f"{len(blank)} of {queued} stories queued without draft text: {blank[:3]}"

    mode = remembered_mode(env["NEWSDESK_DATABASE_URL"], server.base_url, server.model)
    assert mode is not None, "no structured-output mode remembered for the endpoint"
    drafting = [r for r in server.chat_requests if r.status == 200 and not _is_probe(r)]
    assert drafting, "no drafting request was answered"
    unconstrained = [r for r in drafting if r.constraint != "schema"]
    assert not unconstrained, (f"{len(unconstrained)} of {len(drafting)} drafting requests were not constrained "
                               f"by a schema on the server (remembered mode {mode!r})")
    abandoned = [r for r in server.chat_requests if r.client_gone]
    assert not abandoned, f"{len(abandoned)} requests were abandoned by the client before the server answered"
    refused = [r.error for r in server.chat_requests if r.kind == "context"]
    assert not refused, f"{len(refused)} requests did not fit the model's context: {refused[0]}"
    cut = [r for r in server.chat_requests
           if r.sent_tokens + int(r.body.get("max_completion_tokens") or r.body.get("max_tokens") or 0)
           > server.context_tokens]
    assert not cut, f"{len(cut)} requests asked for more than the {server.context_tokens}-token context"

    calls = len(server.chat_requests)
    _cli(env, "run", "--day", SAMPLE_DAY)
    assert len(server.chat_requests) == calls, f"a rerun made {len(server.chat_requests) - calls} LLM calls"


def _about(words: str):
    return lambda rec: words in rec.text("user")


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_night_on_a_serial_slow_llama_cpp_server(tmp_path: Path, sample_server: str) -> None:
    # Each reply takes about 0.4 s and the server answers one request at a time; the client gives
    # up after 1.5 s. Four requests at once would leave the last one waiting past its timeout.
    with LlamaCppServer(latency=0.3, per_output_token=0.0002) as server:
        env = _night_env(tmp_path, sample_server, server, NEWSDESK_LLM_TIMEOUT="1.5")
        _assert_night(env, server)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_night_on_vllm_with_a_sloppy_small_model(tmp_path: Path, sample_server: str) -> None:
    with VLLMServer(sloppy=True, max_model_len=8192) as server:
        _assert_night(_night_env(tmp_path, sample_server, server), server)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_night_on_ollama_with_its_default_context(tmp_path: Path, sample_server: str) -> None:
    # Ollama's /v1 cannot be told num_ctx and /api/show reports the trained length (8192), not the
    # 4096 tokens it serves: the user says so with NEWSDESK_CONTEXT_TOKENS.
    with OllamaServer(sloppy=True, num_ctx=4096) as server:
        env = _night_env(tmp_path, sample_server, server, NEWSDESK_CONTEXT_TOKENS=str(server.num_ctx))
        _assert_night(env, server)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_night_on_openai_with_a_rate_limit_and_a_story_that_always_fails(tmp_path: Path, sample_server: str) -> None:
    with OpenAIServer() as server:
        server.inject("rate_limit")  # honoured through retry-after-ms, costs nothing but a retry
        server.inject("server_error", when=_about("Kestrel Cloud"), times=None)
        _assert_night(_night_env(tmp_path, sample_server, server), server)
