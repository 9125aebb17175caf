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
