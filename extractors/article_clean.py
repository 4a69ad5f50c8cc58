"""Drop boilerplate lines that survive extraction inside the article body.

Share prompts, "Advertisement" markers, newsletter pitches, copyright
footers and the repeated headline sit around the paragraphs on most news
sites; they are short lines with a recognisable shape, so line-level
patterns remove them without touching the story. The page's own trailing
sections (other stories, the author box, comments) open with a heading of
a recognisable shape and are cut from there to the end.
"""
from __future__ import annotations

import re

from .article_captions import strip_captions
from .article_pitches import is_call_to_action
from .article_repeats import drop_repeated_passages
from .article_teasers import drop_teasers
from .metadata import PageMeta

_BOILERPLATE_SHAPES = (
    r"advertisement|advertising|ad|sponsored( content)?|story continues below( advertisement)?",
    r"(continue|keep) reading( (below|the main story))?",
    r"(share|tweet|email|print|save|copy link|comment)(\s+(this|on|via|article|story|link|to)\b.*)?",
    r"[-•]?\s*(order reprints|print article|reprints?( & permissions)?)",
    r"share (this|on) .*",
    r"(sign up|subscribe) (for|to) (our|the) .{0,60}newsletters?.*",
    r"thanks? (you )?for (signing up|subscribing).*",
    r"keep an eye on your inbox.*",
    r"(sorry!?\s*)?there was an error processing your (subscription|request).*",
    r"an error (has )?occurred.{0,40}",
    r"(photo|image|picture|illustration|credit|photograph|video)s?\s*(by|credit|:)\s*.{0,80}",
    r"read (more|next|also)\s*:.*",
    r"related( articles| stories| coverage)?\s*:?",
    r"(follow|like) us on .{0,60}",
    r"(copyright\s*)?(©|\(c\)|copyright)\s*.{0,80}(all rights reserved.*)?",
    r".{0,80}all rights reserved\.?",
    r"write to .{0,60}\bat\s+\S+@\S+",
    r"click here to (get|download) (the|our) .{0,40}\bapp|get .{0,40} on the go by clicking here",
    # a metadata label whose value the template put on another line ("Written by", "Last updated on:")
    r"((originally )?published( on)?|(last )?updated( on)?|written by|posted (on|in|by)|author)\s*:?",
)
_BOILERPLATE = re.compile(r"^(" + "|".join(_BOILERPLATE_SHAPES) + r")\s*[.!]?\s*$", re.I)
_MAX_BOILERPLATE_WORDS = 16
# Template filler a page shipped unedited: never story text, at any length.
_PLACEHOLDER = re.compile(r"\blorem ipsum\b", re.I)
# A share button's label glued to the quote it shares ("...business.Click To Tweet"):
# the quote is the story's own sentence, the label is not.
_SHARE_LABEL = re.compile(r"\s*click to tweet\s*$", re.I)
# Lines that are page furniture only where they sit at the top or bottom of a
# body: a date or byline there is metadata, in the middle it may be a
# timeline entry or a quoted sign-off.
_MONTH = (r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?")
_DATE = rf"(\w+\.?,?\s+)?({_MONTH}\s+\d{{1,2}}(st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}}|\d{{1,4}}[/.-]\d{{1,2}}[/.-]\d{{2,4}})"
_EDGE_SHAPES = (
    rf"((last\s+)?(updated|published|posted|modified|date)(\s+on)?\s*:?\s*)?{_DATE}([\s,|at-]+\d{{1,2}}[:.]\d{{2}}(\s*[ap]\.?m\.?)?(\s*[a-z]{{2,4}})?)?",
    r"by\s+[\w.'-]+(\s+[\w.'-]+){0,3}(\s*[-—–|,]\s*\d+\s+min(ute)?s?\s+read)?",
    r"(.{0,40}[•|·]\s*)?\d+\s*min(ute)?s?\.?\s+read|reading time\s*:?.{0,20}",
    r"table of contents?|contents|in this article|jump to",
    r"(this|the) (article|post|page|story) (contains|may contain|includes) affiliate links.*",
    r"(products|items) (are|were) (chosen|selected) independently.*",
    r"(we may earn|purchases made through|when you buy through) .{0,40}(commission|links).*",
)
_EDGE = re.compile(r"^(" + "|".join(_EDGE_SHAPES) + r")\s*[.!]?\s*$", re.I)
_EDGE_MAX_WORDS = 40
EDGE_LINES = 3  # how many content lines at each end may be furniture
_TOKEN = re.compile(r"\w+")
_HEAD_LINES = 3  # a repeated headline or standfirst only ever sits at the top
# A heading that opens the page's own trailing sections (other stories, the
# author box, comments, tags) rather than a part of the story.
_SECTION_HEADING = re.compile(
    r"^[-•*#\s]*(related( (posts?|articles?|stories|content|reads|coverage|links))?"
    r"|you (may|might) (also )?(like|enjoy|be interested in).*|more (from|on|in) .{0,40}"
    r"|more (stories|news|articles|posts)|further reading|read (next|more|this next)|you.ll (also )?love"
    r"|recommended( for you| reading| articles| stories)?|popular( on .{0,30}| now| posts| stories)?"
    r"|trending( now)?|other posts|also read|explore (more|further)|about the (author|reviewer|writer)s?"
    r"|(\d+\s+)?comments?|leave a (comment|reply)|post a comment|tags?|topics?|filed under|share (this|on))"
    r"\s*[:.…!]*\s*$",
    re.I,
)
TAIL_SECTION_SHARE = 0.5  # such a heading is only looked for in the last half of the words
# An author box is a bio in full sentences, so the short-lines test cannot see
# it; its heading alone decides, closer to the end.
_AUTHOR_HEADING = re.compile(r"^[-•*#\s]*about the (author|reviewer|writer|editor)s?\s*[:.]*\s*$", re.I)
AUTHOR_SECTION_SHARE = 0.3
TAIL_PROSE_SHARE = 0.5  # and what follows it must be mostly short lines, not story paragraphs
_PROSE_LINE_WORDS = 15
# Lines that close a page after the story: agency credits ("(Reporting by ...;
# Editing by ...)") and the messages of a sign-up form. Only a run of them at
# the very end is dropped: a credit quoted mid-story stays.
_TAIL_LINE = re.compile(
    r"^\(?((additional )?reporting by|.{0,80}\bcontributed reporting\b|.{0,80}; editing by)"
    r"|\b(enter your email|thank you for (subscribing|signing up)|your submission has been received|something went wrong)\b",
    re.I,
)
TAIL_LINES = 6  # at most this many closing lines are judged
_TAIL_MAX_WORDS = 30
_SENTENCE_END = re.compile(r"[.!?\"”’)]$")


def is_boilerplate(line: str) -> bool:
    """True for a short line that matches a known non-article shape, or placeholder text."""
    stripped = line.strip()
    if not stripped:
        return False
    if _PLACEHOLDER.search(stripped):
        return True
    if len(stripped.split()) > _MAX_BOILERPLATE_WORDS:
        return False
    return bool(_BOILERPLATE.match(stripped))


def _norm(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower()))


