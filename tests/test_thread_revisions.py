"""The bench's thread revision (a candidate, not in the pipeline): a thread that took in the other
event of its kind is split back into two; one event's thread is left whole."""
from __future__ import annotations

from itertools import count

from bench.thread_revisions import Revision, WindowStory, revise

QUILLON = [
    ("Quillon cuts 300 jobs at its Berlin plant",
     "Quillon Robotics will cut 300 jobs at its Berlin plant, chief executive Mara Lind said on Monday, "
     "citing weak orders for warehouse robots. The union called the job cuts a shock."),
    ("Union plans protest over Quillon job cuts in Berlin",
     "Workers at the Quillon Robotics plant in Berlin plan a protest against the 300 job cuts; IG Metall "
     "said Mara Lind refused talks with the union."),
    ("Quillon confirms Berlin job cuts after protest",
     "Quillon Robotics confirmed the 300 job cuts at the Berlin plant after a protest by IG Metall; "
     "Mara Lind said severance talks with the union start in May."),
    ("Quillon and IG Metall agree Berlin severance terms",
     "Quillon Robotics and IG Metall agreed severance for the 300 Berlin workers losing their jobs, "
     "Mara Lind said; the plant will keep its warehouse robot line."),
]
MARROW = [
    ("Marrow Labs cuts 120 jobs at its Oslo office",
     "Marrow Labs will cut 120 jobs at its Oslo office, founder Tor Vik said on Tuesday, as funding for "
     "its chip design unit dried up. The union called the job cuts a shock."),
    ("Chip team hit hardest by Marrow Labs job cuts in Oslo",
     "The 120 job cuts at Marrow Labs in Oslo hit the chip design team hardest, Tor Vik told Dagens "
     "Naeringsliv; the Tekna union asked for talks."),
    ("Marrow Labs Oslo staff get notice",
     "Marrow Labs handed notice to 120 Oslo staff on Friday; Tor Vik said the chip design unit will "
     "close in June after talks with the Tekna union."),
]


def _thread(texts: list[tuple[str, str]]) -> list[WindowStory]:
    """One thread (id 1), one story a day in the given order."""
    return [WindowStory(id=k + 1, day=f"2026-11-{k + 1:02d}", title=t, text=x, thread=1)
            for k, (t, x) in enumerate(texts)]


def test_two_events_of_one_kind_merged_in_one_thread_end_as_two() -> None:
    # The Oslo layoffs' first report joined the running Berlin story, and its next reports followed it.
    stories = _thread([QUILLON[0], QUILLON[1], MARROW[0], QUILLON[2], MARROW[1], MARROW[2], QUILLON[3]])
    revise(stories, {1}, count(2).__next__, Revision())
    threads = {s.title: s.thread for s in stories}
    assert {threads[t] for t, _ in QUILLON} == {1}  # the older event keeps the thread
    assert {threads[t] for t, _ in MARROW} == {2}  # the other one gets a new thread


def test_one_event_stays_one_thread_and_a_short_thread_is_not_split() -> None:
    stories = _thread(QUILLON)
    revise(stories, {1}, count(2).__next__, Revision())
    assert {s.thread for s in stories} == {1}
    # Three stories of each are needed to split: two of the other event stay (the wrong link stands).
    stories = _thread([QUILLON[0], QUILLON[1], MARROW[0], QUILLON[2], MARROW[1]])
    revise(stories, {1}, count(2).__next__, Revision())
    assert {s.thread for s in stories} == {1}
