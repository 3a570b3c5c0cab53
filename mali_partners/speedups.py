"""Optional compiled builds of the per-article step's modules, used only while their source is unchanged.

``make install`` compiles :data:`MODULES` with Cython, as they are (no type declarations),
into ``<venv>/mali_partners_speedups/`` (``python -m mali_partners.build_speedups``). On the
benchmark machine that took 13 to 16% off the per-article step's CPU, with the same frames (see
``benchmarks/README.md``). Importing the package puts a finder first on ``sys.meta_path``
that loads a module's compiled build only when the manifest's hash of its source equals the
hash of the ``.py`` file there now: an edited module runs as Python until the next build,
never as stale code. Without a C compiler, or with ``MALI_PARTNERS_PURE=1``, every module
runs as Python and gives the same results.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

PACKAGE = "mali_partners"
# the modules of the per-article step (pipeline.analyse_document) whose Python code is most of its time
MODULES = ("trajectory", "actors", "text", "dating", "clean", "frequency", "gazetteer")
PURE_ENV = "MALI_PARTNERS_PURE"  # "1": never load a compiled build
MANIFEST = "manifest.json"
SOURCE_DIR = Path(__file__).resolve().parent


def build_dir() -> Path:
    """Where ``make install`` puts the compiled builds: beside the Python environment, not in the source tree."""
    return Path(sys.prefix) / "mali_partners_speedups"


def pure_requested() -> bool:
    """Whether ``MALI_PARTNERS_PURE`` asks for every module to run as Python (any value but empty or "0")."""
    return os.environ.get(PURE_ENV, "").strip() not in ("", "0")


def source_hash(path: Path) -> str:
    """The SHA-256 of a module's source file: a build is used only for the source it was built from."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds ``mali_partners.<module>`` in the compiled builds of ``folder`` when its source is the one built.

    Any other module, or a module whose ``.py`` file has changed since the build, is left to
    the normal import system (returns None).
    """

    def __init__(self, folder: Path, manifest: dict, sources: Path = SOURCE_DIR) -> None:
        self.folder, self.sources = folder, sources
        self.modules: dict[str, dict] = manifest.get("modules", {})

    def find_spec(self, fullname: str, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        entry = self.modules.get(name) if package == PACKAGE else None
        if entry is None:
            return None
        binary, source = self.folder / entry["file"], self.sources / f"{name}.py"
        try:
            if not binary.is_file() or source_hash(source) != entry["sha256"]:
                return None
        except OSError:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(binary))
        return importlib.util.spec_from_file_location(fullname, binary, loader=loader)


def install(folder: Path | None = None) -> CompiledFinder | None:
    """Put the finder of ``folder``'s builds (default :func:`build_dir`) first on ``sys.meta_path``, once.

    Nothing happens with ``MALI_PARTNERS_PURE=1``, without a manifest, or when it cannot be read.
    """
    if pure_requested():
        return None
    folder = folder or build_dir()
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("python") != sys.implementation.cache_tag:
        return None  # built by another Python: its binaries would not load
    for f in sys.meta_path:
        if isinstance(f, CompiledFinder):
            return f
    finder = CompiledFinder(folder, manifest)
    sys.meta_path.insert(0, finder)
    return finder


def compiled() -> list[str]:
    """The modules of :data:`MODULES` imported so far from a compiled build."""
    out = []
    for name in MODULES:
        mod = sys.modules.get(f"{PACKAGE}.{name}")
        if mod is not None and isinstance(getattr(mod, "__loader__", None), importlib.machinery.ExtensionFileLoader):
            out.append(name)
    return out


_SETUP = """
from Cython.Build import cythonize
from setuptools import setup
setup(
    name="mali_partners_speedups",
    script_args=["build_ext", "--inplace", "--parallel", "{jobs}"],
    ext_modules=cythonize(
        [{files}], compiler_directives={{"language_level": 3, "binding": False, "autotestdict": False}}, nthreads={jobs}, quiet=True
    ),
)
"""


def build(folder: Path | None = None, sources: Path = SOURCE_DIR) -> list[str]:
    """Compile :data:`MODULES` with Cython into ``folder`` (default :func:`build_dir`); return their names.

    Built in a temporary folder, then the folder is replaced whole: a failed build leaves the
    previous one (or none). Raises ``RuntimeError`` with the build's last line of output on failure.
    """
    import shutil
    import subprocess
    import tempfile

    folder = folder or build_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".speedups-build.", dir=folder.parent))
    try:
        pkg = work / PACKAGE
        pkg.mkdir()
        (pkg / "__init__.py").write_text("", encoding="utf-8")
        hashes = {}
        for name in MODULES:
            shutil.copy2(sources / f"{name}.py", pkg / f"{name}.py")
            hashes[name] = source_hash(pkg / f"{name}.py")
        files = ", ".join(repr(f"{PACKAGE}/{name}.py") for name in MODULES)
        (work / "setup_speedups.py").write_text(_SETUP.format(files=files, jobs=os.cpu_count() or 1), encoding="utf-8")
        # -O1 without debug information: the same speed as Python's own -O3 -g here (2.38-2.55 s of CPU per
        # 1,000 articles either way) in a third of the compile time (10 s instead of 39 s on two cores).
        # Flags set in CFLAGS come after these and win.
        env = {**os.environ, "CFLAGS": f"-O1 -g0 {os.environ.get('CFLAGS', '')}".strip()}
        done = subprocess.run(
            [sys.executable, "setup_speedups.py"], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            lines = (done.stdout + done.stderr).strip().splitlines()
            raise RuntimeError(f"the Cython build failed: {lines[-1] if lines else 'no output'}")
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        out = work / "out"
        out.mkdir()
        modules = {}
        for name in MODULES:
            binary = pkg / f"{name}{suffix}"
            if not binary.is_file():
                raise RuntimeError(f"the Cython build made no {binary.name}")
            shutil.copy2(binary, out / binary.name)
            modules[name] = {"file": binary.name, "sha256": hashes[name]}
        manifest = {"python": sys.implementation.cache_tag, "modules": modules}
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        out.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        return list(modules)
    finally:
        shutil.rmtree(work, ignore_errors=True)
