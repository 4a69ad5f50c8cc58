"""Benchmark LLM drafting against the local OpenAI-compatible fake (no network, no cost).

Usage: python -m bench.draft [--stories 30] [--latency 1.5] [--concurrency N]

Reports:
- wall time of a night at the default concurrency (NEWSDESK_LLM_CONCURRENCY's default) versus
  concurrency 1, and the ratio (goal: >= 8x for 30 stories at 1.5 s per call). The endpoint is
  probed once first, as a remembered endpoint is on every night after the first; the probe's
  own cost is printed apart;
- input/output tokens per story and the dollar cost at the configured price table;
- cache hit rate of a rerun with unchanged inputs (target 100% and zero LLM calls), and of a
  rerun where one story gained a source (that story alone is redrafted);
- a budget of a third of the night: how many stories are drafted, how many left for editors;
- precision/recall of the grounding checker on the labelled set (bench/grounding_eval.py),
  which covers summary sentences, views, headlines and tags.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fake server lives with the tests

from fakes import FakeOpenAI  # noqa: E402

from bench.grounding_eval import evaluate  # noqa: E402
from newsdesk.config import LLMConfig  # noqa: E402
from summarizer.budget import Budget  # noqa: E402
from summarizer.capabilities import Capabilities, probe  # noqa: E402
from summarizer.drafting import DraftSettings, draft_stories, story_cache_key  # noqa: E402
from summarizer.llm import LLMClient, LLMSettings  # noqa: E402
from summarizer.models import DraftResult, SourceDoc, StoryInput  # noqa: E402
from summarizer.prompts import PromptSet  # noqa: E402

STYLE = "awesome-ai-daily"
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Cyberdyne"]
PRICES = {"bench-model": (0.15, 0.60, 0.075)}  # a small hosted model's price shape, USD per 1M tokens


def make_stories(n: int) -> list[StoryInput]:
    """Synthetic but varied stories of 2-4 sources, long enough that passage selection matters."""
    stories = []
    for k in range(n):
        company = COMPANIES[k % len(COMPANIES)]
        sources = []
        for j in range(2 + k % 3):
            paragraphs = [
                f"{company} said on Tuesday that its new model {k}-{j} handles {100 + 7 * k + j} languages "
                f"and costs {3 + j} dollars per million tokens.",
                f"According to outlet {j}, the launch follows a funding round of {50 + k} million dollars led by "
                f"investor {chr(65 + j)}. Shares of partners rose {j + 2}% in early trading.",
                f"Researchers at lab {j} measured {40 + k + j}% on a reasoning benchmark, ahead of last year's "
                f"best result of {30 + k}%. The company plans a wider release in {['May', 'June', 'July'][j % 3]}.",
                "Subscribe to our newsletter for more stories like this.",
            ] + [f"Background paragraph {p} of source {j} repeats the history of {company} and its founders "
                 f"across {p + 2} years of research." for p in range(12)]
            sources.append(SourceDoc(id=f"s{k}-{j}", title=f"{company} launches model {k}-{j} for {100 + 7 * k} languages",
                                     outlet=f"Outlet {j}", url=f"https://news.example/{k}/{j}", text="\n\n".join(paragraphs)))
        stories.append(StoryInput(story_id=k + 1, day="2026-05-11", sources=sources))
    return stories


def _settings(fake: FakeOpenAI, concurrency: int) -> LLMSettings:
    return LLMSettings(model="bench-model", base_url=fake.base_url, api_key="bench", prices=PRICES,
                       concurrency=concurrency, max_retries=1, timeout=30)


async def probe_once(fake: FakeOpenAI, concurrency: int) -> tuple[Capabilities, float, int]:
    """The endpoint's capabilities as the first night finds them: (capabilities, seconds, requests)."""
    before = len(fake.calls)
    started = time.perf_counter()
    async with LLMClient(_settings(fake, concurrency)) as llm:
        caps = await probe(llm)
    return caps, time.perf_counter() - started, len(fake.calls) - before


