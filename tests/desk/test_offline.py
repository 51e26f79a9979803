"""The desk's page asks no CDN and its notebook is trusted without a file written
(``desk/_offline.py``); the browser test checks both on a served page."""

from __future__ import annotations

from pathlib import Path

import nbformat
from jupyter_server.services.contents.largefilemanager import LargeFileManager
from nbformat.sign import NotebookNotary
from traitlets.config import Config

from autoenhance_nb.desk._offline import SERVER_ARGS, strip_cdn_links, trust_notebook

DESK = Path(__file__).resolve().parents[2] / "autoenhance_nb" / "desk" / "desk.ipynb"


def test_the_font_awesome_cdn_links_are_dropped_and_nothing_else():
    import voila

    template = Path(voila.__file__).parents[4] / "share/jupyter/voila/templates/lab"
    head = (template / "index.html.j2").read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net/npm/@fortawesome" in head  # what Voila's template links
    kept = strip_cdn_links(head)
    assert "cdn.jsdelivr.net" not in kept and "{{ super() }}" in kept
    assert strip_cdn_links(head.encode()) == kept.encode()
    assert strip_cdn_links(None) is None


def test_the_desk_notebook_is_trusted_with_nothing_written(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    config = Config()
    config.NotebookNotary.db_file = SERVER_ARGS[1].split("=", 1)[1]
    manager = LargeFileManager(config=config, root_dir=str(DESK.parent))
    nb = nbformat.read(DESK, as_version=4)
    shipped = NotebookNotary(db_file=":memory:", secret=b"another server")
    assert not shipped.check_signature(nb)  # as shipped: not signed
    trust_notebook(manager, DESK)
    assert manager.notary.check_signature(nb)
    assert not (tmp_path / "data").exists()  # no notebook_secret, no nbsignatures.db
