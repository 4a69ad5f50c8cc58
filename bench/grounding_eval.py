"""Precision and recall of the grounding checker on a labelled set of sentences.

Each line of `bench/data/grounding_cases.jsonl` is one field of a draft (a summary sentence,
the view, the headline or the tags: `field`) with the sources of its story, the ids it cites,
and a label: "unsupported" cases must be flagged, "supported"
ones (including honest rephrasings) must not. Positive class = unsupported.

    python -m bench.grounding_eval
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from summarizer.grounding import check_grounding
from summarizer.models import SourceDoc, StoryDraft, SummarySentence, UnsupportedClaim

CASES = Path(__file__).parent / "data" / "grounding_cases.jsonl"
NUMERIC_KINDS = {"invented_number", "changed_amount", "changed_number", "changed_percent", "wrong_unit", "wrong_currency"}


@dataclass
class CaseResult:
    id: str
    kind: str
    label: str
    flagged: bool
    flags: list[UnsupportedClaim]
    field: str = "summary"

    @property
    def correct(self) -> bool:
        return self.flagged == (self.label == "unsupported")


@dataclass
class GroundingEval:
    results: list[CaseResult] = field(default_factory=list)

    def _count(self, flagged: bool, label: str) -> int:
        return sum(1 for r in self.results if r.flagged == flagged and r.label == label)

    @property
    def precision(self) -> float:
        tp, fp = self._count(True, "unsupported"), self._count(True, "supported")
        return tp / (tp + fp) if tp + fp else 1.0

    @property
    def recall(self) -> float:
        tp, fn = self._count(True, "unsupported"), self._count(False, "unsupported")
        return tp / (tp + fn) if tp + fn else 1.0

    @property
    def numeric_recall(self) -> float:
        """Recall on invented or changed numbers, amounts and units (the target is 1.0)."""
        cases = [r for r in self.results if r.kind in NUMERIC_KINDS]
        return sum(r.flagged for r in cases) / len(cases) if cases else 1.0

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """kind -> (correct, total)."""
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in self.results:
            out[r.kind][0] += r.correct
            out[r.kind][1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}

    def errors(self) -> list[CaseResult]:
        return [r for r in self.results if not r.correct]

    def summary(self) -> str:
        fields = defaultdict(int)
        for r in self.results:
            fields[r.field] += 1
        return (f"grounding: {len(self.results)} cases ({', '.join(f'{n} {f}' for f, n in sorted(fields.items()))}), "
                f"precision {self.precision:.2f}, recall {self.recall:.2f}, numeric recall {self.numeric_recall:.2f}")


def load_cases(path: Path = CASES) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_case(case: dict) -> CaseResult:
    """Check one labelled field (a summary sentence, the view, the headline or the tags) as a draft
    that has nothing else to check."""
    sources = [SourceDoc(id=s["id"], title=s.get("title", ""), outlet=s.get("outlet", "test"), text=s.get("text", ""))
               for s in case["sources"]]
    field = case.get("field", "summary")
    if field == "view":
        draft = StoryDraft(headline="", summary=[], view=case["sentence"])
    elif field == "headline":
        draft = StoryDraft(headline=case["sentence"], summary=[])
    elif field == "tags":
        draft = StoryDraft(headline="", summary=[], tags=case["tags"])
    else:
        draft = StoryDraft(headline="", summary=[SummarySentence(text=case["sentence"], source_ids=case.get("cites", []))])
    flags = check_grounding(draft, sources)
    return CaseResult(case["id"], case["kind"], case["label"], bool(flags), flags, field)


def evaluate(path: Path = CASES) -> GroundingEval:
    return GroundingEval([run_case(c) for c in load_cases(path)])


def main(argv: list[str] | None = None) -> int:
    ev = evaluate(Path(argv[0]) if argv else CASES)
    print(ev.summary())
    for kind, (ok, total) in ev.by_kind().items():
        print(f"  {kind:<20} {ok}/{total}")
    for r in ev.errors():
        what = "missed" if r.label == "unsupported" else "false flag"
        detail = "; ".join(f.reason for f in r.flags) or "-"
        print(f"  {what}: {r.id} ({r.kind}): {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
