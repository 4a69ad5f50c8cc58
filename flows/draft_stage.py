"""The draft stage: which stories to (re)draft, the LLM client for the night, and saving each draft
the moment it is answered.

What to redraft follows the cause of the last failure, so a rerun repairs what can be repaired
and does not pay again for what cannot:
- changed inputs (sources, model, prompt, style) or `--force`: drafted again;
- transient failures (timeouts, 5xx, 429): asked again, at most `MAX_TRANSIENT_ATTEMPTS` times;
- permanent failures (the model refused, answered garbage, the endpoint rejected the request):
  asked again only when the structured-output mode changed since; otherwise left to the editor
  with the extractive draft, and said so in the run notes;
- the night's budget: asked again when there is budget.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from storage.models import Draft, Item, LLMCall, Story, StoryItem
from storage.writes import draft_snapshot, get_setting, put_setting, record_llm_calls, save_machine_draft

if TYPE_CHECKING:
    from flows.pipeline import Context
    from newsdesk.config import Settings
    from summarizer.llm import LLMClient
    from summarizer.capabilities import Capabilities
    from summarizer.models import DraftResult, StoryInput

log = logging.getLogger("newsdesk")

NO_LLM_NOTE = (
    "No LLM configured (set OPENAI_API_KEY and/or OPENAI_BASE_URL): summaries are extractive, "
    "chosen from the sources and cited; every view is left for the editor to write."
)
MAX_TRANSIENT_ATTEMPTS = 3


# ---------------------------------------------------------------- inputs


def story_input(session, story: Story) -> "StoryInput":
    from storage.desk import source_refs
    from summarizer.models import PreviousStory, SourceDoc, StoryInput

    refs = source_refs(story)
    previous = None
    if story.previous_story_id:
        prev = session.get(Story, story.previous_story_id)
        if prev is not None:
            d = prev.draft
            summary = " ".join(s.get("text", "") for s in (d.summary if d else []) or [])
            previous = PreviousStory(day=prev.day, headline=(d.headline if d and d.headline else prev.title), summary=summary,
                                     timeline=_earlier_days(session, story))
    docs = [SourceDoc(id=r.id, title=r.title, outlet=r.outlet, url=r.url, text=r.text, published_at=r.published_at, kind=r.kind) for r in refs]
    return StoryInput(story_id=story.id, day=story.day, sources=docs, previous=previous)


TIMELINE_ENTRIES = 6  # the prompt gets the thread's latest days, not a month of headlines


def _earlier_days(session, story: Story) -> list[str]:
    """The thread's days before this story, "day: headline", oldest first (the latest few)."""
    from storage.threads import timeline

    if story.thread_id is None:
        return []
    entries = [e for e in timeline(session, story.thread_id, published=set()).entries if e.day < story.day]
    return [f"{e.day}: {e.headline}" for e in entries[-TIMELINE_ENTRIES:]]


def redraft_reason(d: Draft | None, key: str, mode: str | None, *, force: bool) -> str | None:
    """Why a story should be drafted now, or None to leave its draft as it is."""
    if d is None:
        return "new"
    if force:
        return "forced"
    if d.input_hash != key:
        return "changed"
    if d.failure_kind is None:
        return None  # drafted (maybe with flags for the editor): same inputs, same draft
    if d.failure_kind == "transient":
        return "retry" if (d.attempts or 0) < MAX_TRANSIENT_ATTEMPTS else None
    if d.failure_kind == "budget":
        return "retry"
    return "new mode" if mode is not None and d.llm_mode != mode else None


def load_capabilities(ctx: "Context") -> "Capabilities | None":
    from summarizer.capabilities import Capabilities, settings_key
    from summarizer.llm import DEFAULT_BASE_URL

    cfg = ctx.settings.llm
    if not cfg.configured:
        return None
    with ctx.db.session() as s:
        stored = get_setting(s, settings_key(cfg.base_url or DEFAULT_BASE_URL, cfg.model))
    return Capabilities.from_dict(stored) if stored else None


