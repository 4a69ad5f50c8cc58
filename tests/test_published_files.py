"""Published files are readable by a web server running as another user: they honour the umask."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from review.publishing import publish_day
from storage import desk
from storage.db import Database
from test_delivery_email import DAY, SITE
from test_review_http import seed


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o027, 0o640)])
def test_published_files_get_the_mode_the_umask_allows(db: Database, tmp_path: Path, umask: int, expected: int) -> None:
    ids = seed(db)
    with db.session() as s:
        desk.approve(s, ids["falcon"], "ana", override="price checked")
    old = os.umask(umask)
    try:
        result = publish_day(db, DAY, "ana", tmp_path / "site", site_url=SITE)
    finally:
        os.umask(old)
    assert len(result.files) >= 4  # the day (md, html), the index and the feeds
    modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in result.files}
    assert set(modes.values()) == {oct(expected)}, modes
    assert not list((tmp_path / "site").glob(".*.tmp")), "no temporary file left behind"
