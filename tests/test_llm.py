"""LLMClient against a real local HTTP server speaking the OpenAI chat API."""
from __future__ import annotations

import json

import pytest

from summarizer.budget import Budget
from summarizer.llm import (
    LLMBudgetReached,
    LLMClient,
    LLMInvalidOutput,
    LLMRefused,
    LLMRejected,
    LLMSettings,
    LLMTruncated,
    LLMUnavailable,
    cost_usd,
    extract_json,
    price_for,
    strict_json_schema,
)
from summarizer.capabilities import Capabilities, probe
from summarizer.drafting import DraftReply
from summarizer.models import CallRecord, StoryDraft
from fakes import FakeOpenAI, Reply  # tests/ is on sys.path under pytest

PROMPT = [
    {"role": "system", "content": "You write drafts. Reply with JSON."},
    {"role": "user", "content": 'Story.\n<sources>\n<source n="1" outlet="Wire">\nTitle: Acme ships a model\n'
     "Acme released a new open model with 7 billion parameters on Monday. It beats last year's model.\n"
     "</source>\n</sources>"},
]
PRICES = {"fake-model": (1.0, 2.0, 0.5)}


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def settings_for(server: FakeOpenAI, **overrides) -> LLMSettings:
    values = dict(model=server.model, base_url=server.base_url, api_key="test-key", max_retries=2,
                  reask_attempts=2, prices=PRICES, timeout=10.0)
    values.update(overrides)
    return LLMSettings(**values)


async def generate(llm: LLMClient, records: list[CallRecord] | None = None, **kw) -> DraftReply:
    return await llm.generate(PROMPT, DraftReply, prompt_version="test.v1", records=records, **kw)


async def test_schema_valid_json_is_parsed_and_recorded():
    with FakeOpenAI(cached_tokens=40) as fake:
        records: list[CallRecord] = []
        async with LLMClient(settings_for(fake)) as llm:
            draft = await generate(llm, records)
        assert draft.summary[0].sources == [1]
        assert draft.summary[0].text.startswith("Acme released a new open model")
        assert len(fake.chat_calls) == 1
        body = fake.chat_calls[0].body
        assert body["response_format"]["type"] == "json_schema"
        schema = body["response_format"]["json_schema"]
        assert schema["strict"] is True and schema["schema"]["additionalProperties"] is False
        (rec,) = records
        assert rec.status == "ok" and rec.mode == "json_schema" and rec.prompt_version == "test.v1"
        assert rec.input_tokens > 0 and rec.output_tokens > 0 and rec.cached_tokens == 40
        expected = ((rec.input_tokens - 40) * 1.0 + 40 * 0.5 + rec.output_tokens * 2.0) / 1e6
        assert rec.cost_usd == pytest.approx(expected)
        assert "Acme released" in rec.request_text and '"headline"' in rec.response_text
        assert fake.chat_calls[0].headers.get("authorization") == "Bearer test-key"


async def test_invalid_json_is_reasked_then_accepted(fake):
    fake.script(["invalid_json"])
    records: list[CallRecord] = []
    async with LLMClient(settings_for(fake)) as llm:
        draft = await generate(llm, records)
    assert draft.headline == "Acme ships a model"
    assert [r.status for r in records] == ["error", "ok"]
    assert "invalid JSON" in (records[0].error or "")
    second = fake.chat_calls[1].messages
    assert second[-2]["role"] == "assistant" and "Here is the draft" in second[-2]["content"]
    assert "could not be used" in second[-1]["content"]


async def test_invalid_output_gives_up_after_the_reask_limit(fake):
    fake.script(["invalid_json", "bad_schema", "invalid_json", "good"])
    records: list[CallRecord] = []
    async with LLMClient(settings_for(fake, reask_attempts=2)) as llm:
        with pytest.raises(LLMInvalidOutput):
            await generate(llm, records)
    assert len(fake.chat_calls) == 3
    assert all(r.status == "error" for r in records) and len(records) == 3


async def test_truncated_output_raises_truncated(fake):
    fake.script(["truncated"] * 3)
    records: list[CallRecord] = []
    async with LLMClient(settings_for(fake)) as llm:
        with pytest.raises(LLMTruncated):
            await generate(llm, records)
    assert all("finish_reason=length" in (r.error or "") for r in records)
    assert "cut off" in fake.chat_calls[1].messages[-1]["content"]


async def test_truncated_once_then_complete(fake):
    fake.script(["truncated"])
    async with LLMClient(settings_for(fake)) as llm:
        draft = await generate(llm)
    assert draft.summary and len(fake.chat_calls) == 2


async def test_refusal_is_not_reasked(fake):
    fake.script(["refusal"])
    records: list[CallRecord] = []
    async with LLMClient(settings_for(fake)) as llm:
        with pytest.raises(LLMRefused) as err:
            await generate(llm, records)
    assert "refused" in err.value.reason
    assert len(fake.chat_calls) == 1 and records[0].status == "error"