def _is_heading_copy(line: str, headlines: list[str]) -> bool:
    """The line repeats the page title (sites often add " | Site" to <title>)."""
    norm = _norm(line)
    if not norm:
        return False
    for h in headlines:
        if norm == h or (len(norm) > 20 and h.startswith(norm)):
            return True
        # "<headline> - Site name", but never a whole paragraph opening with the headline
        if len(h) > 20 and norm.startswith(h) and len(norm) <= 1.5 * len(h) + 10:
            return True
    return False


def strip_head(lines: list[str], meta: PageMeta | None) -> list[str]:
    """Remove the headline (and a standfirst equal to the description) at the top."""
    if meta is None:
        return lines
    headlines = [h for h in (_norm(x) for x in meta.headlines) if h]
    out = list(lines)
    for _ in range(_HEAD_LINES):
        content = [i for i, line in enumerate(out) if line.strip()]
        if len(content) < 2:
            break
        first = out[content[0]]
        if _is_heading_copy(first, headlines):
            del out[content[0]]
            continue
        break
    return out


def is_edge_furniture(line: str) -> bool:
    """True for a date, byline, reading time or disclosure line (only judged at the ends)."""
    stripped = line.strip().lstrip("-•* ").strip()
    return bool(stripped) and len(stripped.split()) <= _EDGE_MAX_WORDS and bool(_EDGE.match(stripped))


