"""The compiled builds of the per-article modules: used only for the source they were built from, same results."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mali_partners import speedups

ROOT = Path(__file__).resolve().parent.parent


def _manifest(folder: Path, sources: Path, names: tuple[str, ...], python: str | None = None) -> dict:
    """A manifest for fake builds of ``names`` (empty files named as Python names extension modules)."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    modules = {}
    for name in names:
        (folder / f"{name}{suffix}").write_bytes(b"")
        modules[name] = {"file": f"{name}{suffix}", "sha256": speedups.source_hash(sources / f"{name}.py")}
    manifest = {"python": python or sys.implementation.cache_tag, "modules": modules}
    (folder / speedups.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def test_a_build_is_found_only_for_the_source_it_was_built_from(tmp_path):
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "trajectory.py").write_text("X = 1\n", encoding="utf-8")
    (sources / "actors.py").write_text("Y = 2\n", encoding="utf-8")
    manifest = _manifest(tmp_path / "build", sources, ("trajectory", "actors"))
    finder = speedups.CompiledFinder(tmp_path / "build", manifest, sources)
    spec = finder.find_spec("mali_partners.trajectory")
    assert spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    assert spec.origin == str(tmp_path / "build" / manifest["modules"]["trajectory"]["file"])
    (sources / "actors.py").write_text("Y = 3  # edited after the build\n", encoding="utf-8")
    assert finder.find_spec("mali_partners.actors") is None  # runs as Python, never as stale code
    (tmp_path / "build" / manifest["modules"]["trajectory"]["file"]).unlink()
    assert finder.find_spec("mali_partners.trajectory") is None  # the binary is gone
    # other modules and other packages are not its business
    assert finder.find_spec("mali_partners.pipeline") is None
    assert finder.find_spec("trajectory") is None
    assert finder.find_spec("other.trajectory") is None


def test_install_respects_the_pure_switch_and_the_python_that_built(tmp_path, monkeypatch):
    before = list(sys.meta_path)
    monkeypatch.setattr(sys, "meta_path", [f for f in before if not isinstance(f, speedups.CompiledFinder)])
    _manifest(tmp_path / "other", speedups.SOURCE_DIR, ("trajectory",), python="cpython-99")
    assert speedups.install(tmp_path / "other") is None  # another Python's binaries would not load
    assert speedups.install(tmp_path / "none") is None  # no build at all
    _manifest(tmp_path / "build", speedups.SOURCE_DIR, ("trajectory",))
    monkeypatch.setenv(speedups.PURE_ENV, "1")
    assert speedups.install(tmp_path / "build") is None
    monkeypatch.delenv(speedups.PURE_ENV)
    finder = speedups.install(tmp_path / "build")
    assert finder is not None and sys.meta_path[0] is finder
    assert speedups.install(tmp_path / "build") is finder  # once
    assert sum(isinstance(f, speedups.CompiledFinder) for f in sys.meta_path) == 1


def _can_compile() -> bool:
    import sysconfig

    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None and importlib.util.find_spec("Cython") is not None


def test_make_install_built_them_where_a_compiler_exists():
    """Where Cython and a C compiler are installed, ``make install`` compiled every module and they are in use."""
    if not _can_compile():
        pytest.skip("no C compiler or no Cython: the package runs as Python")
    if speedups.pure_requested():
        pytest.skip(f"{speedups.PURE_ENV} is set")
    manifest = json.loads((speedups.build_dir() / speedups.MANIFEST).read_text(encoding="utf-8"))
    assert sorted(manifest["modules"]) == sorted(speedups.MODULES)
    # in a new process, as a user's: pytest's doctest collection may have imported a module from its file here
    code = "import mali_partners.pipeline, mali_partners.speedups as s; print(','.join(s.compiled()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    used = done.stdout.strip().split(",")
    assert used == list(speedups.MODULES), f"compiled in use: {used}; a build is stale: run `make install`"


def test_compiled_and_python_modules_write_the_same_tables(tmp_path):
    """The seeds and 60 generated articles, analysed by the compiled modules and by Python: every file byte-identical."""
    if not (speedups.build_dir() / speedups.MANIFEST).is_file():
        pytest.skip("no compiled build (see test_make_install_built_them_where_a_compiler_exists)")
    from benchmarks.generate import generate

    corpora = {"seeds": ROOT / "seeds", "generated": generate(60, tmp_path / "generated")}
    for name, corpus in corpora.items():
        outs = {}
        for mode in ("compiled", "python"):
            env = {k: v for k, v in os.environ.items() if k != speedups.PURE_ENV}
            if mode == "python":
                env[speedups.PURE_ENV] = "1"
            out = tmp_path / f"{name}-{mode}"
            code = (
                "import sys, mali_partners.pipeline as p, mali_partners.speedups as s; "
                "p.analyse_to_dir(sys.argv[1], sys.argv[2], cache_dir=None, workers=2); print(','.join(s.compiled()))"
            )
            done = subprocess.run(
                [sys.executable, "-c", code, str(corpus), str(out)], env=env, capture_output=True, text=True, check=True
            )
            used = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
            assert used == ("" if mode == "python" else ",".join(speedups.MODULES)), (mode, used)
            outs[mode] = out
        files = sorted(p.name for p in outs["compiled"].iterdir())
        assert files == sorted(p.name for p in outs["python"].iterdir()) and len(files) > 30
        for f in files:
            assert (outs["compiled"] / f).read_bytes() == (outs["python"] / f).read_bytes(), f"{name}: {f} differs"


def test_the_tests_run_the_compiled_modules():
    """In this test session too, where they are built: tests/conftest.py imports them before pytest's doctest
    collection could import one from its file (as Python)."""
    if not (speedups.build_dir() / speedups.MANIFEST).is_file():
        pytest.skip("no compiled build (see test_make_install_built_them_where_a_compiler_exists)")
    if speedups.pure_requested():
        pytest.skip(f"{speedups.PURE_ENV} is set")
    assert speedups.compiled() == list(speedups.MODULES), "a build is stale (run `make install`) or was bypassed"


def test_the_makefile_rebuilds_when_any_compiled_module_changes():
    """The Makefile's list of the build's sources is :data:`speedups.MODULES` (and the build's own code)."""
    import re

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    listed = re.search(r"^SPEEDUP_SOURCES := \$\(addprefix mali_partners/,(.*)\)$", makefile, re.M)
    assert listed, "no SPEEDUP_SOURCES line in the Makefile"
    assert listed.group(1).split() == [f"{m}.py" for m in speedups.MODULES] + ["speedups.py"]
    assert re.search(r"^install: \$\(STAMP\) \$\(SPEEDUPS\)$", makefile, re.M)
