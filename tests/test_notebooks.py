"""The bridge from pytest to the notebooks: one test per notebook, run by `nbdev_test`.

`nbdev_test` executes every cell of a notebook with its default (quick) parameters and skips
cells flagged `#| slow`. Running it from pytest lets README's single test command cover the
notebooks and `tests/` together, with a pytest summary line.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "nbs").glob("[0-9]*.ipynb")) + [ROOT / "nbs" / "index.ipynb"]
NBDEV_TEST = Path(sys.executable).with_name("nbdev_test")


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under nbs/"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb):
    proc = subprocess.run(
        [str(NBDEV_TEST), "--path", str(nb), "--do_print"],
        cwd=ROOT, capture_output=True, text=True, timeout=1500,
    )
    assert proc.returncode == 0, f"{nb.name} failed under nbdev_test:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
