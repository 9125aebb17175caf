"""The bridge from pytest to the notebooks: one test per notebook that the quick study does not run, by `nbdev_test`.

`nbdev_test` executes every cell of a notebook with its default (quick) parameters and skips
cells flagged `#| slow`. The study's chapters (`provenance.find_notebooks`) are executed exactly so, with the same
quick parameters and the slow cells skipped, by the quick study of tests/test_study.py (`test_every_notebook_ran`):
running them here again would execute each chapter twice in CI, so only the runner's own notebooks (07_study, …)
and `index` run here. These tests are marked `notebooks` and left out of the default test command
(pyproject.toml's `addopts`); CI runs them with `pytest tests -m "notebooks or study"`.

Each notebook runs from a copy in a folder of the test's own (`tmp_path`) that links every other entry of
the checkout, so what it writes beside itself (its quick `out_dir`, `../reports/quick`) lands there and
never in the checkout.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emomotion.provenance import find_notebooks

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
ALL_NOTEBOOKS = sorted((ROOT / "nbs").glob("[0-9]*.ipynb")) + [ROOT / "nbs" / "index.ipynb"]
STUDIED = set(find_notebooks(ROOT / "nbs"))                  # executed by the quick study (tests/test_study.py)
NOTEBOOKS = [p for p in ALL_NOTEBOOKS if p not in STUDIED]
NBDEV_TEST = Path(sys.executable).with_name("nbdev_test")
WRITTEN = ("nbs", "reports")                      # made fresh in the copy; everything else is a link


def checkout_copy(nb: Path, where: Path) -> Path:
    """A checkout at `where/repo` whose `nbs/` holds only a copy of `nb` and whose other entries link to the real
    checkout's (and `where/shared` to the one beside the checkout, as `../../shared` from `nbs/`): returns the copy."""
    repo = where / "repo"
    (repo / "nbs").mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in WRITTEN:
            os.symlink(entry, repo / entry.name)
    if (ROOT.parent / "shared").exists():
        os.symlink(ROOT.parent / "shared", where / "shared")
    shutil.copy(nb, repo / "nbs" / nb.name)
    return repo / "nbs" / nb.name


def _reports() -> set:
    "The files under the checkout's `reports/` (what a notebook run there would leave)."
    return {p for p in (ROOT / "reports").rglob("*") if p.is_file()}


def test_there_are_notebooks():
    assert NOTEBOOKS and STUDIED, "no notebooks found under nbs/"
    assert set(NOTEBOOKS) | STUDIED == set(ALL_NOTEBOOKS)        # every notebook runs in one of the two places


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb, tmp_path):
    before = _reports()
    copy = checkout_copy(nb, tmp_path)
    proc = subprocess.run(
        [str(NBDEV_TEST), "--path", str(copy), "--do_print"],
        cwd=copy.parents[1], capture_output=True, text=True, timeout=1500,
    )
    assert proc.returncode == 0, f"{nb.name} failed under nbdev_test:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    assert _reports() == before, f"{nb.name} wrote into the checkout: {sorted(_reports() - before)[:5]}"


def test_a_notebook_writes_into_its_copy_not_the_checkout(tmp_path):
    "The quick `out_dir` of a notebook (`../reports/quick`) resolves inside the copy, beside the linked package."
    copy = checkout_copy(ROOT / "nbs" / "01_features.ipynb", tmp_path)
    assert (copy.parent / ".." / "reports" / "quick").resolve().is_relative_to(tmp_path)
    assert (copy.parents[1] / "emomotion").resolve() == ROOT / "emomotion"
    assert (copy.parent / ".." / ".." / "shared").exists() == (ROOT.parent / "shared").exists()
