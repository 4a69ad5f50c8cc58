"""Prompt examples are invented: a small model copies an example's facts into unrelated stories,
so no sentence (nor any run of six words) of an example may come from real news we have."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from newsdesk.demo import SAMPLE_DAY  # noqa: F401  (the demo package ships the sample day's pages)
from summarizer.prompts import DEFAULT_DIR, PromptSet

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = REPO.parent / "shared" / "house-style"
DEMO_SITE = REPO / "newsdesk" / "demo" / "sample_day"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _shingles(text: str, k: int = 6) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


def example_texts() -> list[str]:
    """Every string of the JSON example in each prompt template."""
    out = []
    for path in sorted(DEFAULT_DIR.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        m = re.search(r"# Example[^\n]*\n(\{.*?\n\s*\"section\": [^}]*\})", text, re.DOTALL)
        if not m:
            continue
        data = json.loads(m.group(1))
        out += [data["headline"], data["view"], *(s["text"] for s in data["summary"])]
    return out


def corpus_texts() -> list[tuple[str, str]]:
    texts = []
    if SHARED_SAMPLES.is_dir():
        texts += [(p.name, p.read_text(encoding="utf-8")) for p in sorted(SHARED_SAMPLES.iterdir()) if p.is_file()]
    texts += [(str(p.relative_to(DEMO_SITE)), p.read_text(encoding="utf-8", errors="replace"))
              for p in sorted(DEMO_SITE.rglob("*")) if p.is_file() and p.suffix in (".html", ".xml", ".json", ".rdf")]
    return texts


def test_every_style_prompt_has_an_example() -> None:
    prompts = PromptSet.load()
    styles = [n for n, t in prompts.templates.items() if t.meta.get("purpose") == "draft"]
    assert len(example_texts()) >= 2 * len(styles) and styles


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="the shared house-style samples are not beside the project")
def test_no_example_sentence_or_phrase_appears_in_a_real_sample() -> None:
    examples = example_texts()
    for name, text in corpus_texts():
        flat = " ".join(_words(text))
        for sentence in examples:
            assert " ".join(_words(sentence)) not in flat, f"an example sentence is taken from {name}: {sentence!r}"
        shared = set().union(*(_shingles(e) for e in examples)) & _shingles(text)
        assert not shared, f"prompt examples share phrases with {name}: {sorted(shared)[:3]}"


def test_the_check_would_catch_a_copied_sentence() -> None:
    """Control: a sentence from the sample is found by the same comparison."""
    if not SHARED_SAMPLES.is_dir():
        pytest.skip("the shared house-style samples are not beside the project")
    sample = next(t for n, t in corpus_texts() if n.startswith("awesome-ai-daily"))
    copied = "Cloudflare announced layoffs of approximately 1,100 employees (about 20% of total staff)"
    assert " ".join(_words(copied)) in " ".join(_words(sample))
    assert _shingles(copied) & _shingles(sample)
