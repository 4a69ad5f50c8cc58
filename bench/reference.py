"""Load the summarizer's clustering code as it was at a git revision, beside the current one.

So a benchmark compares "before" and "after" in one process, on the same
documents and the same machine load. The modules (and the files under summarizer/data/) are read with
``git show`` into a temporary package whose imports point at itself.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

MODULES = ("__init__", "unionfind", "textfeatures", "blocking", "neardup", "similarity", "stragglers", "clustering",
           "continuity",
           "ranking")
ROOT = Path(__file__).resolve().parent.parent


def load_summarizer(revision: str) -> ModuleType:
    """The ``clustering`` module of ``revision`` (its ``cluster``, ``cluster_docs``, ``THRESHOLD``)."""
    package = "summarizer_at_" + "".join(c if c.isalnum() else "_" for c in revision)
    if package + ".clustering" in sys.modules:
        return sys.modules[package + ".clustering"]
    folder = Path(tempfile.mkdtemp(prefix="bench-ref-")) / package
    folder.mkdir()
    for name in MODULES:
        shown = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{revision}:summarizer/{name}.py"],
            capture_output=True, text=True,
        )
        if shown.returncode != 0:
            if name == "__init__":
                raise SystemExit(f"error: cannot read summarizer at {revision}: {shown.stderr.strip()}")
            continue
        source = shown.stdout.replace("from summarizer.", f"from {package}.").replace(
            "import summarizer.", f"import {package}."
        )
        (folder / f"{name}.py").write_text(source if name != "__init__" else "", encoding="utf-8")
    _copy_data(revision, folder)
    sys.path.insert(0, str(folder.parent))
    importlib.invalidate_caches()
    return importlib.import_module(package + ".clustering")


def _copy_data(revision: str, folder: Path) -> None:
    """The files under summarizer/data/ at ``revision`` (word lists the modules read beside themselves)."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", revision, "summarizer/data/"],
                            capture_output=True, text=True)
    for path in listed.stdout.split():
        target = folder / Path(path).relative_to("summarizer")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:{path}"],
                                          capture_output=True, check=True).stdout)
