"""A batch reports its worker's own peak memory, not the peak of the process that started it.

`ru_maxrss` survives fork and exec: every local-cluster worker reported the bench's size (318 MB
for each of them, whatever it did), which hid how much memory a worker really needs.
"""
from __future__ import annotations

import subprocess
import sys

from flows.scaleout import _peak_mb


def test_a_child_of_a_big_process_reports_its_own_peak() -> None:
    ballast = bytearray(600 * 1024 * 1024)
    for i in range(0, len(ballast), 4096):  # touch every page so it is resident
        ballast[i] = 1
    assert _peak_mb() > 600
    child = subprocess.run([sys.executable, "-c", "from flows.scaleout import _peak_mb; print(_peak_mb())"],
                           capture_output=True, text=True, check=True)
    del ballast
    assert 0 < float(child.stdout) < 400, child.stdout