def strip_edges(lines: list[str]) -> list[str]:
    """Drop furniture lines among the first and last few content lines."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    if len(content) < 2 * EDGE_LINES:
        return lines
    ends = set(content[:EDGE_LINES] + content[-EDGE_LINES:])
    return [line for i, line in enumerate(lines) if i not in ends or not is_edge_furniture(line)]


def _is_prose_line(line: str) -> bool:
    return len(line.split()) >= _PROSE_LINE_WORDS and bool(_SENTENCE_END.search(line.strip()))


def cut_trailing_section(lines: list[str]) -> list[str]:
    """Cut from a "Related articles" / "About the author" / "Comments" heading to the end.

    Only in the last half of the text, and only when what follows is mostly
    short lines (headlines, names, tags): a story that goes on in full
    paragraphs after such a heading keeps them. An "About the author"
    heading in the last 30% of the words is cut whatever follows (a bio).
    """
    content = [i for i, line in enumerate(lines) if line.strip()]
    if len(content) < 4:
        return lines
    words = [len(lines[i].split()) for i in content]
    total, seen = sum(words), 0
    cut = len(lines)
    for j in range(len(content) - 1, 0, -1):
        seen += words[j]
        if seen > TAIL_SECTION_SHARE * total:
            break
        if seen <= AUTHOR_SECTION_SHARE * total and _AUTHOR_HEADING.match(lines[content[j]].strip()):
            cut = content[j]  # an earlier trailing section may still cut higher up
            continue
        if not _SECTION_HEADING.match(lines[content[j]].strip()):
            continue
        rest = [lines[i] for i in content[j + 1 :]]
        rest_words = sum(len(line.split()) for line in rest)
        prose_words = sum(len(line.split()) for line in rest if _is_prose_line(line))
        if prose_words < TAIL_PROSE_SHARE * rest_words or not rest_words:
            return lines[: content[j]]
    return lines[:cut]


def strip_tail_lines(lines: list[str]) -> list[str]:
    """Drop a run of credit and sign-up-form lines at the end (keeping at least two content lines)."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    cut = None
    for n, i in enumerate(reversed(content)):
        if n >= TAIL_LINES or n >= len(content) - 2:
            break
        line = lines[i].strip().lstrip("-•* ").strip()
        if len(line.split()) > _TAIL_MAX_WORDS or not _TAIL_LINE.search(line):
            break
        cut = i
    return lines if cut is None else lines[:cut]


def _drop_share_label(line: str) -> str:
    """`line` without a trailing "Click To Tweet" label (`line` is right-stripped)."""
    if not line.endswith(("t", "T")):
        return line  # the label ends the line; skipping the regex here saves a scan of every line
    return _SHARE_LABEL.sub("", line)


def clean_text(text: str, meta: PageMeta | None = None) -> str:
    """Remove boilerplate lines and collapse blank runs; keeps paragraph breaks."""
    lines = strip_tail_lines(cut_trailing_section([_drop_share_label(line.rstrip()) for line in text.splitlines()]))
    body = [line for line in lines if not (is_boilerplate(line) or is_call_to_action(line))]
    kept = drop_teasers(strip_head(strip_edges(strip_captions(body)), meta))
    kept = drop_repeated_passages(kept)
    out: list[str] = []
    for line in kept:
        if line.strip() or (out and out[-1].strip()):
            out.append(line)
    return "\n".join(out).strip()
