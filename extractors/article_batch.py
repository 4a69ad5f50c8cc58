"""Extract a night's batch of pages on all cores.

Extraction is CPU-bound lxml work, so threads would not help; a process
pool does. Tiny batches stay in-process because starting workers costs
more than it saves.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager

from .article import extract_article
from .models import ExtractedArticle
from .workerpool import process_pool

log = logging.getLogger(__name__)

MIN_POOL_BATCH = 8  # below this the pool start-up outweighs the gain


def extract_page(page: tuple[bytes | str, str]) -> ExtractedArticle | None:
    """One (html, url) page: a top-level function, so a process pool can run it."""
    html, url = page
    return extract_article(html, url)


@contextmanager
def extraction_pool(workers: int = 2) -> Iterator[Executor | None]:
    """One process pool for a whole night's batches (starting one per batch costs more than a batch).

    Yields None where a pool cannot run (one worker, or no fork/semaphores in a sandbox).
    """
    if workers <= 1:
        yield None
        return
    try:
        pool = process_pool(workers)
    except (OSError, RuntimeError) as exc:
        log.warning("process pool unavailable (%s); extracting in-process", exc)
        yield None
        return
    with pool:
        yield pool


def extract_many(pages: Iterable[tuple[bytes | str, str]], workers: int = 2,
                 pool: Executor | None = None) -> list[ExtractedArticle | None]:
    """Extract (html, url) pages in order; results line up with the input.

    With `pool`, that executor does the work (see `extraction_pool`); else one is started here.
    """
    batch = list(pages)
    if workers <= 1 or len(batch) < MIN_POOL_BATCH:
        return [extract_page(page) for page in batch]
    chunksize = max(1, len(batch) // (workers * 4))
    if pool is not None:
        try:
            return list(pool.map(extract_page, batch, chunksize=chunksize))
        except (OSError, RuntimeError) as exc:  # a broken pool (a worker killed): finish in-process
            log.warning("process pool failed (%s); extracting in-process", exc)
            return [extract_page(page) for page in batch]
    try:
        with process_pool(workers) as pool:
            return list(pool.map(extract_page, batch, chunksize=chunksize))
    except (OSError, RuntimeError) as exc:  # e.g. no fork/semaphores in a sandbox
        log.warning("process pool unavailable (%s); extracting in-process", exc)
        return [extract_page(page) for page in batch]
