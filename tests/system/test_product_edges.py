"""Product edges a user met (issue 14): files with the usual permissions, photos for an
order that does not exist."""

from __future__ import annotations

import os
import stat

import pytest

import autoenhance_nb as ae
from autoenhance_nb import errors as E

from ..helpers import png_bytes, run


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_exports_and_downloads_get_the_umasks_usual_permissions(tracker, tmp_path, umask_022):
    order = tracker.create("Perms")
    tracker.add_images(order["order_id"], [("a.png", png_bytes(8, 8))], progress=False)
    csv_path = tracker.to_csv(tmp_path / "orders.csv")
    saved = tracker.download(order["order_id"], tmp_path / "out")
    for path in [csv_path, *saved.saved]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path  # not the temp file's 0600


def test_a_stricter_umask_is_honoured(tracker, tmp_path):
    old = os.umask(0o077)
    try:
        path = tracker.to_csv(tmp_path / "private.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_photos_for_an_unknown_order_upload_nothing(tracker, sandbox):
    sandbox.clear_log()
    with pytest.raises(E.NotFoundError):
        tracker.add_images("nosuchorder", [("a.png", png_bytes())], progress=False)
    assert sandbox.requests_to("create_image") == [] and len(tracker) == 0


def test_the_magic_refuses_photos_for_an_unknown_order(ip, sandbox, tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes())
    result, out = run(ip, f'%autoenhance_order --add-images nosuchorder "{tmp_path}/*.png"')
    assert not result.success and "not found" in out
    assert sandbox.requests_to("create_image") == []
    assert "nosuchorder" not in ae.session()
