"""Shared paths and helpers for the plugin's tests.

The CAD samples live outside the repository in ../shared/testdata/cad (from
the repository root); CI lays out shared/ beside the clone exactly like a
developer machine. A missing folder fails the tests loudly rather than
skipping them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PLUGIN_DIR.parents[1]
CAD_DIR = REPO_ROOT.parent / "shared" / "testdata" / "cad"
TESTDATA = Path(__file__).resolve().parent / "testdata"

# STEP samples cascadio cannot convert, and what the error message must say.
BAD_STEP = {
    "truncated_colored_screw.step": "truncated",
    "no_geometry.step": "no geometry",
}


def cad(name: str) -> str:
    """Absolute path of a sample in the shared CAD folder."""
    path = CAD_DIR / name
    assert path.is_file(), f"missing test sample {path} (is ../shared/testdata/cad beside the repo?)"
    return str(path)


def step_samples() -> list[str]:
    """Names of every STEP sample in the shared CAD folder."""
    assert CAD_DIR.is_dir(), f"missing {CAD_DIR}: shared/ must sit beside the repository"
    names = sorted(p.name for p in CAD_DIR.iterdir() if p.suffix.lower() in (".step", ".stp"))
    assert names, f"no STEP files in {CAD_DIR}"
    return names


@pytest.fixture(scope="session")
def converter():
    """One Converter for the whole session, as one plugin process would have."""
    from partflow_cascadio.converter import Converter

    return Converter()
