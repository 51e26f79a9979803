"""``widgets/_progress``: in a kernel the notebook bar that keeps its end in the saved
output (checked on real notebook runs in tests/system/test_notebooks.py); elsewhere
tqdm's text bar; the package hands it to the tracker."""

from __future__ import annotations

import io

from tqdm.notebook import tqdm as notebook_tqdm

import autoenhance_nb  # noqa: F401  (the package hands the tracker its bars)
from autoenhance_nb.tracker import _batch
from autoenhance_nb.widgets._progress import progress_bar


def test_outside_a_kernel_the_bar_is_text_and_the_tracker_uses_it():
    assert _batch._bar_factory is not None
    bar = _batch.progress_bar(2, "Uploading photos", "photo")
    try:
        assert not isinstance(bar, notebook_tqdm)
        bar.fp = io.StringIO()
        bar.update(2)
        assert bar.n == 2
    finally:
        bar.close()
    other = progress_bar(1, "Creating orders", "order")
    assert not isinstance(other, notebook_tqdm)
    other.close()