def save_capabilities(ctx: "Context", caps: "Capabilities") -> None:
    from summarizer.capabilities import settings_key

    with ctx.db.session() as s:
        put_setting(s, settings_key(caps.base_url, caps.model), caps.to_dict())


def spent_today(ctx: "Context", day: str) -> tuple[int, float]:
    """Tokens and USD the day's LLM calls have cost so far, over every run of that night."""
    with ctx.db.session() as s:
        tokens, usd = s.execute(
            select(func.coalesce(func.sum(LLMCall.input_tokens + LLMCall.output_tokens), 0),
                   func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(LLMCall.day == day)
        ).one()
    return int(tokens), float(usd)


def needs_probe(ctx: "Context") -> bool:
    """An LLM is configured but nothing about its endpoint is known yet: drafting would probe it first."""
    cfg = ctx.settings.llm
    return cfg.configured and not cfg.mode and load_capabilities(ctx) is None


def probe_endpoint(ctx: "Context", day: str) -> None:
    """Probe the endpoint and remember what it can do, with the probe's calls recorded for the day.

    The night runs this beside the stages before drafting (the probe is a few round trips of waiting,
    seconds against a slow server); the draft stage then finds the capabilities stored. A probe that
    found no working mode stores nothing (the draft stage probes again, as without this).
    """
    from summarizer.llm import DraftingError

    async def probe() -> None:
        llm = open_llm(ctx.settings, load_capabilities(ctx))
        try:
            await llm.ensure_probed()
        except DraftingError as exc:
            log.info("probing the LLM endpoint before drafting failed: %s", exc.reason)
        finally:
            try:
                with ctx.db.session() as s:
                    record_llm_calls(s, day, None, [c.model_dump() for c in llm.probe_records])
                caps = llm.capabilities
                # Only what worked is remembered from here: a server still starting (or down) is left to
                # the draft stage to probe when it needs it, as it did before the probe ran ahead.
                if caps is not None and llm.changed and caps.modes.get(caps.mode or "") == "ok":
                    save_capabilities(ctx, caps)
            finally:
                await llm.aclose()

    try:
        asyncio.run(probe())
    except Exception:  # never fail the night from here: drafting probes again
        log.exception("probing the LLM endpoint before drafting failed")


# ---------------------------------------------------------------- the stage


@dataclass
class DraftPlan:
    todo: list["StoryInput"] = field(default_factory=list)
    stories: int = 0
    cached: int = 0
    kept: int = 0
    not_retried: list[tuple[int, str]] = field(default_factory=list)  # (story id, last error)


def plan(ctx: "Context", day: str, style: str, max_stories: int, model: str, prompts, mode: str | None, *,
         force: bool, story_ids: Sequence[int] | None, instruction: str | None) -> DraftPlan:
    from summarizer.drafting import story_cache_key

    out = DraftPlan()
    with ctx.db.session() as s:
        q = (
            select(Story)
            .where(Story.day == day, Story.active.is_(True))
            .options(selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.source),
                     selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.article),
                     selectinload(Story.draft))
            .order_by(Story.rank, Story.id)
        )
        if story_ids:
            q = q.where(Story.id.in_(list(story_ids)))
        else:
            q = q.where(Story.is_repeat.is_(False)).limit(max_stories)
        stories = list(s.scalars(q))
        out.stories = len(stories)
        for st in stories:
            d = st.draft
            if d is not None and not story_ids and (d.edited or d.status in ("approved", "rejected")):
                out.kept += 1
                continue
            si = story_input(s, st)
            if instruction:
                si.instruction = instruction
            try:
                key = story_cache_key(si, model=model, style=style, prompts=prompts)
            except Exception:  # no template for this style: drafting says so per story
                key = "no-prompt"
            if story_ids:
                reason: str | None = "asked"
            elif d is not None and d.style != style:
                reason = "another style"
            else:
                reason = redraft_reason(d, key, mode, force=force)
            if reason is None:
                if d is not None and d.failure_kind is not None:
                    out.not_retried.append((st.id, d.error or d.failure_kind))
                else:
                    out.cached += 1
                continue
            out.todo.append(si)
    return out


