import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test (deselect with -m 'not slow')")


def pytest_addoption(parser):
    parser.addoption("--fuzz-n", type=int, default=None,
                     help="mutated files in tests/test_bvh_fuzz.py (default 300, or $EMOMOTION_FUZZ_N)")


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
