"""Clustering: always a partition, near-duplicates merge, the demo day's stories come out right."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from html import unescape
from importlib import resources

import pytest

from newsdesk.demo import EXPECTED_STORIES, NEAR_MISS_PAIRS
from newsdesk.demo import expected as E
from summarizer.clustering import cluster
from summarizer.neardup import near_duplicate_groups

BASE = "http://demo.invalid"
T0 = datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc)

LAYOFF = (
    "Quillon said on Tuesday it will cut 1,200 jobs, about 18% of its staff, as AI agents take over "
    "customer support. Chief executive Dana Whitlow told employees the cuts fall mostly in Dublin "
    "and Austin. Quillon shares rose 4% in early trading."
)
FUNDING = (
    "Kestrel Cloud raised $640 million in a Series D round led by Northgate Capital, valuing the "
    "GPU cloud provider at $5.2 billion. Kestrel will spend the money on data centres in Oslo "
    "and Phoenix, chief executive Amara Osei said."
)


def _partition_ok(groups: list[list[str]], ids: list[str]) -> None:
    flat = [i for g in groups for i in g]
    assert sorted(flat) == sorted(set(ids)), "every distinct id exactly once"
    assert all(g for g in groups), "no empty group"


def _doc(i: str, title: str, text: str, **kw) -> dict:
    return {"id": i, "title": title, "text": text, "url": f"https://x.example/{i}", **kw}


BAD_INPUTS = {
    "empty": [],
    "one item": [_doc("a", "Quillon cuts jobs", LAYOFF)],
    "empty texts": [_doc("a", "", ""), _doc("b", "", ""), _doc("c", "Only a title", "")],
    "missing fields": [{"id": "a"}, {"id": "b", "title": None, "text": None}, {"doc_id": "c", "text": "x"}],
    "non-English": [
        _doc("ja", "新しいモデル", "メリディアンは新しい言語モデルを発表した。"),
        _doc("ru", "Новая модель", "Компания представила новую языковую модель."),
        _doc("de", "Neues Modell", "Das Unternehmen stellte ein neues Sprachmodell vor."),
        _doc("en", "Quillon cuts jobs", LAYOFF),
    ],
    "no dates and mixed dates": [
        _doc("a", "Quillon cuts 1,200 jobs", LAYOFF, published_at=None),
        _doc("b", "Quillon to cut 1,200", LAYOFF[:150], published_at=T0),
        _doc("c", "Kestrel raises $640M", FUNDING, published_at="not a date"),
    ],
    "repeated ids": [
        _doc("a", "Quillon cuts 1,200 jobs", LAYOFF),
        _doc("a", "Kestrel raises $640M", FUNDING),
        _doc("b", "Kestrel raises $640M", FUNDING),
    ],
    "punctuation only": [_doc("a", "!!!", "... ??? ---"), _doc("b", "", "$$$ %%%")],
}


@pytest.mark.parametrize("docs", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_inputs_still_partition(docs: list[dict]) -> None:
    ids = [str(d.get("id", d.get("doc_id"))) for d in docs]
    _partition_ok(cluster(docs), ids)


def test_repeated_id_is_clustered_by_first_occurrence() -> None:
    groups = cluster(BAD_INPUTS["repeated ids"])
    assert sorted(map(sorted, groups)) == [["a"], ["b"]]


def test_exact_and_near_duplicates_merge_and_others_do_not() -> None:
    copy = LAYOFF.replace("Tuesday", "Tuesday morning") + " Reporting by the wire desk."
    docs = [
        _doc("wire1", "Quillon to cut 1,200 jobs", LAYOFF),
        _doc("wire2", "Quillon to cut 1,200 jobs | Harbor City", copy),
        _doc("same", "Quillon to cut 1,200 jobs", LAYOFF),
        _doc("other", "Kestrel Cloud raises $640M", FUNDING),
    ]
    assert sorted(map(sorted, near_duplicate_groups(docs))) == [["other"], ["same", "wire1", "wire2"]]
    assert sorted(map(sorted, cluster(docs))) == [["other"], ["same", "wire1", "wire2"]]


PARAPHRASE = (
    "Support software maker Quillon is laying off 1,200 people, or 18% of its workforce, after "
    "AI agents took over customer support work. Dana Whitlow, the chief executive, said most "
    "roles go in Dublin and Austin."
)


def test_same_event_words_far_apart_in_time_stay_apart() -> None:
    """Not copies (near-duplicates ignore time), only alike: two months apart is two events."""
    far = [
        _doc("a", "Quillon cuts jobs", LAYOFF, published_at=T0),
        _doc("b", "Quillon lays off staff", PARAPHRASE, published_at=T0 + timedelta(days=60)),
    ]
    assert len(cluster(far)) == 2
    near = [dict(far[0]), dict(far[1], published_at=T0 + timedelta(hours=5))]
    assert len(cluster(near)) == 1


def test_follow_up_days_later_joins_its_event_and_dates_are_optional() -> None:
    """Coverage goes on for days: six days apart is still one event; no dates, same answer."""
    later = [
        _doc("a", "Quillon cuts jobs", LAYOFF, published_at=T0),
        _doc("b", "Quillon lays off staff", PARAPHRASE, published_at=T0 + timedelta(days=6)),
        _doc("c", "Kestrel raises $640M", FUNDING, published_at=T0 + timedelta(days=6)),
    ]
    assert sorted(map(sorted, cluster(later))) == [["a", "b"], ["c"]]
    undated = [dict(d, published_at=None) for d in later]
    assert sorted(map(sorted, cluster(undated))) == [["a", "b"], ["c"]]


def test_ten_thousand_singletons_and_copies_partition() -> None:
    docs = [_doc(f"d{k}", f"Item {k}", f"Unique words token{k} alpha{k % 97} beta{k % 89}") for k in range(2000)]
    docs += [_doc(f"c{k}", "Quillon cuts jobs", LAYOFF) for k in range(50)]
    groups = cluster(docs)
    _partition_ok(groups, [d["id"] for d in docs])
    copies = [g for g in groups if any(i.startswith("c") for i in g)]
    assert len(copies) == 1 and len(copies[0]) == 50


# --- the demo day -------------------------------------------------------------

_SITE = resources.files("newsdesk.demo") / "sample_day"
_TAG = re.compile(r"<[^>]+>")


def _read(*parts: str) -> str:
    return (_SITE.joinpath(*parts)).read_text(encoding="utf-8").replace("{{BASE_URL}}", BASE)


def _article(path: str) -> dict:
    from extractors import extract_article

    name = path.lstrip("/")
    page = _SITE / "site"
    for part in name.split("/"):
        page = page / part
    if not page.is_file():
        page = _SITE / "site" / (name + ".html")
    html = page.read_text(encoding="utf-8").replace("{{BASE_URL}}", BASE)
    art = extract_article(html, BASE + path)
    assert art is not None and art.text, path
    return {"title": art.title or "", "text": art.text, "published_at": art.published_at}


def _posts() -> dict[str, dict]:
    """Every post of the sample day's API recordings: ref -> {title, text, published_at}."""
    out: dict[str, dict] = {}

    def when(s: str) -> datetime:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))

    for handle in ("tensortribune.example", "priya.lumenlabs.example"):
        for entry in json.loads(_read("api", "bluesky", f"{handle}.json"))["feed"]:
            post = entry["post"]
            out[post["uri"]] = {"title": "", "text": post["record"]["text"],
                                "published_at": when(post["record"]["createdAt"])}
    for status in json.loads(_read("api", "mastodon", "statuses", "109348215566201874.json")):
        text = unescape(_TAG.sub(" ", status["content"]))
        out[status["uri"]] = {"title": "", "text": text, "published_at": when(status["created_at"])}
    for child in json.loads(_read("api", "reddit", "modelwatch.json"))["data"]["children"]:
        data = child["data"]
        out[f"reddit:{data['name']}"] = {
            "title": data["title"], "text": data.get("selftext") or "",
            "published_at": datetime.fromtimestamp(data["created_utc"], timezone.utc),
        }
    for hit in json.loads(_read("api", "hackernews", "search_by_date.json"))["hits"]:
        out[f"hn:{hit['objectID']}"] = {"title": hit["title"], "text": hit.get("story_text") or "",
                                        "published_at": when(hit["created_at"])}
    return out