async def run_night(fake: FakeOpenAI, stories: list[StoryInput], concurrency: int, prompts: PromptSet,
                    caps: Capabilities, budget: Budget | None = None) -> tuple[list[DraftResult], float]:
    async with LLMClient(_settings(fake, concurrency), capabilities=caps) as llm:
        started = time.perf_counter()
        results = await draft_stories(stories, llm=llm, style=STYLE, prompts=prompts,
                                      settings=DraftSettings(concurrency=concurrency), budget=budget)
        return results, time.perf_counter() - started


async def rerun(fake: FakeOpenAI, stories: list[StoryInput], stored: dict[int, str], prompts: PromptSet,
                concurrency: int, caps: Capabilities) -> tuple[int, int]:
    """What a nightly rerun does: skip stories whose key is unchanged, draft the rest. Returns (hits, calls)."""
    todo = [s for s in stories if stored.get(s.story_id) != story_cache_key(s, model="bench-model", style=STYLE,
                                                                            prompts=prompts)]
    before = len(fake.chat_calls)
    if todo:
        await run_night(fake, todo, concurrency, prompts, caps)
    return len(stories) - len(todo), len(fake.chat_calls) - before


async def main_async(args: argparse.Namespace) -> None:
    prompts = PromptSet.load()
    stories = make_stories(args.stories)
    with FakeOpenAI(model="bench-model", latency=args.latency) as fake:
        caps, probe_seconds, probe_calls = await probe_once(fake, args.concurrency)
        print(f"probe (first night only): {probe_calls} requests, {probe_seconds:.1f}s; mode {caps.mode}, "
              f"parallel {caps.parallel}")
        results, wall = await run_night(fake, stories, args.concurrency, prompts, caps)
        calls = [c for r in results for c in r.calls]
        ok = sum(r.status == "pending" for r in results)
        tokens_in = sum(c.input_tokens for c in calls) / len(stories)
        tokens_out = sum(c.output_tokens for c in calls) / len(stories)
        cost = sum(c.cost_usd for c in calls)
        print(f"stories: {len(stories)}, drafted: {ok}, LLM calls: {len(calls)}, latency per call: {args.latency}s")
        print(f"tokens per story: {tokens_in:.0f} in + {tokens_out:.0f} out; cost ${cost:.4f} for the night")

        fake.reset()
        cpu = time.process_time()
        _, wall_1 = await run_night(fake, stories, 1, prompts, caps)
        cpu_1 = time.process_time() - cpu
        print(f"wall time: {wall:.1f}s at concurrency {args.concurrency} vs {wall_1:.1f}s at 1 "
              f"-> {wall_1 / wall:.1f}x faster (goal 8x); CPU per story {cpu_1 / len(stories) * 1000:.0f} ms")

        stored = {r.story_id: r.input_hash for r in results}
        fake.reset()
        hits, made = await rerun(fake, stories, stored, prompts, args.concurrency, caps)
        print(f"rerun, unchanged inputs: cache hit rate {hits / len(stories):.0%}, LLM calls {made}")
        changed = [s.model_copy(deep=True) for s in stories]
        changed[0].sources.append(SourceDoc(id="late", title="A late report", outlet="Late", text="A late detail."))
        hits, made = await rerun(fake, changed, stored, prompts, args.concurrency, caps)
        print(f"rerun, one story gained a source: cache hit rate {hits / len(stories):.0%}, LLM calls {made}")

        fake.reset()
        budget = Budget(max_usd=cost / 3)
        capped, _ = await run_night(fake, stories, args.concurrency, prompts, caps, budget)
        stopped = sum(r.failure_kind == "budget" for r in capped)
        print(f"budget of ${budget.max_usd:.4f} (a third of the night): {len(stories) - stopped} drafted, "
              f"{stopped} left for editors with extractive drafts, spent ${budget.spent_usd:.4f}")
    print(evaluate().summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=30)
    parser.add_argument("--latency", type=float, default=1.5)
    parser.add_argument("--concurrency", type=int, default=LLMConfig(None, None, "").concurrency)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