async def test_rate_limit_then_success_is_retried_by_the_sdk(fake):
    fake.script([Reply("rate_limit", retry_after=0.05), "good"])
    records: list[CallRecord] = []
    async with LLMClient(settings_for(fake)) as llm:
        draft = await generate(llm, records)
    assert draft.summary
    assert [c.status for c in fake.chat_calls] == [429, 200]
    assert len(records) == 1 and records[0].status == "ok"


async def test_persistent_server_errors_raise_unavailable(fake):
    fake.script(["server_error"] * 5)
    records: list[CallRecord] = []
    async with LLMClient(settings_for(fake, max_retries=1)) as llm:
        with pytest.raises(LLMUnavailable) as err:
            await generate(llm, records)
    assert "HTTP 500" in err.value.reason
    assert len(fake.chat_calls) == 2  # first try + one SDK retry
    assert records[0].status == "error" and "HTTP 500" in (records[0].error or "")


async def test_json_schema_unsupported_is_probed_and_json_object_with_schema_used_and_remembered():
    with FakeOpenAI(supports_json_schema=False) as fake:
        async with LLMClient(settings_for(fake)) as llm:
            records: list[CallRecord] = []
            await generate(llm, records)
            caps = llm.capabilities
            assert caps is not None and caps.mode == "json_object_schema" and llm.changed
            assert "json_schema not supported: HTTP 400" in caps.modes["json_schema"]
            assert [c.mode for c in fake.probe_calls][:2] == ["json_schema", "json_object_schema"]
            assert [c.mode for c in fake.chat_calls] == ["json_object_schema"]
            assert [r.status for r in records] == ["ok"] and records[0].mode == "json_object_schema"
            assert all(r.purpose == "probe" for r in llm.probe_records)
            # the schema travels inside json_object; the prompt gets only its outline (the server enforces it)
            assert fake.chat_calls[0].body["response_format"]["schema"]["additionalProperties"] is False
            assert "shape: {headline, summary: [{text, sources: [], paragraph_break}]" in fake.chat_calls[0].text("system")
            assert '"additionalProperties"' not in fake.chat_calls[0].text("system")
        probes = len(fake.probe_calls)
        # remembered capabilities mean a new client never probes again
        async with LLMClient(settings_for(fake), capabilities=Capabilities.from_dict(caps.to_dict())) as llm2:
            await generate(llm2)
            assert not llm2.changed
        assert len(fake.probe_calls) == probes and fake.chat_calls[-1].mode == "json_object_schema"


async def test_falls_back_to_plain_text_when_no_json_mode_is_supported():
    with FakeOpenAI(supports_json_schema=False, supports_json_object=False) as fake:
        async with LLMClient(settings_for(fake)) as llm:
            draft = await generate(llm)
            assert llm.mode == "text"
        assert [c.mode for c in fake.probe_calls][:4] == ["json_schema", "json_object_schema", "json_object", "text"]
        assert [c.mode for c in fake.chat_calls] == ["text"]
        assert '"additionalProperties": false' in fake.chat_calls[0].text("system")  # unenforced: the whole schema
        assert draft.summary[0].sources == [1]


async def test_a_500_that_names_the_format_downgrades_mid_night_and_a_bare_500_does_not(fake):
    """llama.cpp answers json_schema with HTTP 500: the message, not the status, shows the mode is unsupported."""
    remembered = Capabilities(base_url=fake.base_url, model=fake.model, mode="json_schema", parallel=True)
    fake.script(["format_500"])
    async with LLMClient(settings_for(fake, max_retries=0), capabilities=remembered) as llm:
        await generate(llm)
        assert llm.mode == "json_object_schema" and llm.changed
        assert "HTTP 500" in llm.capabilities.modes["json_schema"]
    assert [c.mode for c in fake.chat_calls] == ["json_schema", "json_object_schema"]
    assert fake.probe_calls and "json_schema" not in [c.mode for c in fake.probe_calls]  # not probed again

    fake.reset()
    remembered = Capabilities(base_url=fake.base_url, model=fake.model, mode="json_schema", parallel=True)
    fake.script(["server_error"])
    async with LLMClient(settings_for(fake, max_retries=0), capabilities=remembered) as llm:
        with pytest.raises(LLMUnavailable):
            await generate(llm)
        assert llm.mode == "json_schema" and not llm.changed


async def test_replies_that_ignore_a_json_mode_twice_move_to_the_next_mode(fake):
    remembered = Capabilities(base_url=fake.base_url, model=fake.model, mode="json_schema", parallel=True)
    fake.script([Reply("good", content="Sure, here is a lovely summary of the story."),
                 Reply("good", content="Acme did a thing. Another sentence without JSON.")])
    async with LLMClient(settings_for(fake), capabilities=remembered) as llm:
        draft = await generate(llm)
        assert draft.summary and llm.mode == "json_object_schema"
        assert "ignored the format" in llm.capabilities.modes["json_schema"]