@pytest.fixture(scope="module")
def demo_docs() -> dict[str, dict]:
    """The day's in-window items as clustering docs, keyed by ref.

    Built as the nightly flow builds them: a post carries the title and text of
    the article it links to, and a thread's self-replies are folded into its
    first post (MERGED_INTO), so they are not docs of their own.
    """
    posts = _posts()
    refs = [r for group in EXPECTED_STORIES for r in group if r not in E.MERGED_INTO] + E.NOISE
    docs: dict[str, dict] = {}
    for ref in refs:
        if E.is_post_ref(ref):
            post = dict(posts[ref])
            extra = [r for r, root in E.MERGED_INTO.items() if root == ref]
            parts = [post["text"]] + [posts[r]["text"] for r in extra]
            for path in E.POSTS[ref]["links"]:
                linked = _article(path)
                parts.append(linked["title"] + "\n" + linked["text"])
            post["text"] = "\n".join(p for p in parts if p)
            docs[ref] = post
        else:
            docs[ref] = _article(ref)
    return docs


@pytest.fixture(scope="module")
def demo_groups(demo_docs: dict[str, dict]) -> list[list[str]]:
    groups = cluster([{"id": ref, "url": ref, **doc} for ref, doc in demo_docs.items()])
    _partition_ok(groups, list(demo_docs))
    return groups


