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
from summarizer.models import CallRecord, StoryDraft
from fakes import FakeOpenAI, Reply  # tests/ is on sys.path under pytest

PROMPT = [
    {"role": "system", "content": "You write drafts. Reply with JSON."},
    {"role": "user", "content": 'Story.\n<sources>\n<source id="s1" outlet="Wire">\nTitle: Acme ships a model\n'
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


async def generate(llm: LLMClient, records: list[CallRecord] | None = None, **kw) -> StoryDraft:
    return await llm.generate(PROMPT, StoryDraft, prompt_version="test.v1", records=records, **kw)


async def test_schema_valid_json_is_parsed_and_recorded():
    with FakeOpenAI(cached_tokens=40) as fake:
        records: list[CallRecord] = []
        async with LLMClient(settings_for(fake)) as llm:
            draft = await generate(llm, records)
        assert draft.summary[0].source_ids == ["s1"]
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


async def test_timeout_raises_unavailable(fake):
    fake.script([Reply("good", latency=1.5)])
    async with LLMClient(settings_for(fake, timeout=0.3, max_retries=0)) as llm:
        with pytest.raises(LLMUnavailable) as err:
            await generate(llm)
    assert "timed out" in err.value.reason


async def test_json_schema_unsupported_falls_back_to_json_object_and_remembers():
    with FakeOpenAI(supports_json_schema=False) as fake:
        modes: dict[str, str] = {}
        async with LLMClient(settings_for(fake), modes=modes) as llm:
            records: list[CallRecord] = []
            await generate(llm, records)
            assert [c.response_format for c in fake.chat_calls] == ["json_schema", "json_object"]
            assert [r.status for r in records] == ["error", "ok"] and records[1].mode == "json_object"
            # the schema travels in the prompt when the endpoint cannot enforce it
            assert '"additionalProperties": false' in fake.chat_calls[1].text("system")
            await generate(llm)
        assert [c.response_format for c in fake.chat_calls] == ["json_schema", "json_object", "json_object"]
        assert list(modes.values()) == ["json_object"]
        # a restored `modes` dict means a new client never probes again
        async with LLMClient(settings_for(fake), modes=dict(modes)) as llm2:
            await generate(llm2)
        assert fake.chat_calls[-1].response_format == "json_object"
        assert sum(c.response_format == "json_schema" for c in fake.chat_calls) == 1


async def test_falls_back_to_plain_text_when_no_json_mode_is_supported():
    with FakeOpenAI(supports_json_schema=False, supports_json_object=False) as fake:
        async with LLMClient(settings_for(fake)) as llm:
            draft = await generate(llm)
            assert llm.modes[llm.endpoint_key] == "text"
        assert [c.response_format for c in fake.chat_calls] == ["json_schema", "json_object", None]
        assert draft.summary[0].source_ids == ["s1"]


async def test_unrelated_bad_request_is_not_a_mode_fallback(fake):
    fake.script(["bad_request"])
    async with LLMClient(settings_for(fake)) as llm:
        with pytest.raises(LLMRejected):
            await generate(llm)
        assert llm.modes == {}
    assert len(fake.chat_calls) == 1


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
