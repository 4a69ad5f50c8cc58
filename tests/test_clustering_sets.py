"""The near-miss days of bench.clustering_sets: each states what the day must hold."""
from bench.clustering_sets import lone_near_misses


def _doc(doc_id: str, topic: str) -> dict:
    return {"id": doc_id, "title": doc_id, "text": doc_id, "topic": topic, "published_at": None}


def _collection() -> tuple[list[dict], dict[str, str]]:
    # topic 1: a big event (7 documents) and a small one (2); topic 2: one event only; topic 3: two small events
    layout = {"1a": ("1", 7), "1b": ("1", 2), "2a": ("2", 8), "3a": ("3", 2), "3b": ("3", 3)}
    docs, gold = [], {}
    for event, (topic, n) in layout.items():
        for k in range(n):
            docs.append(_doc(f"{event}-{k}", topic))
            gold[f"{event}-{k}"] = event
    return docs, gold


def test_a_day_per_lone_item_beside_the_big_sibling_only():
    docs, gold = _collection()
    days = lone_near_misses(docs, gold, per_direction=2, least=6)
    # only topic 1 has two events with one of six or more documents: its big event is 1a
    assert [(d.sibling, d.lone.split("-")[0]) for d in days] == [("1a", "1b"), ("1a", "1b")]
    assert len({d.lone for d in days}) == 2
    for day in days:
        ids = [d["id"] for d in day.docs]
        assert [i for i in ids if i.startswith("1b")] == [day.lone]  # the other event: its lone item only
        assert len(ids) == len(docs) - 1  # everything else stays
        assert day.gold == {i: gold[i] for i in ids}


def test_seeded_and_repeatable():
    docs, gold = _collection()
    first = [d.lone for d in lone_near_misses(docs, gold, per_direction=1, seed=3)]
    assert first == [d.lone for d in lone_near_misses(docs, gold, per_direction=1, seed=3)]
