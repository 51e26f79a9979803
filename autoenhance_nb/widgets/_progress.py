"""Progress bars in a kernel: tqdm's notebook bar, shown with a display id and shown
again when it closes, so that the output a notebook keeps (saved, run by nbconvert or
papermill, shown on GitHub without its widgets) says where the bar ended instead of its
0% start. Anywhere else (a terminal) tqdm's own text bar.

The package's ``__init__`` hands ``progress_bar`` to the tracker
(``tracker.set_progress_bar_factory``), which imports no IPython."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(total: int, description: str, unit: str = "order") -> Any:
    """A tqdm-like bar for ``total`` steps."""
    from tqdm.auto import tqdm
    from tqdm.notebook import tqdm as notebook_tqdm

    if not issubclass(tqdm, notebook_tqdm):  # not in a kernel with widgets: a text bar
        return tqdm(total=total, desc=description, unit=unit, leave=True)
    return _kept_bar()(total=total, desc=description, unit=unit, leave=True)


@functools.cache
def _kept_bar() -> type:
    from IPython.display import display
    from tqdm.auto import tqdm as auto_tqdm  # the notebook bar, in a kernel

    class KeptBar(auto_tqdm):
        """tqdm's notebook bar whose output is replaced by its last state on close."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, display=False, **kwargs)
            self._handle = None
            if getattr(self, "container", None) is not None:
                self._handle = display(self.container, display_id=True)
                self.displayed = True

        def close(self) -> None:
            super().close()
            handle, self._handle = getattr(self, "_handle", None), None
            if handle is not None:
                # the same widget, now with the final text as its plain-text form
                handle.update(self.container)

    return KeptBar
