"""Parse and extraction workers end when the night that started them is killed.

A plain process pool's workers wait on their queue for ever: every SIGKILLed night left them
behind, asleep and holding memory.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import os, sys, time
from extractors.article_batch import extraction_pool
from extractors.collect import MIN_POOL_FEEDS, feed_parse_pool

def pid(_):
    return os.getpid()

if __name__ == "__main__":
    pools = {"extraction": lambda: extraction_pool(2), "feed parsing": lambda: feed_parse_pool(MIN_POOL_FEEDS, 2)}
    with pools[sys.argv[1]]() as pool:
        print(" ".join(str(p) for p in sorted(set(pool.map(pid, range(40), chunksize=1)))), flush=True)
        time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (exited, not yet reaped by whoever adopted it) counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
@pytest.mark.parametrize("pool", ["extraction", "feed parsing"])
def test_workers_exit_when_their_parent_is_killed(tmp_path: Path, pool: str) -> None:
    script = tmp_path / "night.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), pool], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        workers = [int(p) for p in child.stdout.readline().split()]
        assert workers and all(_alive(p) for p in workers)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [p for p in workers if _alive(p)]
    finally:
        child.kill()
        for p in workers if "workers" in locals() else []:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not left, f"workers {left} outlived their killed parent"


def test_the_pool_still_works() -> None:
    from extractors.workerpool import process_pool

    with process_pool(2) as pool:
        assert list(pool.map(abs, [-1, -2, 3])) == [1, 2, 3]
