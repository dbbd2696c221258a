"""Shared paths and helpers for the plugin's tests.

The project's own fixtures (internal/fixtures/testdata: a STEP box, STL
meshes) are always there; fixture() returns them. The real-world CAD corpus
lives outside the repository in ../shared/testdata/cad (from the repository
root): tests that use it (cad(), step_samples()) are skipped when it is
missing, unless PARTFLOW_REQUIRE_CORPUS=1 (CI), which makes a missing corpus
a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PLUGIN_DIR.parents[1]
CAD_DIR = REPO_ROOT.parent / "shared" / "testdata" / "cad"
TESTDATA = Path(__file__).resolve().parent / "testdata"
FIXTURES = REPO_ROOT / "internal" / "fixtures" / "testdata"
REQUIRE_CORPUS = os.environ.get("PARTFLOW_REQUIRE_CORPUS") == "1"

# The box fixture's extents in metres (20 x 10 x 5 mm).
BOX_EXTENTS = [0.02, 0.01, 0.005]

# STEP samples cascadio cannot convert, and what the error message must say.
BAD_STEP = {
    "truncated_colored_screw.step": "truncated",
    "no_geometry.step": "no geometry",
}


def fixture(name: str) -> str:
    """Absolute path of one of the project's own fixture files."""
    path = FIXTURES / name
    assert path.is_file(), f"missing project fixture {path}"
    return str(path)


def cad(name: str) -> str:
    """Absolute path of a sample in the shared CAD corpus; skips the test
    when the corpus is missing (fails when PARTFLOW_REQUIRE_CORPUS=1)."""
    if not CAD_DIR.is_dir():
        if REQUIRE_CORPUS:
            pytest.fail(f"missing {CAD_DIR}, which PARTFLOW_REQUIRE_CORPUS=1 requires")
        pytest.skip(f"the shared CAD corpus {CAD_DIR} is not beside the repository")
    path = CAD_DIR / name
    assert path.is_file(), f"missing corpus sample {path}"
    return str(path)


def step_samples() -> list[str]:
    """Names of every STEP sample in the shared CAD corpus: none when it is
    missing (the parametrized tests are then skipped), unless
    PARTFLOW_REQUIRE_CORPUS=1 requires it."""
    if not CAD_DIR.is_dir():
        assert not REQUIRE_CORPUS, f"missing {CAD_DIR}, which PARTFLOW_REQUIRE_CORPUS=1 requires"
        return []
    names = sorted(p.name for p in CAD_DIR.iterdir() if p.suffix.lower() in (".step", ".stp"))
    assert names, f"no STEP files in {CAD_DIR}"
    return names


@pytest.fixture(scope="session")
def converter():
    """One Converter for the whole session, as one plugin process would have."""
    from partflow_cascadio.converter import Converter

    return Converter()
