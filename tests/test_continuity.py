"""Continuity: updates, repeats, new stories; one previous story continued at most once."""
from __future__ import annotations

import pytest

from summarizer.continuity import Continuation, PreviousStory, link_stories

ATLAS = ("Meridian AI launched Atlas-3, a model with a one million token context window, priced at "
         "$2 per million input tokens. Atlas-3 scores 71.4% on CodeTrail, Meridian said in San Mateo.")
ATLAS_DAY2 = ("Developers testing Meridian AI's Atlas-3 report that the one million token context window "
              "holds up; Meridian cut the Atlas-3 price to $1.50 per million input tokens after launch.")
KESTREL = ("Kestrel Cloud raised $640 million in a Series D led by Northgate Capital, valuing the GPU "
           "cloud provider at $5.2 billion, chief executive Amara Osei said in Oslo.")
QUILLON = ("Quillon will cut 1,200 jobs, about 18% of staff, as AI agents take over customer support, "
           "chief executive Dana Whitlow told employees in Dublin.")
BRIGHTMOOR = ("Brightmoor Analytics is cutting 340 jobs, 9% of its workforce, after losing its largest "
              "contract, chief executive Tomas Rell said in Leeds.")
GARDEN = "The city botanical garden opens a new glasshouse for tropical orchids this spring."


def prev(id: int, day: str, title: str, text: str, published: bool = True, hashes: set[str] = frozenset()) -> PreviousStory:
    return PreviousStory(id=id, day=day, title=title, text=text, published=published, content_hashes=frozenset(hashes))


def cur(key: str, title: str, text: str, hashes: set[str] = frozenset()) -> tuple[str, str, str, frozenset[str]]:
    return (key, title, text, frozenset(hashes))


PREVIOUS = [
    prev(1, "2026-11-18", "Meridian AI launches Atlas-3", ATLAS, published=True, hashes={"h-atlas-1", "h-atlas-2"}),
    prev(2, "2026-11-18", "Kestrel Cloud raises $640M", KESTREL, published=False, hashes={"h-kestrel"}),
    prev(3, "2026-11-17", "Quillon cuts 1,200 jobs", QUILLON, published=True, hashes={"h-quillon"}),
]

# (name, current story, expected Continuation fields or None)
CASES = [
    ("update: similar text, new items", cur("a", "Atlas-3 price cut", ATLAS_DAY2, {"h-new"}), (1, False)),
    ("repeat: published, nothing new", cur("a", "Atlas-3", ATLAS, {"h-atlas-1"}), (1, True)),
    ("update: published, one item new", cur("a", "Atlas-3", ATLAS, {"h-atlas-1", "h-new"}), (1, False)),
    ("shared item links despite other words", cur("a", "Orchids", GARDEN, {"h-quillon"}), (3, True)),
    ("not published: an update, never a repeat", cur("k", "Kestrel", KESTREL, {"h-kestrel"}), (2, False)),
    ("near-miss event is new", cur("b", "Brightmoor cuts 340 jobs", BRIGHTMOOR, {"h-b"}), None),
    ("unrelated is new", cur("g", "Orchids", GARDEN, {"h-g"}), None),
    ("empty text, no hashes is new", cur("e", "", "", set()), None),
]


@pytest.mark.parametrize("current,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_link(current, expected) -> None:
    links = link_stories([current], PREVIOUS)
    if expected is None:
        assert links == {}
    else:
        got = links[current[0]]
        assert isinstance(got, Continuation)
        assert (got.previous_id, got.is_repeat) == expected
        assert 0.0 <= got.similarity <= 1.0 + 1e-6


def test_one_previous_story_is_continued_once_best_match_wins() -> None:
    weaker = cur("weak", "Atlas-3 notes", "Atlas-3 from Meridian AI: long context. " + GARDEN, {"h-w"})
    stronger = cur("strong", "Atlas-3", ATLAS_DAY2, {"h-s"})
    links = link_stories([weaker, stronger], PREVIOUS)
    assert links["strong"].previous_id == 1
    assert "weak" not in links


def test_shared_item_beats_similarity() -> None:
    copycat = cur("copy", "Atlas-3", ATLAS, {"h-x"})
    sharer = cur("share", "Atlas-3 developer reports", ATLAS_DAY2, {"h-atlas-2", "h-y"})
    links = link_stories([copycat, sharer], PREVIOUS)
    assert links["share"].previous_id == 1
    assert "copy" not in links


def test_latest_day_wins_between_equally_similar_stories() -> None:
    older = prev(10, "2026-11-16", "Atlas-3", ATLAS, hashes={"o"})
    newer = prev(11, "2026-11-18", "Atlas-3", ATLAS, hashes={"n"})
    links = link_stories([cur("a", "Atlas-3", ATLAS, {"c"})], [older, newer])
    assert links["a"].previous_id == 11


def test_several_stories_link_independently() -> None:
    current = [cur("atlas", "Atlas-3", ATLAS_DAY2, {"n1"}), cur("quillon", "Quillon", QUILLON, {"h-quillon"}),
               cur("brightmoor", "Brightmoor", BRIGHTMOOR, {"n2"})]
    links = link_stories(current, PREVIOUS)
    assert {k: (v.previous_id, v.is_repeat) for k, v in links.items()} == {"atlas": (1, False), "quillon": (3, True)}


def test_empty_inputs() -> None:
    assert link_stories([], PREVIOUS) == {}
    assert link_stories([cur("a", "Atlas-3", ATLAS)], []) == {}


def test_blocked_pairs_are_exactly_the_dense_pairs_above_the_threshold() -> None:
    """The sparse search must find every pair the dense matrix has at or above LINK_THRESHOLD."""
    from summarizer.continuity import LINK_THRESHOLD, _similar_pairs, similarities

    texts = [ATLAS, ATLAS_DAY2, KESTREL, QUILLON, BRIGHTMOOR, GARDEN]
    current = [cur(f"c{k}", t.split(",")[0], t + " " + texts[(k + 1) % 6][:80]) for k, t in enumerate(texts)]
    previous = [prev(k, "2026-11-17", t.split(" ")[0], t) for k, t in enumerate(texts * 2)]
    dense = similarities(current, previous)
    found = _similar_pairs(current, previous, {})
    want = {(i, j) for i, j in zip(*dense.nonzero()) if dense[i, j] >= LINK_THRESHOLD}
    assert want and set(found) == want
    assert all(abs(found[k] - dense[k]) < 1e-5 for k in want)


def test_a_thread_is_continued_once_a_night_like_one_story() -> None:
    """Two earlier days of one thread, two stories tonight each like one of them: only the best joins."""
    day1 = PreviousStory(id=20, day="2026-11-17", title="Atlas-3", text=ATLAS, published=False,
                         content_hashes=frozenset({"d1"}), thread_id=7)
    day2 = PreviousStory(id=21, day="2026-11-18", title="Atlas-3 price cut", text=ATLAS_DAY2, published=False,
                         content_hashes=frozenset({"d2"}), thread_id=7)
    current = [cur("copy", "Atlas-3", ATLAS, {"x"}), cur("update", "Atlas-3 price cut", ATLAS_DAY2, {"y"})]
    links = link_stories(current, [day1, day2])
    assert len(links) == 1
    # Without thread ids each earlier story is continued once: both link.
    apart = [PreviousStory(**{**vars(p), "thread_id": None}) for p in (day1, day2)]
    assert {k: v.previous_id for k, v in link_stories(current, apart).items()} == {"copy": 20, "update": 21}
