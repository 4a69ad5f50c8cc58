"""Extract a night's batch of pages on all cores.

Extraction is CPU-bound lxml work, so threads would not help; a process
pool does. Tiny batches stay in-process because starting workers costs
more than it saves.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

from .article import extract_article
from .models import ExtractedArticle

log = logging.getLogger(__name__)

MIN_POOL_BATCH = 8  # below this the pool start-up outweighs the gain


def _one(page: tuple[bytes | str, str]) -> ExtractedArticle | None:
    html, url = page
    return extract_article(html, url)


def extract_many(pages: Iterable[tuple[bytes | str, str]], workers: int = 2) -> list[ExtractedArticle | None]:
    """Extract (html, url) pages in order; results line up with the input."""
    batch = list(pages)
    if workers <= 1 or len(batch) < MIN_POOL_BATCH:
        return [_one(page) for page in batch]
    chunksize = max(1, len(batch) // (workers * 4))
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_one, batch, chunksize=chunksize))
    except (OSError, RuntimeError) as exc:  # e.g. no fork/semaphores in a sandbox
        log.warning("process pool unavailable (%s); extracting in-process", exc)
        return [_one(page) for page in batch]
