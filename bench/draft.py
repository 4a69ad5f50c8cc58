"""Benchmark LLM drafting against the local OpenAI-compatible fake (no network, no cost).

Usage: python -m bench.draft [--stories 30] [--latency 1.5] [--concurrency 8]
                             [--grounding bench/data/grounding_cases.jsonl]

Reports:
- wall time of a night at --concurrency versus concurrency 1, and the speed-up ratio;
- input/output tokens per story and the dollar cost at the configured price table;
- cache hit rate of a rerun with unchanged inputs (keys from `story_cache_key` compared with
  the stored `DraftResult.input_hash`; target 100% and zero LLM calls), and of a rerun where
  one story gained a source (that story alone is redrafted);
- precision/recall of `summarizer.grounding.check_grounding` at flagging unsupported sentences
  on a labelled set, one JSON object a line, either
    {"sentence": "...", "field": "summary"|"view", "cites": [ids], "sources": [<SourceDoc>...],
     "label": "supported"|"unsupported"}
  or {"draft": <StoryDraft>, "sources": [...], "unsupported": [<sentence index>, -1 for the view]}.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fake server lives with the tests

from fakes import FakeOpenAI  # noqa: E402

from summarizer.budget import Budget  # noqa: E402
from summarizer.drafting import DraftSettings, draft_stories, story_cache_key  # noqa: E402
from summarizer.llm import LLMClient, LLMSettings  # noqa: E402
from summarizer.models import DraftResult, SourceDoc, StoryDraft, StoryInput  # noqa: E402
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


async def run_night(fake: FakeOpenAI, stories: list[StoryInput], concurrency: int, prompts: PromptSet,
                    budget: Budget | None = None) -> tuple[list[DraftResult], float]:
    settings = LLMSettings(model="bench-model", base_url=fake.base_url, api_key="bench", prices=PRICES,
                           concurrency=concurrency, max_retries=1, timeout=30)
    async with LLMClient(settings) as llm:
        started = time.perf_counter()
        results = await draft_stories(stories, llm=llm, style=STYLE, prompts=prompts,
                                      settings=DraftSettings(concurrency=concurrency), budget=budget)
        return results, time.perf_counter() - started


async def rerun(fake: FakeOpenAI, stories: list[StoryInput], stored: dict[int, str], prompts: PromptSet,
                concurrency: int) -> tuple[int, int]:
    """What a nightly rerun does: skip stories whose key is unchanged, draft the rest. Returns (hits, calls)."""
    todo = [s for s in stories if stored.get(s.story_id) != story_cache_key(s, model="bench-model", style=STYLE,
                                                                            prompts=prompts)]
    before = len(fake.chat_calls)
    if todo:
        await run_night(fake, todo, concurrency, prompts)
    return len(stories) - len(todo), len(fake.chat_calls) - before


def _case_to_draft(case: dict[str, Any], sources: list[SourceDoc]) -> tuple[StoryDraft, set[int], set[int]]:
    """(draft, positions checked, positions labelled unsupported) for one labelled case."""
    if "draft" in case:  # a whole draft with the unsupported sentence indices (-1: the view)
        draft = StoryDraft.model_validate(case["draft"])
        positions = set(range(len(draft.summary))) | ({-1} if draft.view else set())
        return draft, positions, set(case.get("unsupported", []))
    sentence = case.get("sentence") or case.get("claim") or case.get("text") or ""
    cites = case["cites"] if "cites" in case else [s.id for s in sources]
    unsupported = case.get("label") == "unsupported" or case.get("supported") is False
    if case.get("field") == "view":
        draft = StoryDraft(headline="case", summary=[{"text": "See sources.", "source_ids": cites}],
                           view=sentence)
        return draft, {-1}, {-1} if unsupported else set()
    draft = StoryDraft(headline="case", summary=[{"text": sentence, "source_ids": cites}])
    return draft, {0}, {0} if unsupported else set()


def grounding_scores(path: Path) -> str:
    """Precision/recall of flagging unsupported sentences on the labelled set."""
    if not path.exists():
        return f"skipped: no labelled set at {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
    try:
        from summarizer.grounding import check_grounding
    except ModuleNotFoundError:
        return "skipped: summarizer.grounding is not available"
    tp = fp = fn = n = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case: dict[str, Any] = json.loads(line)
        sources = [SourceDoc.model_validate({"outlet": "", "title": "", **s}) for s in case["sources"]]
        draft, positions, truth = _case_to_draft(case, sources)
        predicted = {c.sentence for c in check_grounding(draft, sources)} & positions
        tp += len(predicted & truth)
        fp += len(predicted - truth)
        fn += len(truth - predicted)
        n += len(positions)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return f"{n} labelled sentences: precision {precision:.2f}, recall {recall:.2f} (tp={tp} fp={fp} fn={fn})"


async def main_async(args: argparse.Namespace) -> None:
    prompts = PromptSet.load()
    stories = make_stories(args.stories)
    with FakeOpenAI(model="bench-model", latency=args.latency) as fake:
        results, wall = await run_night(fake, stories, args.concurrency, prompts)
        calls = [c for r in results for c in r.calls]
        ok = sum(r.status == "pending" for r in results)
        tokens_in = sum(c.input_tokens for c in calls) / len(stories)
        tokens_out = sum(c.output_tokens for c in calls) / len(stories)
        cost = sum(c.cost_usd for c in calls)
        print(f"stories: {len(stories)}, drafted: {ok}, LLM calls: {len(calls)}, latency per call: {args.latency}s")
        print(f"tokens per story: {tokens_in:.0f} in + {tokens_out:.0f} out; cost ${cost:.4f} for the night")

        fake.reset()
        _, wall_1 = await run_night(fake, stories, 1, prompts)
        print(f"wall time: {wall:.1f}s at concurrency {args.concurrency} vs {wall_1:.1f}s at 1 "
              f"-> {wall_1 / wall:.1f}x faster")

        stored = {r.story_id: r.input_hash for r in results}
        fake.reset()
        hits, made = await rerun(fake, stories, stored, prompts, args.concurrency)
        print(f"rerun, unchanged inputs: cache hit rate {hits / len(stories):.0%}, LLM calls {made}")
        changed = [s.model_copy(deep=True) for s in stories]
        changed[0].sources.append(SourceDoc(id="late", title="A late report", outlet="Late", text="A late detail."))
        hits, made = await rerun(fake, changed, stored, prompts, args.concurrency)
        print(f"rerun, one story gained a source: cache hit rate {hits / len(stories):.0%}, LLM calls {made}")

        fake.reset()
        budget = Budget(max_usd=cost / 3)
        capped, _ = await run_night(fake, stories, args.concurrency, prompts, budget)
        stopped = sum("budget reached" in (r.error or "") for r in capped)
        print(f"budget of ${budget.max_usd:.4f} (a third of the night): {len(stories) - stopped} drafted, "
              f"{stopped} left for editors, spent ${budget.spent_usd:.4f}")
    print(f"grounding: {grounding_scores(Path(args.grounding))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=30)
    parser.add_argument("--latency", type=float, default=1.5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--grounding", default=str(ROOT / "bench" / "data" / "grounding_cases.jsonl"))
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
