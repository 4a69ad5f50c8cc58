"""Multi-day collections for judging threads: one event's documents spread over many days.

A running story reaches the desk a few documents a day, for days. These builders take a
gold event-cluster collection (documents with an event label, and a topic when two events
are of one kind) and deal each event's documents out over days, so one event becomes one
running story that threads should keep whole, while other events (and the other event of
the same topic, a near miss) must never join it.

- ``demo_collection``: the demo sample day's articles (invented news), gold from
  `newsdesk.demo.expected.EXPECTED_STORIES`; its near misses (two layoffs, two funding
  rounds, two model launches) play the part of ECB+ subtopics. The rumour published the
  day before the Quillon layoffs belongs to that story.
- ``spread``: every event starts on a seeded day of the span; its documents come on that
  day and the following days with gaps of 1-3 days, ``per_day`` at most per day.
- ``simulate``: the nightly cluster stage's computing parts, day after day, in memory:
  cluster the day (`summarizer.clustering.cluster`), link each story to earlier days'
  stories within ``window_days`` (`summarizer.continuity.link_stories`), and give it its
  predecessor's thread or a new one (the rule `storage.threads.assign_threads` applies);
  with a ``revision``, the window's threads are then revised (`bench.thread_revisions`).
"""
from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from bench.thread_revisions import Revision, WindowStory, revise
from summarizer.clustering import cluster
from summarizer.continuity import PreviousStory, link_stories

Docs = list[dict]
Gold = dict[str, str]
FIRST_DAY = date(2026, 3, 2)


def demo_collection() -> tuple[Docs, Gold]:
    """The demo day's articles as documents (id = path), gold = the story each belongs to."""
    from newsdesk.demo import _content
    from newsdesk.demo import expected

    gold: Gold = {}
    for k, refs in enumerate(expected.EXPECTED_STORIES):
        for ref in refs:
            if ref.startswith("/"):
                gold[ref] = f"demo-{k}"
    quillon = next(k for k, refs in enumerate(expected.EXPECTED_STORIES) if expected.CL_QUILLON in refs)
    gold[expected.CL_QUILLON_RUMOR] = f"demo-{quillon}"
    topic = {}  # near-miss events share a topic: two events of one kind
    for a, b in expected.NEAR_MISS_PAIRS:
        if a in gold and b in gold:
            topic.setdefault(gold[a], f"kind-{gold[a]}")
            topic[gold[b]] = topic[gold[a]]
    docs = []
    for art in _content.ARTICLES:
        path = art["path"]
        if path not in gold:
            continue
        text = "\n".join([art.get("dek") or "", *(art.get("body") or [])]).strip()
        docs.append({"id": path, "title": art["title"], "text": text, "source": art["outlet"],
                     "topic": topic.get(gold[path], gold[path]), "published": art.get("published")})
    return docs, {d["id"]: gold[d["id"]] for d in docs}


def spread(docs: Docs, gold: Gold, span_days: int = 20, per_day: int = 1, seed: int = 0,
           max_gap: int = 3, apart: int | None = None) -> Docs:
    """Each document gets a ``day`` (ISO date): its event's documents over following days.

    ``apart``: the events of one topic come one after the other, the next starting ``apart``
    days after the previous one's last document (a recurrence weeks later, as ECB+'s
    subtopics are in the world); None: every event starts anywhere in the span (the hard case:
    two events of one kind running at the same time).
    """
    rng = random.Random(seed)
    by_event: dict[str, list[dict]] = defaultdict(list)
    for d in sorted(docs, key=lambda d: (str(d.get("published") or ""), d["id"])):
        by_event[gold[d["id"]]].append(d)
    topic_end: dict[str, int] = {}
    out = []
    for event in sorted(by_event):
        day = rng.randrange(span_days)
        members = by_event[event]
        topic = str(members[0].get("topic", event))
        if apart is not None and topic in topic_end:
            day = topic_end[topic] + apart
        for k in range(0, len(members), per_day):
            for d in members[k:k + per_day]:
                when = datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), tzinfo=timezone.utc)
                out.append(dict(d, day=(FIRST_DAY + timedelta(days=day)).isoformat(),
                                published_at=when + timedelta(hours=rng.uniform(7, 23))))
            topic_end[topic] = day
            day += rng.randint(1, max_gap)
    return sorted(out, key=lambda d: (d["day"], d["id"]))


