"""Shared fixtures: the seed corpus, a throw-away copy of it, and one analysis of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# Every module of the per-article step imported before pytest collects the package's doctests, so that the tests
# run the compiled builds (mali_partners.speedups) as a user's run does: pytest imports a module not yet imported
# from its own file (it takes a finder's module only when its origin is that file), which would then run as Python.
import mali_partners.pipeline  # noqa: F401

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The repository's seed corpus (read only: tests that change a corpus use ``corpus_copy``)."""
    assert (SEEDS_DIR / "manifest.csv").is_file(), f"no seed corpus at {SEEDS_DIR}"
    return SEEDS_DIR


@pytest.fixture
def corpus_copy(tmp_path: Path, seeds_dir: Path) -> Path:
    """A private copy of the seed corpus in a temporary folder, safe to break or extend."""
    return Path(shutil.copytree(seeds_dir, tmp_path / "corpus"))


@pytest.fixture(scope="session")
def analysis(seeds_dir: Path):
    """The whole pipeline run once on the seeds, shared by every test that only reads it."""
    from mali_partners.pipeline import run

    return run(seeds_dir)
