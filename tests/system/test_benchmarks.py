"""Keep the benchmark script working (small sizes; timings are not asserted here: the
machines are shared and noisy) and keep the package light to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # runs the quick benchmark (tens of seconds)
@pytest.mark.timeout(300)
def test_quick_benchmark_runs_and_writes_every_section(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    for section in (
        "http_batch",
        "per_call_overhead",
        "refresh",
        "rate_limit",
        "table_scale",
        "imports",
    ):
        assert section in results and "met" in results[section], section
        assert f"== {section}" in proc.stdout
    assert results["rate_limit"]["duplicates"] == 0
    assert results["rate_limit"]["server_orders"] == results["rate_limit"]["orders"]
    assert results["http_batch"]["toolkit_w8_s"] > 0
    assert not (tmp_path / ".bench-tmp").exists()


def test_importing_the_package_loads_nothing_heavy():
    code = (
        "import sys, autoenhance_nb\n"
        "heavy = ['werkzeug', 'tqdm', 'ipywidgets', 'IPython', 'autoenhance_nb.sandbox',"
        " 'autoenhance_nb.widgets._form', 'autoenhance_nb.magic._magics']\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert out == "[]"