def simulate(docs: Docs, window_days: int = 14, revision: Revision | None = None) -> dict[str, int]:
    """doc id -> thread id, night after night (see module docstring).

    ``revision``: after each night's threads, revise the window's threads
    (`bench.thread_revisions`, a candidate not in the pipeline); None: the pipeline's rule.
    """
    by_day: dict[str, list[dict]] = defaultdict(list)
    for d in docs:
        by_day[d["day"]].append(d)
    thread_of_story: dict[int, int] = {}
    earlier: list[tuple[PreviousStory, str]] = []
    story_docs: dict[int, list[str]] = {}
    next_id = 0

    def new_thread() -> int:
        nonlocal next_id
        next_id += 1
        return next_id
    for day in sorted(by_day):
        today = by_day[day]
        doc_by_id = {d["id"]: d for d in today}
        groups = cluster([{k: d[k] for k in ("id", "title", "text", "published_at", "source")} for d in today])
        first = (date.fromisoformat(day) - timedelta(days=window_days)).isoformat()
        previous = [p for p, _ in earlier if p.day >= first]
        current = []
        for k, g in enumerate(groups):
            members = [doc_by_id[i] for i in g]
            current.append((f"c{k}", members[0]["title"], "\n".join(m["text"] for m in members)[:20000],
                            frozenset(m["id"] for m in members)))
        links = link_stories(current, previous)
        touched = set()
        for (key, title, text, hashes), g in zip(current, groups):
            cont = links.get(key)
            thread = thread_of_story[cont.previous_id] if cont is not None else new_thread()
            story_id = len(thread_of_story) + 1
            thread_of_story[story_id] = thread
            touched.add(thread)
            earlier.append((PreviousStory(id=story_id, day=day, title=title, text=text, published=False,
                                          content_hashes=hashes, thread_id=thread), key))
            story_docs[story_id] = list(g)
        if revision is not None:
            _revise(earlier, first, touched, new_thread, revision, thread_of_story)
    return {doc_id: thread_of_story[story_id] for story_id, g in story_docs.items() for doc_id in g}


def _revise(earlier: list[tuple[PreviousStory, str]], first: str, touched: set[int], new_thread,
            revision: Revision, thread_of_story: dict[int, int]) -> None:
    """Apply `bench.thread_revisions.revise` to the window's stories and write the threads back."""
    window = [p for p, _ in earlier if p.day >= first]
    stories = [WindowStory(id=p.id, day=p.day, title=p.title, text=p.text, thread=thread_of_story[p.id]) for p in window]
    revise(stories, touched, new_thread, revision)
    for p, st in zip(window, stories):
        p.thread_id = thread_of_story[p.id] = st.thread


@dataclass
class ThreadScores:
    precision: float  # BCubed over documents: thread vs gold event
    recall: float
    f1: float
    purity: float  # share of documents whose thread holds one gold event only
    split_events: int  # gold events spread over more than one thread
    merged_threads: int  # threads that hold more than one gold event
    cross_topic: int  # threads that hold events of different topics (unrelated stories)
    same_kind: int  # threads that hold two events of one topic (a near miss merged)


def score(doc_thread: dict[str, int], gold: Gold, topic: dict[str, str]) -> ThreadScores:
    """How threads match gold events; ``topic`` maps doc id to its topic (two events of one kind share it)."""
    from bench.clustering import bcubed

    groups: dict[int, list[str]] = defaultdict(list)
    for doc_id, t in doc_thread.items():
        groups[t].append(doc_id)
    p, r, f = bcubed(list(groups.values()), {d: gold[d] for d in doc_thread})
    pure_docs = sum(len(g) for g in groups.values() if len({gold[d] for d in g}) == 1)
    threads_of_event: dict[str, set[int]] = defaultdict(set)
    for doc_id, t in doc_thread.items():
        threads_of_event[gold[doc_id]].add(t)
    merged = [g for g in groups.values() if len({gold[d] for d in g}) > 1]
    cross = sum(1 for g in merged if len({topic[d] for d in g}) > 1)
    same_kind = sum(1 for g in merged if any(
        len({gold[d] for d in g if topic[d] == t}) > 1 for t in {topic[d] for d in g}))
    return ThreadScores(precision=p, recall=r, f1=f, purity=pure_docs / max(1, len(doc_thread)),
                        split_events=sum(1 for ts in threads_of_event.values() if len(ts) > 1),
                        merged_threads=len(merged), cross_topic=cross, same_kind=same_kind)


def ecb_collection(path: str) -> tuple[Docs, Gold]:
    """ECB+ (`bench.clustering.load`) with each document's topic; no dates (``spread`` gives days)."""
    from pathlib import Path

    from bench.clustering import load

    docs, gold = load(Path(path))
    for d in docs:
        d["source"] = re.sub(r"^https?://(www\.)?([^/]+).*$", r"\2", d.get("url") or "") or "unknown"
        d["topic"] = d.get("topic") or gold[d["id"]]
    return docs, gold
