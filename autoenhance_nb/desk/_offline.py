"""What keeps the desk's server offline and its log quiet on every visit (used by
``_server.py``): the page asks no CDN for anything, the bundled notebook is trusted
(signed in memory: no signing key or signature database written anywhere), and kernels
talk to the server over IPC sockets in Voila's private connection folder instead of
unencrypted TCP.

* Voila's ``lab`` template links Font Awesome 5 from ``cdn.jsdelivr.net``; Voila's own
  bundle (``voila-style.js``, served from this machine) already carries Font Awesome
  5.15.4 and its fonts, so the links add nothing but two failed requests offline.
* ``jupyter_server`` logs ``Notebook desk.ipynb is not trusted`` on every load of an
  unsigned notebook.
* ipykernel warns, in every kernel, that TCP without CurveZMQ keys is plain text.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

__all__ = ["SERVER_ARGS", "strip_cdn_links", "trust_notebook"]

#: Voila options: the kernels on IPC sockets (next to their connection files, in
#: Voila's private temporary folder), so nothing listens on a TCP port; notebook
#: signatures in memory (the notary opens its database when it is made).
SERVER_ARGS = ["--KernelManager.transport=ipc", "--NotebookNotary.db_file=:memory:"]

_CDN_LINK = re.compile(
    rb'<link rel="stylesheet" href="https://cdn\.jsdelivr\.net/npm/@fortawesome/[^"]*"[^>]*>'
)


def strip_cdn_links(chunk: Any) -> Any:
    """A page chunk without the template's Font Awesome links (anything else as it is)."""
    if isinstance(chunk, str):
        return _CDN_LINK.sub(b"", chunk.encode("utf-8")).decode("utf-8")
    if isinstance(chunk, bytes):
        return _CDN_LINK.sub(b"", chunk)
    return chunk


def trust_notebook(contents_manager: Any, path: str | os.PathLike[str]) -> None:
    """Sign ``path`` with a per-process secret held in memory (the signature store is in
    memory too, see ``SERVER_ARGS``), so that loading it for each visit finds it
    trusted."""
    import nbformat

    notary = contents_manager.notary
    notary.secret = os.urandom(32)  # never the data folder's notebook_secret file
    notary.sign(nbformat.read(Path(path), as_version=4))
