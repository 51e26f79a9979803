"""Where front ends may write files: one export folder chosen by the notebook's author
(or the desk's operator), inside which visitors only name plain files. Also the in-page
download link. Used by the form, the gallery and the desk."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from ..display import Markup, html

__all__ = ["ExportFolder", "plain_name", "download_link", "DOWNLOAD_LINK_MAX_BYTES", "BAD_NAME"]

#: Files up to this size get an in-page download link (a data: URL, so it works in
#: JupyterLab, Notebook, Voila and Binder alike without knowing the server's paths).
DOWNLOAD_LINK_MAX_BYTES = 10 * 1024 * 1024

BAD_NAME = (
    "Give the file a plain name such as orders.csv: no folders, '/', '\\', '..' or '~', "
    "and not starting with '.'"
)


def plain_name(text: str, suffix: str = ".csv") -> tuple[str | None, str | None]:
    """(the file name to write inside the export folder, None) or (None, why not).

    Only a plain name is accepted: never a path, a parent folder, a home folder or a
    hidden file, so that a visitor cannot write outside the export folder. ``suffix``
    is added when missing (``""``: none)."""
    name = text.strip()
    if not name:
        return None, "Give the file a name first"
    if (
        any(sep in name for sep in ("/", "\\", ":", "\0"))
        or name.startswith((".", "~"))
        or not name.isprintable()
        or os.path.isabs(name)
    ):
        return None, BAD_NAME
    if suffix and not name.lower().endswith(suffix):
        name += suffix
    return name, None


class ExportFolder:
    """The one folder a front end writes into."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else Path.cwd()

    def target(self, name: str) -> Path:
        """The path for a plain ``name`` (see ``plain_name``); refuses a name that is,
        or links to, anything outside the folder."""
        folder = self.path.resolve()
        target = folder / name
        if target.is_symlink() or target.resolve().parent != folder:
            raise PermissionError(f"{name} points outside the export folder")
        return target

    def fresh_name(self, name: str) -> str:
        """A plain file name from ``name`` (see ``photos.safe_filename``) that no file
        in the folder has yet: a second photo of the same name never overwrites the
        first, nor an export."""
        from ..rules import safe_filename

        try:
            used = {p.name.lower() for p in self.path.iterdir()}
        except OSError:
            used = set()
        return safe_filename(name, used)

    def hide(self, text: str) -> str:
        """``text`` with the folder's own path replaced: the kernel's paths are the
        server's business, not the visitor's."""
        # the longer first: one path may be the start of the other
        for shown in sorted({str(self.path), str(self.path.resolve())}, key=len, reverse=True):
            text = text.replace(shown, "the export folder")
        return text


def download_link(path: Path, label: str, mime: str = "text/csv;charset=utf-8") -> Markup:
    """An in-page link that downloads ``path`` (a data: URL), or a note for big files."""
    size = path.stat().st_size
    if size > DOWNLOAD_LINK_MAX_BYTES:
        return html(
            "<span>{} is {} MB: open it from the file browser</span>", label, size // (1024 * 1024)
        )
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return html(
        '<a class="ae-download-link" download="{}" href="data:{};base64,{}">Download {}</a>',
        path.name,
        mime,
        data,
        label,
    )