def draft_stage(
    ctx: "Context",
    day: str,
    style: str,
    max_stories: int,
    force: bool = False,
    story_ids: Sequence[int] | None = None,
    instruction: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Draft the day's top stories (LLM, or extractive without one); unchanged inputs cost nothing.

    `force` ignores the cache but never an editor's work (edited, approved or rejected drafts).
    `story_ids` is an explicit request for those stories (`regenerate_story`, `run --story`): they
    are redrafted whatever their state, and a failed redraft leaves the existing text in place.
    Each story is saved, with its LLM calls, as soon as it is answered.
    """
    from summarizer.drafting import EXTRACTIVE_MODEL

    settings = ctx.settings
    llm_cfg = settings.llm
    prompts = _load_prompts(ctx) if llm_cfg.configured else None
    model = llm_cfg.model if llm_cfg.configured else EXTRACTIVE_MODEL
    if not llm_cfg.configured:
        ctx.note(NO_LLM_NOTE)
    if instruction and not llm_cfg.configured:
        ctx.note("The instruction was not used: no LLM is configured, so the draft is extractive.")
    caps = load_capabilities(ctx)
    known_mode = (llm_cfg.mode or (caps.mode if caps else None)) if llm_cfg.configured else None
    p = plan(ctx, day, style, max_stories, model, prompts, known_mode, force=force, story_ids=story_ids,
             instruction=instruction)
    if p.not_retried:
        ctx.note(f"{len(p.not_retried)} {'story' if len(p.not_retried) == 1 else 'stories'} not re-asked: the last "
                 "LLM failure would repeat with the same model and mode (their extractive drafts wait for an "
                 "editor; `--force` or Regenerate asks again).")
    stats = {"stories": p.stories, "drafted": 0, "cached": p.cached, "kept_editor_work": p.kept, "needs_human": 0,
             "calls": 0, "tokens": 0, "cost_usd": 0.0, "failed_redrafts": [], "not_retried": len(p.not_retried)}
    ctx.reporter.start("draft", len(p.todo))
    saver = _Saver(ctx, day, style, model, stats, story_ids=story_ids, instruction=instruction, actor=actor)
    if p.todo:
        results = asyncio.run(_draft_async(ctx, day, p.todo, style, prompts, caps, saver))
        _settle_story_failures(ctx, results)
    ctx.reporter.done("draft")
    return stats


def _settle_story_failures(ctx: "Context", results: Sequence["DraftResult"]) -> None:
    """A server error or timeout on one story while the same endpoint drafted others is about that
    story, not the server: asking again with the same request would fail again, so it is not
    re-asked automatically (Regenerate or --force still do). When every story failed the endpoint
    was down, and the next run asks again."""
    if not any(r.failure_kind is None and r.calls for r in results):
        return
    specific = [r.story_id for r in results if r.failure_kind == "transient"
                and not any("HTTP 429" in (c.error or "") for c in r.calls)]
    if not specific:
        return
    with ctx.db.session() as s:
        for d in s.scalars(select(Draft).where(Draft.story_id.in_(specific), Draft.failure_kind == "transient")):
            d.failure_kind = "permanent"
            d.error = f"{d.error} (other stories were drafted, so this one is not asked again automatically)"
    ctx.note(f"{len(specific)} {'story' if len(specific) == 1 else 'stories'} failed while the LLM drafted the "
             "others; they keep their extractive drafts and are not re-asked on reruns (Regenerate asks again).")


def _load_prompts(ctx: "Context"):
    """The prompt templates; when they cannot be read the night goes on, each story then getting its
    extractive draft marked with the reason (never a failed stage)."""
    from summarizer.prompts import PromptError, PromptSet

    try:
        return PromptSet.load(ctx.settings.prompts_dir)
    except PromptError as exc:
        ctx.note(f"Prompt templates could not be loaded ({exc}): stories get extractive drafts for an editor.")
        return PromptSet()


class _Saver:
    """Stores each result the moment it arrives: a kill mid-night loses only the stories in flight."""

    def __init__(self, ctx: "Context", day: str, style: str, model: str, stats: dict[str, Any], *,
                 story_ids: Sequence[int] | None, instruction: str | None, actor: str | None):
        self.ctx, self.day, self.style, self.model, self.stats = ctx, day, style, model, stats
        self.story_ids, self.instruction, self.actor = story_ids, instruction, actor
        self.out_tokens, self.seconds = 0, 0.0  # for the tokens/s shown beside the progress bar

    def __call__(self, res: "DraftResult") -> None:
        try:
            self._save(res)
        except Exception:  # one story's storage trouble must not lose the others
            log.exception("saving the draft of story %s failed", res.story_id)
            self.stats.setdefault("save_errors", []).append(res.story_id)
        self.ctx.reporter.advance("draft")
        ok = [c for c in res.calls if c.status == "ok" and c.latency_ms > 0]
        self.out_tokens += sum(c.output_tokens for c in ok)
        self.seconds += sum(c.latency_ms for c in ok) / 1000
        if self.seconds:
            self.ctx.reporter.status("draft", f"{self.out_tokens / self.seconds:.0f} tokens/s")

    def _save(self, res: "DraftResult") -> None:
        stats = self.stats
        with self.ctx.db.session() as s:
            record_llm_calls(s, self.day, res.story_id, [c.model_dump() for c in res.calls])
            stats["calls"] += len(res.calls)
            stats["tokens"] += sum(c.input_tokens + c.output_tokens for c in res.calls)
            stats["cost_usd"] += sum(c.cost_usd for c in res.calls)
            existing = s.scalars(select(Draft).where(Draft.story_id == res.story_id)).one_or_none()
            if self.story_ids and res.failure_kind is not None and existing is not None and existing.headline:
                # An asked-for redraft that failed must not replace the text the editor has.
                stats["failed_redrafts"].append({"story_id": res.story_id, "error": res.error})
                self.ctx.note(f"Story #{res.story_id} was not redrafted ({res.error}); its draft is unchanged.")
                return
            fields: dict[str, Any] = {"violations": [v.model_dump() for v in res.violations],
                                      "unsupported": [u.model_dump() for u in res.unsupported], "error": res.error}
            if res.draft is not None:
                fields.update(headline=res.draft.headline, summary=[x.model_dump() for x in res.draft.summary],
                              view=res.draft.view, tags=list(res.draft.tags), section=res.draft.section)
            same_input = existing is not None and existing.input_hash == res.input_hash
            attempts = ((existing.attempts or 0) if same_input and existing.failure_kind else 0) + 1 \
                if res.failure_kind else 0
            machine = {"failure_kind": res.failure_kind, "attempts": attempts, "llm_mode": res.mode,
                       "omitted_sources": [o.model_dump() for o in res.omitted_sources]}
            before = (draft_snapshot(existing) | {"version": existing.version}) if self.actor and existing else None
            saved = save_machine_draft(s, res.story_id, style=self.style, status=res.status, fields=fields,
                                       model=res.model or self.model, prompt_version=res.prompt_version,
                                       input_hash=res.input_hash, force=bool(self.story_ids),
                                       action="regenerated" if self.story_ids else "drafted", author=self.actor,
                                       machine=machine)
            if self.actor:  # an editor asked for this draft: the audit log says who, and before/after
                from storage.desk import audit

                after = draft_snapshot(saved) | {"version": saved.version, "instruction": self.instruction}
                audit(s, self.actor, "regenerated", "draft", res.story_id, before, after)
            stats["drafted"] += res.status != "needs_human"
            stats["needs_human"] += res.status == "needs_human"


def _budget_for(ctx: "Context", day: str, model: str, prices: dict):
    """The night's cap, less what earlier runs of the same night spent. An unpriced model under a USD
    cap is counted in tokens at the dearest known price, and the run notes say so."""
    from summarizer.budget import Budget
    from summarizer.llm import price_for

    cfg = ctx.settings.llm
    max_tokens, max_usd = cfg.max_tokens_per_night, cfg.max_usd_per_night
    if max_usd is not None and price_for(model, prices) is None:
        dearest = max((p[0] + p[1]) / 2 for p in prices.values()) / 1_000_000 if prices else None
        as_tokens = int(max_usd / dearest) if dearest else None
        if as_tokens is not None:
            max_tokens = min(max_tokens, as_tokens) if max_tokens is not None else as_tokens
        ctx.note(f"No price known for model {model!r}: its calls are recorded at $0, so the ${max_usd:.2f} cap "
                 f"is applied as {as_tokens:,} tokens (the dearest listed price); set NEWSDESK_PRICES to price it.")
    tokens, usd = spent_today(ctx, day)
    budget = Budget(max_tokens=max_tokens, max_usd=max_usd, spent_tokens=tokens, spent_usd=usd)
    if (max_tokens is not None and tokens >= max_tokens) or (max_usd is not None and usd >= max_usd):
        budget.reached = True
    return budget


def open_llm(settings: "Settings", caps: "Capabilities | None" = None) -> "LLMClient":
    """The night's LLM client over the project's one HTTP client factory (closed with the client)."""
    from extractors.http import build_async_client
    from summarizer.llm import DEFAULT_PRICES, LLMClient, LLMSettings

    cfg = settings.llm
    http = build_async_client(replace(settings.http, read_timeout=cfg.timeout, total_timeout=cfg.timeout))
    return LLMClient(
        LLMSettings(model=cfg.model, api_key=cfg.api_key or "not-needed", base_url=cfg.base_url,
                    timeout=cfg.timeout, max_retries=cfg.max_retries, concurrency=cfg.concurrency,
                    prices={**DEFAULT_PRICES, **dict(cfg.prices or {})}, mode=cfg.mode),
        http_client=http, capabilities=caps, close_http=True,
    )


async def _draft_async(ctx: "Context", day: str, todo, style: str, prompts, caps, on_done) -> list["DraftResult"]:
    """One HTTP client for the LLM (the fetcher's factory), remembered capabilities, one budget."""
    from summarizer.drafting import DraftSettings, draft_stories

    settings = ctx.settings
    cfg = settings.llm
    llm = None
    budget = None
    if cfg.configured:
        llm = open_llm(settings, caps)
        budget = _budget_for(ctx, day, cfg.model, llm.settings.prices)
    draft_settings = DraftSettings(concurrency=cfg.concurrency, input_token_budget=cfg.input_token_budget,
                                   context_tokens=cfg.context_tokens)
    try:
        results = await draft_stories(todo, llm=llm, style=style, prompts=prompts, settings=draft_settings,
                                      budget=budget, on_done=on_done)
    finally:
        if llm is not None:
            with ctx.db.session() as s:
                record_llm_calls(s, day, None, [c.model_dump() for c in llm.probe_records])
            if llm.capabilities is not None:
                if llm.changed:
                    save_capabilities(ctx, llm.capabilities)
                ctx.note(f"LLM: {llm.capabilities.describe()}")
            await llm.aclose()
    if budget is not None and budget.is_reached:
        ctx.note(f"Nightly LLM budget reached ({budget.describe()}): the remaining stories are queued with "
                 "extractive drafts, in rank order.")
    return results
