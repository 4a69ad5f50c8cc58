"""The fallbacks behind trafilatura, each against small pages stating the result.

`tests/fixtures/paragraphs/<name>.html` is a page whose story is split
across containers; `<name>.json` gives the paragraph trafilatura found
(`found`) and what the paragraph fallback must and must not return.
Adding a case needs no new code.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from extractors.article import extract_article
from extractors.article_captions import strip_caption
from extractors.article_pitches import is_call_to_action
from extractors.article_clean import clean_text, cut_trailing_section, strip_tail_lines
from extractors.article_headings import restore_headings
from extractors.article_layout import is_flattened_table
from extractors.article_merge import dropped_inside_body, merge_interior
from extractors.article_paragraphs import prose_paragraphs
from extractors.article_repeats import drop_repeated_passages
from extractors.article_teasers import drop_teasers
from extractors.article_text import (
    PageRuns, could_be_small_share, is_blob, is_small_share, restructure_blob, unlinked_words, visible_texts,
)
from lxml.html import HtmlElement, document_fromstring

PARAGRAPHS = Path(__file__).parent / "fixtures" / "paragraphs"
PARAGRAPH_CASES = sorted(p.stem for p in PARAGRAPHS.glob("*.json"))


def test_paragraph_fixtures_present() -> None:
    assert PARAGRAPH_CASES


@pytest.mark.parametrize("name", PARAGRAPH_CASES)
def test_prose_paragraphs(name: str) -> None:
    spec = json.loads((PARAGRAPHS / f"{name}.json").read_text(encoding="utf-8"))
    tree = document_fromstring((PARAGRAPHS / f"{name}.html").read_bytes())
    text = prose_paragraphs(tree, spec["found"])
    for phrase in spec["must_contain"]:
        assert phrase in text, phrase
    for phrase in spec["must_not_contain"]:
        assert phrase not in text, phrase


def test_retry_only_when_the_result_is_a_small_share_of_the_page() -> None:
    story = "<p>" + " ".join(["word"] * 300) + "</p>"
    menu = "<ul>" + "".join(f"<li><a href='/{i}'>Section {i}</a></li>" for i in range(50)) + "</ul>"
    tree = document_fromstring(f"<html><body>{menu}<div>{story}<script>var x = 1;</script></div></body></html>")
    page_words = unlinked_words(tree)
    assert page_words == 300  # links and scripts are not what a body could hold
    assert is_small_share("", page_words)
    assert is_small_share(" ".join(["word"] * 40), page_words)
    assert not is_small_share(" ".join(["word"] * 280), page_words)
    # the cheap pre-check never rules out a retry the exact count would make
    assert could_be_small_share("", tree) and could_be_small_share(" ".join(["word"] * 40), tree)
    assert not could_be_small_share(" ".join(["word"] * 280), tree)


def test_visible_texts_are_the_text_nodes_outside_scripts_styles_and_noscript() -> None:
    tree = document_fromstring(
        "<html><body>lead<div>one<script>var a = 1;</script>after script<b>bold</b>tail"
        "<noscript><p>enable <i>js</i></p>noscript tail</noscript>after noscript"
        "<style>p {}</style><p>last</p></div>end</body></html>"
    )
    body = tree.find("body")
    expected = ["lead", "one", "after script", "bold", "tail", "after noscript", "last", "end"]
    assert [str(t) for t in visible_texts(body)] == expected
    xpath = ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
    assert [str(t) for t in visible_texts(body)] == [str(t) for t in body.xpath(xpath)]
    assert visible_texts(tree.find(".//noscript/p")) == []  # inside a hidden subtree, nothing is visible


@pytest.mark.parametrize(
    ("text", "flattened"),
    [("| Home News | Story text here |\n| a | b |", True), ("A paragraph.\n| a | b |\nAnother paragraph.", False), ("", False)],
)
def test_flattened_table(text: str, flattened: bool) -> None:
    assert is_flattened_table(text) is flattened


def test_truncated_doctype_without_head_is_still_parsed() -> None:
    body = "".join(f"<p>Sentence number {i} of a story long enough to count as an article body here.</p>" for i in range(12))
    art = extract_article(f"<!DOCTYPE htm<body><div>{body}</div></body>".encode(), "https://example.com/a")
    assert art is not None and "Sentence number 3" in art.text


_BODY = [f"Paragraph {i} of the story says something long enough to be read as prose by anyone." for i in range(6)]


@pytest.mark.parametrize(
    ("line", "dropped"),
    [("Last updated: April 21, 2025", True), ("By Rick Steves", True), ("by Jacob Trussell—10 min read", True),
     ("UPDATED: Tue., Nov. 19, 2019", True), ("5 min read", True), ("Table of Contents", True),
     ("3 MIN. READ", True), ("Jun 08, 2023 • 11 Minute Read", True), ("- 2 min read", True),
     ("This article contains affiliate links that may earn us a commission at no extra cost to you.", True),
     ("By the end of the week the council had voted to keep the tram line open.", False),
     ("The meeting was held on July 29, 2025 in Paris.", False)],
)
def test_date_byline_and_disclosure_lines_dropped_at_the_edges(line: str, dropped: bool) -> None:
    for text in ("\n".join([line, *_BODY]), "\n".join([*_BODY, line])):
        assert (line not in clean_text(text)) is dropped


def test_date_line_kept_in_the_middle() -> None:
    """A dated entry inside the body is content (a timeline), not page furniture."""
    text = "\n".join([*_BODY[:3], "July 29, 2025", *_BODY[3:]])
    assert "July 29, 2025" in clean_text(text)


_STORY = [f"Paragraph {i} of the story says something long enough to be read as prose by anyone who opens it." for i in range(5)]
_TEASERS = ["Harbour car park to close", "New pontoon opens at the north quay", "Island school wins rowing cup"]


@pytest.mark.parametrize(
    ("lines", "kept"),
    [
        # a trailing section of short lines after its heading: cut, heading included
        ([*_STORY, "Related articles", *_TEASERS], _STORY),
        ([*_STORY, "You may also like:", *_TEASERS], _STORY),
        ([*_STORY, "Read This Next", *_TEASERS], _STORY),
        ([*_STORY, "You'll Also Love", *_TEASERS], _STORY),
        ([*_STORY, "About the author", "Jane Doe", "Senior editor"], _STORY),
        ([*_STORY, "3 Comments", "Great read", "Thanks for this"], _STORY),
        # the story goes on in full paragraphs after the heading: kept
        ([*_STORY[:3], "Related coverage", *_STORY[3:]], [*_STORY[:3], "Related coverage", *_STORY[3:]]),
        # such a heading in the first half of the text is a section of the story: kept
        (["Related articles", *_TEASERS, *_STORY], ["Related articles", *_TEASERS, *_STORY]),
        # "See also" lists and references are content in the gold of the shared sets: not a trailing section
        ([*_STORY, "See also", *_TEASERS], [*_STORY, "See also", *_TEASERS]),
        ([*_STORY, "References", *_TEASERS], [*_STORY, "References", *_TEASERS]),
        # an author box near the end is cut even though its bio is in full sentences
        ([*_STORY, "About the Author", _STORY[0].replace("Paragraph 0 of the story", "Jane Doe is a harbour reporter who")], _STORY),
        # the same heading earlier in the text, with more story after it: kept
        ([*_STORY[:1], "About the author", *_STORY[1:]], [*_STORY[:1], "About the author", *_STORY[1:]]),
        # a trailing section higher up still cuts from there
        ([*_STORY, "Related articles", *_TEASERS, "About the author", "Jane Doe", "Senior editor"], _STORY),
    ],
)
def test_cut_trailing_section(lines: list[str], kept: list[str]) -> None:
    assert cut_trailing_section(lines) == kept


_CHOSEN = ["Intro paragraph of the story.", "Middle paragraph of the story.", "Last paragraph of the story."]


@pytest.mark.parametrize(
    ("recall", "expected"),
    [
        # headings and list items recall mode found between the chosen ends are taken over
        (["Intro paragraph of the story.", "Section heading", "Middle paragraph of the story.", "- item one",
          "- item two", "Last paragraph of the story."],
         ["Intro paragraph of the story.", "Section heading", "Middle paragraph of the story.", "- item one",
          "- item two", "Last paragraph of the story."]),
        # what recall mode adds before the first or after the last chosen line is not
        (["Menu Home News", *_CHOSEN, "Related: another story"], _CHOSEN),
        (["Menu Home News", _CHOSEN[0], "Section heading", *_CHOSEN[1:], "Footer"],
         [_CHOSEN[0], "Section heading", *_CHOSEN[1:]]),
        # reordered, or a chosen line missing: the chosen text stays
        ([_CHOSEN[1], _CHOSEN[0], "Extra", _CHOSEN[2]], _CHOSEN),
        ([_CHOSEN[0], "Extra", _CHOSEN[2]], _CHOSEN),
        # more than doubled by prose: a second story, not dropped headings
        ([_CHOSEN[0], *["a long inserted line of other text here"] * 3, *_CHOSEN[1:]], _CHOSEN),
        # more than doubled by list items and table rows: the story's own lists, taken over
        ([_CHOSEN[0], *["- a long list item of the story itself"] * 3, "| a | table row |", *_CHOSEN[1:]],
         [_CHOSEN[0], *["- a long list item of the story itself"] * 3, "| a | table row |", *_CHOSEN[1:]]),
    ],
)
def test_merge_interior(recall: list[str], expected: list[str]) -> None:
    assert merge_interior("\n".join(_CHOSEN), "\n".join(recall)).splitlines() == expected


def test_dropped_inside_body_needs_a_prose_neighbour_in_the_text() -> None:
    prose = "This paragraph is long enough to count as prose of the story itself."
    tree = document_fromstring(
        f"<html><body><nav><ul><li>Home</li><li>News</li></ul><p>Menu</p></nav>"
        f"<div><p>{prose}</p><ul><li>First point</li><li>Second point</li></ul></div></body></html>"
    )
    assert dropped_inside_body(tree, prose)  # the list borders a paragraph the text holds
    assert not dropped_inside_body(tree, f"{prose}\n- First point\n- Second point")  # nothing missing
    assert not dropped_inside_body(tree, "Some other text entirely, which holds no paragraph of this page.")


@pytest.mark.parametrize(
    ("tail", "dropped"),
    [
        (["(Reporting by Ann Lee; Editing by Tom Hart)"], True),
        (["Additional reporting by Joseph Hudak"], True),
        (["Keith Bradsher contributed reporting from Hong Kong."], True),
        (["Enter your email", "Thank you for subscribing!", "Oops! Something went wrong while submitting the form."], True),
        # a credit that is not the last thing on the page is part of what follows it
        (["Additional reporting by Joseph Hudak", "The vote is expected next week, when the council meets again in full."], False),
        # a sentence that merely mentions reporting
        (["Their reporting by the end of the year had changed how the council voted on the plan."], False),
    ],
)
def test_credit_and_form_lines_dropped_at_the_end(tail: list[str], dropped: bool) -> None:
    lines = [*_STORY, *tail]
    assert (strip_tail_lines(lines) == _STORY) is dropped
    assert strip_tail_lines([*tail[:1], *_STORY]) == [*tail[:1], *_STORY]  # never at the top


@pytest.mark.parametrize(
    ("lines", "kept"),
    [
        # a label and a few headlines inside the story, prose after them: cut
        ([*_STORY[:2], "DON'T MISS", *_TEASERS, *_STORY[2:]], _STORY),
        ([*_STORY[:2], "Most read in world news", *_TEASERS[:1], *_STORY[2:]], _STORY),
        # no story prose after the block: left to the trailing-section rules
        ([*_STORY, "DON'T MISS", *_TEASERS], [*_STORY, "DON'T MISS", *_TEASERS]),
        # more headline lines than a teaser block holds: a section of the story
        ([*_STORY[:2], "Trending", *(_TEASERS * 3), *_STORY[2:]], [*_STORY[:2], "Trending", *(_TEASERS * 3), *_STORY[2:]]),
        # a label followed straight by prose is a heading of the story
        ([*_STORY[:2], "More", *_STORY[2:]], [*_STORY[:2], "More", *_STORY[2:]]),
        # one-line teasers anywhere in the text
        ([*_STORY[:2], "Related: Harbour car park to close", *_STORY[2:]], _STORY),
        ([*_STORY[:2], "[Related Stories: New pontoon opens at the north quay]", *_STORY[2:]], _STORY),
        ([*_STORY[:2], "Also on harbournews.example Island school wins rowing cup", *_STORY[2:]], _STORY),
        # the story's own further reading and asides stay
        ([*_STORY, "Also read: How the harbour was rebuilt"], [*_STORY, "Also read: How the harbour was rebuilt"]),
        ([*_STORY[:2], "(Related reading: the 1998 harbour report.)", *_STORY[2:]],
         [*_STORY[:2], "(Related reading: the 1998 harbour report.)", *_STORY[2:]]),
        ([*_STORY[:2], "Related to the vote, the council also approved a new budget for the quay and its lights.", *_STORY[2:]],
         [*_STORY[:2], "Related to the vote, the council also approved a new budget for the quay and its lights.", *_STORY[2:]]),
    ],
)
def test_teasers_inside_the_story(lines: list[str], kept: list[str]) -> None:
    assert drop_teasers(lines) == kept


def test_page_runs_run_each_mode_once() -> None:
    prose = " ".join(f"Sentence {i} of the harbour story is long enough to be kept by every mode." for i in range(12))
    tree = document_fromstring(f"<html><body><article><h1>Harbour</h1><p>{prose}</p><p>{prose}</p></article></body></html>")
    runs = PageRuns(tree, "https://harbour.example/story")
    recall = runs.text(favor_recall=True)
    assert "Sentence 3 of the harbour story" in recall
    assert runs.text(favor_recall=True) is recall  # the same result, not a second run
    assert runs.text() == runs.text(fast=True)  # fast mode is the base options
    assert runs.text(fast=False) is not runs.text()  # another mode is its own run


_LABELS = ["Pre-workout meal", "Eat 60 minutes before", "Asparagus and eggs"]
_BODY = [f"Paragraph {i} of the story says something long enough to be read as prose by anyone who opens it." for i in range(7)]


@pytest.mark.parametrize(
    ("lines", "kept"),
    [
        # the whole body rendered twice: the second copy goes
        ([*_BODY, *_BODY], _BODY),
        (["Intro line", *_BODY, "Join our newsletter", *_BODY[1:]], ["Intro line", *_BODY, "Join our newsletter"]),
        # repeated short labels (two sections of the same plan): kept
        ([*_LABELS, _STORY[0], *_LABELS, _STORY[1]], [*_LABELS, _STORY[0], *_LABELS, _STORY[1]]),
        # one repeated paragraph (a chorus, a repeated call-out): kept
        ([_STORY[0], _STORY[1], _STORY[0], _STORY[2]], [_STORY[0], _STORY[1], _STORY[0], _STORY[2]]),
        # a repeated run too short in prose to be a copied body: kept
        ([*_STORY[:2], "Break", *_STORY[:2]], [*_STORY[:2], "Break", *_STORY[:2]]),
    ],
)
def test_repeated_passages(lines: list[str], kept: list[str]) -> None:
    assert drop_repeated_passages(lines) == kept


_P1 = "The harbour opened in 1902 and has handled the island's ferries ever since."
_P2 = "Its north quay was rebuilt after the storm of 1987 with money from the county."
_P3 = "Today the harbour board plans a second pontoon for the summer ferries."


def _page(section: str) -> HtmlElement:
    return document_fromstring(f"<html><body><article><p>{_P1}</p>{section}</article></body></html>")


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        # a heading alone in its wrapper, then its paragraph: put back before that paragraph
        (f'<div class="title-wrapper"><h2>The storm</h2></div><p>{_P2}</p><p>{_P3}</p>', [_P1, "The storm", _P2, _P3]),
        # spacer paragraphs around the heading do not hide its paragraph
        (f"<p>\u200d</p><h3>The storm</h3><p>\u200d</p><div><p>{_P2}</p></div><p>{_P3}</p>", [_P1, "The storm", _P2, _P3]),
        # already in the text, even spelt with other spacing: not added twice
        (f"<h2>The  storm</h2><p>{_P2}</p><p>{_P3}</p>", [_P1, "The storm", _P2, _P3]),
        # a heading inside a link or a list item is a teaser card; one in an <aside> is chrome
        (f'<a href="/storm"><h3>The storm</h3></a><p>{_P2}</p><p>{_P3}</p>', [_P1, _P2, _P3]),
        (f"<ul><li><h3>The storm</h3></li></ul><p>{_P2}</p><p>{_P3}</p>", [_P1, _P2, _P3]),
        (f"<aside><h3>The storm</h3><p>{_P2}</p></aside><p>{_P3}</p>", [_P1, _P2, _P3]),
        # the block after the heading is not in the text: nothing to attach it to
        (f"<h2>Further reading</h2><p>Another story about ferries that the text does not hold at all.</p><p>{_P3}</p>",
         [_P1, _P2, _P3]),
    ],
)
def test_restore_headings(section: str, expected: list[str]) -> None:
    text = "\n".join([_P1, _P2, _P3]) if "The  storm" not in section else "\n".join([_P1, "The storm", _P2, _P3])
    assert restore_headings(_page(section), text).splitlines() == expected


def test_restore_headings_never_before_the_first_line() -> None:
    tree = document_fromstring(f"<html><body><h2>Site news</h2><p>{_P1}</p><p>{_P2}</p></body></html>")
    assert restore_headings(tree, f"{_P1}\n{_P2}") == f"{_P1}\n{_P2}"


_BLOB = " ".join(f"Menu Home News Sentence {i} of the harbour story runs into the captions and the footer." for i in range(20))


@pytest.mark.parametrize(
    ("text", "blob"),
    [
        (_BLOB, True),
        (f"Harbour news\n{_BLOB}", True),  # a short line beside it does not make it structured
        ("\n".join(_BLOB.split(". ")), False),  # the same words in paragraphs
        (" ".join(_BLOB.split()[:150]), False),  # too short to judge
    ],
)
def test_is_blob(text: str, blob: bool) -> None:
    assert is_blob(text) is blob


def test_restructure_blob_takes_a_mode_that_kept_the_paragraphs() -> None:
    paragraphs = [f"Paragraph {i} of the harbour story is long enough to be kept by every mode of extraction." for i in range(8)]
    tree = document_fromstring("<html><body><article>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article></body></html>")
    runs = PageRuns(tree, "https://harbour.example/story")
    blob = " ".join(["Home News Sport", *paragraphs, "Contact us"] * 2)
    restructured = restructure_blob(blob, runs)
    assert restructured.splitlines()[:2] == paragraphs[:2]
    structured = "\n".join(paragraphs)
    assert restructure_blob(structured, runs) is structured  # not a blob: left alone


_BLURB = ("Most plug-in hybrids can be charged overnight at a regular household outlet using the cable that comes "
          "with the car, and many owners never need a public charger at all during a normal working week.")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # a short description closed by a photo credit: the caption goes
        ("The harbour wall after the storm, seen from the ferry. Photo: Jane Doe", None),
        ("The old mill is now a museum. Photo by: 'Ann Lee'.", None),
        ("A portrait of the mayor in 2004 (Picture credit: Getty)", None),
        ("You can pitch a tent almost anywhere along the trail. Credit: Sam Reed", None),
        # a short line naming a stock agency, and labels pointing at the picture
        ("SolStock/E+ via Getty Images", None),
        ("Image used under license from Shutterstock", None),
        ("Image from Mary's April 2024 review.", None),
        ("Photo Courtesy of the Harbour Museum", None),
        ("Above: the ridge trail in early spring", None),
        ("Left: the old bridge. Right: the new one.", None),
        # a long blurb closed by a credit: the text stays, the credit goes
        (f"{_BLURB} Photo: Consumer Reports", _BLURB),
        # prose, a credit-like phrase inside a sentence, a sum after "credit:", a short credited label
        ("The council voted on Tuesday to keep the tram line open until the end of the year.", ""),
        ("Families can claim the child tax credit: up to 2,000 dollars a child this year.", ""),
        ("She said the photo: a blurred shot of the pier, was taken in 1972 by her father.", ""),
        ("Cover photo: Getty", ""),
        ("Courtesy of the neighbours, the street party went on until two in the morning and nobody complained at all.", ""),
        ("The new stadium is expected to open in 2027 and hold 40,000 fans.", ""),
    ],
)
def test_image_captions_dropped_and_blurb_credits_stripped(line: str, expected: str | None) -> None:
    want = line if expected == "" else expected
    assert strip_caption(line) == want
    kept = clean_text("\n".join([*_BODY[:3], line, *_BODY[3:]]))
    assert kept.splitlines() == [*_BODY[:3], *([want] if want is not None else []), *_BODY[3:]]


@pytest.mark.parametrize(
    ("line", "dropped"),
    [
        # a sign-up box between the paragraphs: the call, the inbox promise, the confirmation
        ("Sign up for our newsletter for the best of the city, every Thursday morning.", True),
        ("Get the latest updates right in your inbox. Subscribe to our daily newsletters.", True),
        ("Expert advice and our favourite products dropped right in your inbox.", True),
        ("Click here to subscribe to The Harbour Weekly newsletter", True),
        ("Awesome, you're subscribed!", True),
        ("Enter your email:", True),
        ("Follow me on Instagram for new recipes every week, along with the old favourites!", True),
        ("*** Follow us on Mastodon, YouTube or Facebook for a daily moment of harbour news ***", True),
        ("Follow Jane Doe on Mastodon for more from the harbour beat.", False),
        # button labels alone on their line; with a colon the line introduces a list
        ("Read More", True),
        ("Book a demo →", True),
        ("Back to top", True),
        ("Learn more:", False),
        ("Read more about the harbour's history in our archive of old ferry timetables.", False),
        ("First Name (optional):", True),
        ("Oops! We already have this email. Try another?", True),
        ("We already have your email on file, the clerk said, and the booking for the ferry was confirmed the next day.", False),
        ("By entering your email, you agree to receive our emails and accept our Terms and Privacy Policy.", True),
        # story text about newsletters, and tips in a list: kept
        ("The newsletter is edited by a former reporter and is read by more than 30,000 subscribers.", False),
        ("- Follow the trade press and subscribe to industry newsletters to stay up to date.", False),
        ("Readers who sign up for the trial can cancel within a week without paying anything.", False),
        ("Join the queue early: the ferry to the island fills up by nine on summer weekends.", False),
    ],
)
def test_calls_to_action_dropped_inside_the_body(line: str, dropped: bool) -> None:
    assert is_call_to_action(line) is dropped
    kept = clean_text("\n".join([*_BODY[:3], line, *_BODY[3:]])).splitlines()
    assert kept == [*_BODY[:3], *([] if dropped else [line]), *_BODY[3:]]


@pytest.mark.parametrize(
    ("line", "dropped"),
    [("Written by", True), ("Last updated on:", True), ("PUBLISHED", True), ("Author", True),
     ("Written by a harbour pilot, the guide covers every berth on the river.", False),
     ("Updated figures from the port show a fall in traffic.", False)],
)
def test_metadata_labels_without_their_value_dropped(line: str, dropped: bool) -> None:
    kept = clean_text("\n".join([*_BODY[:3], line, *_BODY[3:]])).splitlines()
    assert kept == [*_BODY[:3], *([] if dropped else [line]), *_BODY[3:]]