async def test_unrelated_bad_request_is_not_a_mode_fallback(fake):
    fake.script(["bad_request"])
    async with LLMClient(settings_for(fake)) as llm:
        with pytest.raises(LLMRejected):
            await generate(llm)
        assert llm.mode == "json_schema"
    assert len(fake.chat_calls) == 1


async def test_probe_measures_modes_usage_context_speed_and_parallelism():
    with FakeOpenAI(context_length=8192, latency=0.05) as fake:
        async with LLMClient(settings_for(fake)) as llm:
            caps = await probe(llm, all_modes=True)
    assert caps.mode == "json_schema" and all(caps.modes[m] == "ok" for m in caps.modes)
    assert set(caps.modes) == {"json_schema", "json_object_schema", "json_object", "text"}
    assert caps.usage_reported is True and caps.context_tokens == 8192
    assert caps.prompt_tokens_per_second and caps.output_tokens_per_second
    assert caps.parallel is True


async def test_a_serial_server_gets_one_request_at_a_time_and_longer_timeouts():
    with FakeOpenAI(serial=True, latency=0.3, usage=False) as fake:
        async with LLMClient(settings_for(fake, concurrency=4, timeout=1.0)) as llm:
            records: list[CallRecord] = []
            await generate(llm, records)
            assert llm.capabilities.parallel is False and llm.concurrency == 1
            assert llm.capabilities.usage_reported is False
            # the timeout follows the measured speed, never below the configured floor
            assert llm.timeout_for(100, 100) >= 1.0
            slow = Capabilities(base_url="x", model="m", prompt_tokens_per_second=30, output_tokens_per_second=5)
            llm.capabilities = slow
            assert llm.timeout_for(3700, 1200) > 300
        assert fake.max_in_flight == 1
        # no usage from the server: tokens are counted by us, and the record says so
        assert records[0].estimated and records[0].input_tokens > 0 and records[0].output_tokens > 0


async def test_timed_out_calls_record_the_tokens_sent(fake):
    fake.script([Reply("good", latency=1.5)])
    remembered = Capabilities(base_url=fake.base_url, model=fake.model, mode="json_schema", parallel=True)
    records: list[CallRecord] = []
    async with LLMClient(settings_for(fake, timeout=0.3, max_retries=0), capabilities=remembered) as llm:
        with pytest.raises(LLMUnavailable) as err:
            await generate(llm, records)
    assert "timed out" in err.value.reason
    assert records[0].status == "error" and records[0].estimated and records[0].input_tokens > 0
    assert "Acme released" in records[0].request_text


async def test_budget_too_small_makes_no_call(fake):
    budget = Budget(max_tokens=10)
    async with LLMClient(settings_for(fake)) as llm:
        with pytest.raises(LLMBudgetReached) as err:
            await generate(llm, budget=budget)
    assert "nightly LLM budget reached" in err.value.reason
    assert fake.chat_calls == []


async def test_budget_accounts_real_usage(fake):
    budget = Budget(max_tokens=100_000, max_usd=1.0)
    records: list[CallRecord] = []
    async with LLMClient(settings_for(fake)) as llm:
        await generate(llm, records, budget=budget)
    assert budget.spent_tokens == records[0].input_tokens + records[0].output_tokens
    assert budget.spent_usd == pytest.approx(records[0].cost_usd)
    assert budget.calls == 1


async def test_models_endpoint_lists_the_fake_model(fake):
    async with LLMClient(settings_for(fake)) as llm:
        page = await llm.client.models.list()
    assert [m.id for m in page.data] == [fake.model]


def test_price_lookup_matches_dated_snapshots():
    prices = {"gpt-4o": (2.5, 10.0, 1.25), "gpt-4o-mini": (0.15, 0.6, 0.075)}
    assert price_for("gpt-4o-mini-2024-07-18", prices) == (0.15, 0.6, 0.075)
    assert price_for("unknown", prices) is None
    assert cost_usd("unknown", 1000, 1000, 0, prices) == 0.0
    assert cost_usd("gpt-4o", 1_000_000, 0, 500_000, prices) == pytest.approx(2.5 / 2 + 1.25 / 2)


def test_strict_schema_requires_every_field():
    schema = strict_json_schema(StoryDraft)
    assert set(schema["required"]) == {"headline", "summary", "view", "tags", "section"}
    sentence = schema["$defs"]["SummarySentence"]
    assert sentence["additionalProperties"] is False
    assert set(sentence["required"]) == set(sentence["properties"]) >= {"text", "source_ids"}
    assert "default" not in json.dumps(schema)


def test_extract_json_tolerates_fences_and_prose():
    assert extract_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('Here you go: {"a": {"b": 2}} hope it helps') == {"a": {"b": 2}}
    with pytest.raises(LLMInvalidOutput):
        extract_json("no json here")
