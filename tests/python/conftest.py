"""Shared fixtures for the tqsearch Python tests.

The package under test is whatever `import tqsearch` finds: ctest puts the build tree's python/ directory first on
PYTHONPATH; after `pip install .` the installed package is used. Shared datasets come from $TQSEARCH_DATA_DIR or
../shared/data beside the repository; tests that need them skip with the reason when they are absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SEED = 20250601


def data_dir() -> Path:
    env = os.environ.get("TQSEARCH_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture
def rng():
    print(f"seed = {SEED}")
    return np.random.default_rng(SEED)


@pytest.fixture
def gaussian(rng):
    """(2000, 64) float32 standard-normal base vectors and 50 queries drawn the same way."""
    return rng.standard_normal((2000, 64)).astype(np.float32), rng.standard_normal((50, 64)).astype(np.float32)


@pytest.fixture(scope="session")
def siftsmall():
    d = data_dir() / "siftsmall"
    if not (d / "base.fvecs").exists():
        pytest.skip(f"dataset siftsmall not found under {d.parent} (set TQSEARCH_DATA_DIR)")
    return d
