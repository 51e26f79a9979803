"""binder/ installs cleanly: its pinned requirements and the package, together, in a
fresh virtual environment, as Binder's postBuild does. Runs in CI (set CI=true or
AUTOENHANCE_TEST_BINDER=1 to run it locally: it downloads a few hundred MB once)."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

from ..helpers import IN_CI

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_binder_pins_are_exact_and_cover_the_widget_stack():
    lines = [
        ln.strip()
        for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    pins = dict(ln.split("==", 1) for ln in lines)
    assert all("==" in ln for ln in lines), "every Binder requirement is pinned"
    assert pins["jupyterlab"].startswith("4.")
    assert pins["ipywidgets"].startswith("8.")
    assert "jupyterlab_widgets" in pins
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and os.access(ROOT / "binder" / "postBuild", os.X_OK)


def test_binder_environment_installs_and_works(tmp_path):
    if not (IN_CI or os.environ.get("AUTOENHANCE_TEST_BINDER") == "1"):
        pytest.skip("installs a fresh environment; runs in CI or with AUTOENHANCE_TEST_BINDER=1")
    env_dir = tmp_path / "binder-env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = str(env_dir / "bin" / "python")

    def run(*args, cwd=ROOT):
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=800)
        assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    run(py, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    # postBuild runs "python -m pip install --no-deps ." with Binder's python; do the same.
    run(py, "-m", "pip", "install", "-q", "--no-deps", str(ROOT))
    run(py, "-m", "pip", "check")
    out = run(
        py,
        "-c",
        "import autoenhance_nb, ipywidgets, jupyterlab;"
        "print(autoenhance_nb.__version__, ipywidgets.__version__)",
    )
    import re

    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    assert out.split()[0] == declared  # the one version source, as installed
    ext = subprocess.run(
        [str(env_dir / "bin" / "jupyter"), "labextension", "list"], capture_output=True, text=True
    )
    assert "@jupyter-widgets/jupyterlab-manager" in ext.stdout + ext.stderr
    assert "enabled" in ext.stdout + ext.stderr
    smoke = (
        "from autoenhance_nb import OrderTracker, AutoenhanceClient\n"
        "from autoenhance_nb.sandbox import Sandbox\n"
        "with Sandbox() as sb:\n"
        "    t = OrderTracker(AutoenhanceClient(api_key='k', base_url=sb.url))\n"
        "    t.create('binder smoke'); print(len(t.df))\n"
    )
    assert run(py, "-c", smoke).strip() == "1"