def _group_of(groups: list[list[str]], ref: str) -> int:
    ref = E.MERGED_INTO.get(ref, ref)
    return next(k for k, g in enumerate(groups) if ref in g)


@pytest.mark.parametrize("story", EXPECTED_STORIES, ids=E.EXPECTED_STORY_TITLES)
def test_demo_story_is_one_group_of_its_own(demo_groups: list[list[str]], story: list[str]) -> None:
    found = {_group_of(demo_groups, ref) for ref in story}
    assert len(found) == 1, f"split over {[demo_groups[k] for k in found]}"
    members = {E.MERGED_INTO.get(r, r) for r in story}
    extra = [r for r in demo_groups[found.pop()] if r not in members and r not in E.NOISE]
    assert not extra, f"merged with another story's items: {extra}"


@pytest.mark.parametrize("pair", NEAR_MISS_PAIRS, ids=[f"{a}~{b}" for a, b in NEAR_MISS_PAIRS])
def test_demo_near_misses_stay_apart(demo_groups: list[list[str]], pair: tuple[str, str]) -> None:
    assert _group_of(demo_groups, pair[0]) != _group_of(demo_groups, pair[1])


def test_demo_posts_alone_join_their_story(demo_docs: dict[str, dict]) -> None:
    """Without the linked article's text, a post still finds its story by its own words."""
    posts = _posts()
    docs = [{"id": r, **d} for r, d in demo_docs.items() if not E.is_post_ref(r)]
    alone = [E.BSKY_ATLAS, E.REDDIT_ATLAS, E.REDDIT_SPARROW, E.HN_KESTREL]
    docs += [{"id": r, **posts[r]} for r in alone]
    groups = cluster(docs)
    for ref in alone:
        story = next(s for s in EXPECTED_STORIES if ref in s)
        article = next(r for r in story if not E.is_post_ref(r))
        assert _group_of(groups, ref) == _group_of(groups, article), ref


def test_tfidf_rows_are_normalised_bit_for_bit_as_scikit_learn_does_it() -> None:
    """Clustering no longer imports scikit-learn (a second per night); its L2 step must not move a bit."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    from summarizer.similarity import l2_rows

    rng = np.random.default_rng(13)
    for seed in range(60):
        n, k = int(rng.integers(1, 40)), int(rng.integers(1, 300))
        m = sp.random(n, k, density=float(rng.uniform(0.02, 0.5)), format="csr", dtype=np.float32, random_state=seed)
        m.data = (1 + np.log(rng.integers(1, 9, size=m.nnz).astype(np.float32))) * rng.uniform(0.5, 6, m.nnz).astype(np.float32)
        m = sp.vstack([m, sp.csr_matrix((1, k), dtype=np.float32)]).tocsr()  # an empty row stays zero
        ours, theirs = l2_rows(m), normalize(m).astype(np.float32)
        assert ours.dtype == np.float32
        assert np.array_equal(ours.indptr, theirs.indptr) and np.array_equal(ours.indices, theirs.indices)
        assert np.array_equal(ours.data, theirs.data)


def test_stop_words_are_scikit_learns() -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from summarizer.textfeatures import _stop_words

    assert _stop_words() == frozenset(ENGLISH_STOP_WORDS)


def _names_sentence_by_sentence(doc, n: int = 3) -> tuple[list[str], list[str]]:
    """The definition `lead_and_body_entities` must match: names of each sentence, in order."""
    from summarizer.textfeatures import entities, sentences

    parts = sentences(doc.text)
    head = sentences(doc.title) if doc.title and not (parts and parts[0].startswith(doc.title)) else []
    per = [entities(s) for s in head + parts]
    return [e for x in per[: len(head) + n] for e in x], [e for x in per for e in x]


@pytest.mark.parametrize("title, text", [
    ("", "iPhone _Foo 1,000abc Ørsted ªbc É. 12.5% U.S.A. O'Neil’s McDonald's 7 x.\n\nY! z? Ab\u2028Cd \x85Ef"),
    ("Acme cuts 1,100 jobs", "Acme cuts 1,100 jobs. The Acme layoffs hit Berlin.   Zürich next?\nélan Élan ² ٣٤ end"),
    ("Title only", "  \n\n "),
    ("Lead. With two", "One. Two! Three? Four. Five Names Here"),
])
@pytest.mark.parametrize("n", [0, 1, 3, 5])
def test_names_found_in_one_pass_are_those_of_each_sentence(title: str, text: str, n: int) -> None:
    from summarizer.textfeatures import Doc, lead_and_body_entities

    doc = Doc(id="d", title=title, text=text)
    assert lead_and_body_entities(doc, n) == _names_sentence_by_sentence(doc, n)
