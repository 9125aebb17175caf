import os
import shutil
import tempfile

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")


_OWN_CACHE = None


def pytest_configure(config):
    """Markers, and a cache of the session's own: every test (and every notebook a test runs) reads and writes
    `$EMOMOTION_CACHE`, which points at a fresh folder removed at the end, so no result depends on what an earlier
    run (or the user's own studies) left in `~/.cache/emomotion`. `EMOMOTION_TEST_CACHE=DIR` keeps one on purpose
    (faster local reruns; tests that count fits then see warm entries)."""
    global _OWN_CACHE
    config.addinivalue_line("markers", "slow: long-running test (deselect with -m 'not slow')")
    config.addinivalue_line("markers", "notebooks: executes a whole notebook (not in the default run; "
                                       "pytest tests -m 'notebooks or study')")
    config.addinivalue_line("markers", "study: runs a whole quick study (not in the default run; "
                                       "pytest tests -m 'notebooks or study')")
    kept = os.environ.get("EMOMOTION_TEST_CACHE", "").strip()
    if kept:
        os.environ["EMOMOTION_CACHE"] = kept
    else:
        _OWN_CACHE = tempfile.mkdtemp(prefix="emomotion-test-cache-")
        os.environ["EMOMOTION_CACHE"] = _OWN_CACHE


def pytest_unconfigure(config):
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption("--fuzz-n", type=int, default=None,
                     help="mutated files in tests/test_bvh_fuzz.py (default 300, or $EMOMOTION_FUZZ_N)")
    parser.addoption("--fuzz-seed", type=int, default=None,
                     help="random seed of tests/test_bvh_fuzz.py's mutations (default 0, or $EMOMOTION_FUZZ_SEED)")


import pytest


@pytest.fixture(scope="session")
def make_tiny_kinematic(tmp_path_factory):
    """A factory of small generated Kinematic-format datasets: 2 actors x 7 emotions x 1 take, 1-1.5 s clips;
    `make(seed)` writes a fresh one and returns its root (the folder holding `BVH/` and `file-info.csv`)."""
    from emomotion.generator import generate_kinematic

    def make(seed: int = 3):
        root = tmp_path_factory.mktemp("gen") / "kinematic"
        generate_kinematic(root, n_actors=2, seed=seed, takes=1, seconds=(1.0, 1.5), median_seconds=None,
                           n_jobs=1, progress=False)
        return root
    return make
