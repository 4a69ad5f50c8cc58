"""Collect every source concurrently; one broken source never stops the others.

Feeds are fetched with the validators stored from the last run, so an
unchanged feed costs one 304 and no parsing. A site URL that answers with an
HTML page gets one try at feed discovery. Posts from social networks come
from `extractors.social.<type>`, imported by name so that a network without
a module is one clear error, not a crash.
"""
from __future__ import annotations

import asyncio
import importlib
import logging
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Awaitable, Callable, Iterable, Iterator, Mapping

from extractors.dates import drop_future_dates
from extractors.feeds import FeedError, ParsedFeed, discover_feeds, parse_feed
from extractors.http import FetchError, Fetcher, FetchResponse
from extractors.models import CollectedItem, SourceResult, SourceSpec
from extractors.opml import OPMLError, read_opml
from extractors.workerpool import process_pool

__all__ = ["FEED_TYPES", "collect_sources", "collect_source", "dedupe_by_url", "feed_parse_pool"]

log = logging.getLogger(__name__)

FEED_TYPES = frozenset({"rss", "atom", "feed", "jsonfeed"})
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, application/json;q=0.7, */*;q=0.5"
)
_INLINE_PARSE_BYTES = 256 * 1024  # larger bodies are parsed off the event loop
# Below this many feeds, starting worker processes costs more than it saves.
MIN_POOL_FEEDS = 50
Validators = Mapping[str, tuple[str | None, str | None]]


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:500]


def _error(spec: SourceSpec, message: str, warnings: list[str] | None = None) -> SourceResult:
    return SourceResult(source=spec.name, status="error", error=_one_line(message), warnings=warnings or [])


def _since_filter(items: list[CollectedItem], since: datetime | None) -> list[CollectedItem]:
    if since is None:
        return items
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return [i for i in items if i.published_at is None or i.published_at >= since]


@contextmanager
def feed_parse_pool(feed_count: int, workers: int = 2) -> Iterator[Executor | None]:
    """A process pool for parsing feeds while this process keeps fetching, or None.

    Why: with parsing in-process, a run of hundreds of feeds is bound by one
    core (bench/collect.py: 500 feeds, 3.4 s with parsing in-process, 2.2 s
    with two workers). Workers start only when a feed needs parsing, so a
    night where every feed answers 304 starts none.
    """
    if workers <= 1 or feed_count < MIN_POOL_FEEDS:
        yield None
        return
    try:
        pool = process_pool(workers)
    except (OSError, RuntimeError, NotImplementedError) as exc:  # e.g. no semaphores in a sandbox
        log.warning("process pool unavailable (%s); parsing feeds in-process", exc)
        yield None
        return
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


async def _parse(resp: FetchResponse, spec: SourceSpec, executor: Executor | None) -> ParsedFeed:
    if executor is not None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, parse_feed, resp.content, resp.url, spec, dict(resp.headers))
        except BrokenProcessPool:  # a worker died (e.g. killed for memory): parse here instead
            log.warning("feed parsing pool broke; parsing %s in-process", spec.name)
    if len(resp.content) > _INLINE_PARSE_BYTES:
        return await asyncio.to_thread(parse_feed, resp.content, resp.url, spec, resp.headers)
    return parse_feed(resp.content, resp.url, spec, resp.headers)


async def _collect_feed(
    spec: SourceSpec, fetcher: Fetcher, validators: Validators, since: datetime | None, executor: Executor | None
) -> SourceResult:
    if not spec.url:
        return _error(spec, f"source {spec.name!r} of type {spec.type} has no url")
    etag, last_modified = validators.get(spec.name, (None, None))
    headers = {"Accept": FEED_ACCEPT}
    warnings: list[str] = []
    resp = await fetcher.get(spec.url, etag=etag, last_modified=last_modified, headers=headers)
    if not resp.not_modified:
        try:
            parsed = await _parse(resp, spec, executor)
        except FeedError as exc:
            if exc.kind != "html":
                raise
            candidates = discover_feeds(resp.content, resp.url)
            if not candidates:
                raise FeedError(f"{resp.url} is an HTML page that advertises no feed", kind="html") from None
            feed_url = candidates[0]
            warnings.append(f"{spec.url} is an HTML page; collected the feed it advertises, {feed_url}")
            resp = await fetcher.get(feed_url, etag=etag, last_modified=last_modified, headers=headers)
            parsed = None if resp.not_modified else await _parse(resp, spec, executor)
    else:
        parsed = None
    if parsed is None:
        return SourceResult(
            source=spec.name,
            status="not_modified",
            warnings=warnings,
            etag=resp.etag or etag,
            last_modified=resp.last_modified or last_modified,
        )
    return SourceResult(
        source=spec.name,
        status="ok",
        items=_since_filter(parsed.items, since),
        warnings=warnings + parsed.warnings,
        etag=resp.etag,
        last_modified=resp.last_modified,
    )


async def _collect_social(spec: SourceSpec, fetcher: Fetcher, since: datetime | None) -> SourceResult:
    if not spec.type.isidentifier():
        return _error(spec, f"unsupported source type {spec.type!r}")
    module_name = f"extractors.social.{spec.type}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name in (module_name, "extractors.social"):
            return _error(spec, f"unsupported source type {spec.type!r} (no module {module_name})")
        raise
    collect = getattr(module, "collect", None)
    if collect is None:
        return _error(spec, f"unsupported source type {spec.type!r} ({module_name} has no collect())")
    result = await collect(spec, fetcher, since=since)
    if not isinstance(result, SourceResult):
        return _error(spec, f"{module_name}.collect returned {type(result).__name__}, not SourceResult")
    return result


async def collect_source(
    spec: SourceSpec,
    fetcher: Fetcher,
    validators: Validators | None = None,
    *,
    since: datetime | None = None,
    parse_executor: Executor | None = None,
) -> SourceResult:
    """One source; every failure becomes a SourceResult with status "error"."""
    try:
        if spec.type in FEED_TYPES:
            result = await _collect_feed(spec, fetcher, validators or {}, since, parse_executor)
        else:
            result = await _collect_social(spec, fetcher, since)
        result.warnings.extend(drop_future_dates(result.items))
        return result
    except FetchError as exc:
        return _error(spec, str(exc))
    except FeedError as exc:
        return _error(spec, f"{exc} ({spec.url})")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug in one collector must not sink the run
        log.exception("collector for %s failed", spec.name)
        return _error(spec, f"internal error: {type(exc).__name__}: {exc}")


async def _expand_opml(spec: SourceSpec, fetcher: Fetcher) -> tuple[SourceResult, list[SourceSpec]]:
    try:
        if not spec.url:
            return _error(spec, "opml source has no url"), []
        resp = await fetcher.get(spec.url)
        children = [c for c in read_opml(resp.content) if c.type in FEED_TYPES]
    except (FetchError, OPMLError) as exc:
        return _error(spec, str(exc)), []
    tagged = [
        SourceSpec(c.name, c.type, c.url, c.handle, tuple(dict.fromkeys(spec.tags + c.tags)), c.base_url, spec.weight)
        for c in children
    ]
    return SourceResult(source=spec.name, status="ok"), tagged


async def collect_sources(
    specs: list[SourceSpec],
    fetcher: Fetcher,
    validators: Validators = {},  # noqa: B006 - read-only mapping
    *,
    since: datetime | None = None,
    parse_executor: Executor | None = None,
    parse_workers: int = 0,
    on_result: Callable[[SourceResult], Awaitable[None]] | None = None,
) -> list[SourceResult]:
    """All sources at once (the fetcher's limits bound the traffic); never raises.

    Results come back in the order of `specs`. An `opml` source yields its own
    result followed by one result per feed it lists. Feed parsing moves off
    this process's CPU into `parse_executor`, or into a pool of
    `parse_workers` processes when there are enough feeds (`feed_parse_pool`).
    `on_result` is awaited with each result as soon as it is ready, so a caller
    can store early sources while later ones are still being fetched; what it
    raises is raised here.
    """
    expanded: list[SourceSpec | SourceResult] = []
    for spec in specs:
        if spec.type == "opml":
            head, children = await _expand_opml(spec, fetcher)
            expanded.append(head)
            expanded.extend(children)
        else:
            expanded.append(spec)

    feeds = sum(1 for e in expanded if isinstance(e, SourceSpec) and e.type in FEED_TYPES)
    pool = nullcontext(parse_executor) if parse_executor is not None else feed_parse_pool(feeds, parse_workers)
    with pool as executor:

        async def run(entry: SourceSpec | SourceResult) -> SourceResult:
            if isinstance(entry, SourceResult):
                result = entry
            else:
                result = await collect_source(entry, fetcher, validators, since=since, parse_executor=executor)
            if on_result is not None:
                await on_result(result)
            return result

        tasks = [asyncio.ensure_future(run(e)) for e in expanded]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:  # `on_result` failed (or we were cancelled): stop the other sources first
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise


def dedupe_by_url(results: Iterable[SourceResult]) -> list[CollectedItem]:
    """Items from all results, one per canonical URL (first source wins); URL-less items all kept."""
    seen: set[str] = set()
    out: list[CollectedItem] = []
    for result in results:
        for item in result.items:
            if item.url is not None:
                if item.url in seen:
                    continue
                seen.add(item.url)
            out.append(item)
    return out
