"""The GitHub Actions workflow: actionlint (with shellcheck on every run: script) passes,
and the few structural facts the book's CI relies on hold."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BOOK_WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _tool_path() -> str:
    """PATH with this interpreter's scripts folder (the venv's bin) first, so the pinned
    actionlint and shellcheck are the ones found, by this test and by actionlint itself."""
    scripts = sysconfig.get_path("scripts") or str(Path(sys.executable).parent)
    return os.pathsep.join([scripts, os.environ.get("PATH", "")])


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(BOOK_WORKFLOW.read_text(encoding="utf-8"))


def _triggers(doc: dict) -> dict:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    return doc.get("on", doc.get(True))


def test_actionlint_passes():
    assert WORKFLOWS, "no workflow under .github/workflows"
    path = _tool_path()
    actionlint = shutil.which("actionlint", path=path)
    assert actionlint, "actionlint not found: install requirements.txt (it pins the package that ships it)"
    assert shutil.which("shellcheck", path=path), "shellcheck not found: actionlint would skip the run: scripts"
    proc = subprocess.run(
        [actionlint, "-no-color", *(str(p.relative_to(ROOT)) for p in WORKFLOWS)],
        cwd=ROOT,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"actionlint exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"


def test_triggers(workflow):
    on = _triggers(workflow)
    for event in ("push", "pull_request"):
        paths = on[event]["paths"]
        assert "seeds/**" in paths, event
        assert "notebooks/**" in paths, event
        assert "requirements.txt" in paths, event
    assert on["schedule"], "weekly schedule (dependency drift) is missing"
    assert "workflow_dispatch" in on


def test_publish_only_on_push_to_main(workflow):
    publish = workflow["jobs"]["publish"]
    condition = publish["if"]
    assert "github.event_name == 'push'" in condition
    assert "github.ref == 'refs/heads/main'" in condition
    needs = publish["needs"]
    assert "build" in ([needs] if isinstance(needs, str) else needs)
    assert publish["concurrency"]["group"] == "pages"
    assert publish["permissions"]["pages"] == "write"
    assert publish["permissions"]["id-token"] == "write"
    assert any("make publish" in step.get("run", "") for step in publish["steps"])


def test_jupyter_cache_is_cached(workflow):
    steps = workflow["jobs"]["build"]["steps"]
    caches = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
    assert caches, "no actions/cache step in the build job"
    jupyter = [s for s in caches if "_build/.jupyter_cache" in s["with"]["path"].split()]
    assert jupyter, "the jupyter-cache folder _build/.jupyter_cache is not cached"
    # make book clears the execution cache unless bookinfo.json records the same inputs
    assert "_build/bookinfo.json" in jupyter[0]["with"]["path"].split()
    key = jupyter[0]["with"]["key"]
    for part in ("hashFiles(", "'requirements.txt'", "'_config.yml'", "'seeds/**'", "'mali_partners/data/**'"):
        assert part in key, part


def test_build_steps(workflow):
    steps = workflow["jobs"]["build"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0, "the changelog needs the full git history"
    runs = [s.get("run", "").strip() for s in steps]
    for target in ("make validate", "make book", "make test"):
        assert target in runs, f"{target} is not its own step"
    assert workflow["defaults"]["run"]["shell"] == "bash"
