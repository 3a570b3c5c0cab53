"""The analyst's update workflow, end to end, in a temporary copy of the project.

Add an article with `mali-partners add`, rebuild the book, and check that the corpus
version, the changelog and a glued count changed; that every notebook (each reads the
corpus) re-executed after the change and none did on an unchanged rebuild; and that a
hostile article (HTML in its text) renders as text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOSTILE = """Mali and Russia <script>document.title="pwned"</script> signed a new defence agreement in Bamako on 12 March 2024,
while relations with France remained tense after the expulsion of the French ambassador. <img src=x onerror="document.title='pwned'">
The Russian delegation, led by officials close to the Kremlin, promised training and equipment deliveries to the Malian army.
Officials in Bamako welcomed the cooperation and said the partnership with Moscow would deepen in the coming months.
Critics in Paris accused the junta of turning its back on Western partners and on ECOWAS, which had imposed sanctions before.
"""


def _run(cmd: list[str], cwd: Path, env: dict | None = None, timeout: int = 1200) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def _build(project: Path, corpus: str = "seeds") -> str:
    """The steps of `make book` (validate, bookinfo, tables, strict build) with this venv; returns the log."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "MALI_PARTNERS_CORPUS": str(project / corpus)}
    log = _run([str(BIN / "mali-partners"), "validate", corpus], project, env).stdout
    log += _run(
        [str(BIN / "python"), "-m", "mali_partners.bookinfo", "--corpus", corpus, "--out", "_build/bookinfo.json"],
        project,
        env,
    ).stdout
    _run([str(BIN / "mali-partners"), "analyse", corpus, "--out", "_build/tables"], project, env)
    shutil.rmtree(project / "_build" / "html", ignore_errors=True)
    proc = _run(
        [str(BIN / "jupyter-book"), "build", ".", "--warningiserror", "--nitpick", "--keep-going"], project, env
    )
    return log + proc.stdout + proc.stderr


def _executed(log: str) -> int:
    return len(re.findall(r"Executing notebook using", log))


def _text(page: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))


def _project_copy(tmp_path: Path) -> Path:
    """A copy of the project (no venv, build, git or benchmarks) committed in a new git repository."""
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns(
        ".venv",
        "_build",
        "_site",
        ".git",
        "test-artifacts",
        "benchmarks",
        "__pycache__",
        ".pytest_cache",
        ".hypothesis",
        ".ruff_cache",
        "*.egg-info",
    )
    shutil.copytree(ROOT, project, ignore=ignore)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    _run(["git", "init", "-q"], project)
    _run([*git, "add", "-A"], project)
    _run([*git, "commit", "-qm", "seed corpus"], project)
    return project


@pytest.mark.slow
def test_add_an_article_then_rebuild(tmp_path):
    project = _project_copy(tmp_path)
    # start from the main build's execution cache when it matches, as CI restores it
    cache = ROOT / "_build" / ".jupyter_cache"
    if cache.is_dir() and (ROOT / "_build" / "bookinfo.json").is_file():
        shutil.copytree(cache, project / "_build" / ".jupyter_cache")
        shutil.copy(ROOT / "_build" / "bookinfo.json", project / "_build" / "bookinfo.json")

    _build(project)
    info1 = json.loads((project / "_build" / "bookinfo.json").read_text())
    home1 = _text(project / "_build" / "html" / "notebooks" / "00_home.html")
    assert f"These are {info1['n_articles']} articles" in home1

    # an unchanged rebuild executes nothing
    again = _build(project)
    assert _executed(again) == 0, again[-3000:]

    # the analyst adds an article (with hostile HTML in it) and rebuilds
    article = tmp_path / "new.txt"
    article.write_text(HOSTILE, encoding="utf-8")
    _run(
        [
            str(BIN / "mali-partners"),
            "add",
            str(article),
            "--title",
            "Mali and Russia sign <b>defence</b> deal",
            "--source",
            "Test wire",
            "--published",
            "2024-03-13",
            "--date-basis",
            'stated in the test: "on 12 March 2024"',
            "--corpus",
            "seeds",
        ],
        project,
    )
    second = _build(project)
    info2 = json.loads((project / "_build" / "bookinfo.json").read_text())
    html = project / "_build" / "html"
    assert info2["corpus_version"] != info1["corpus_version"]
    assert info2["n_articles"] == info1["n_articles"] + 1
    assert info2["book_version"] != info1["book_version"]
    # every notebook reads the corpus, so every one re-ran
    assert _executed(second) == 9, second[-3000:]
    # a glued count changed
    home2 = _text(html / "notebooks" / "00_home.html")
    assert f"These are {info2['n_articles']} articles" in home2
    assert info2["corpus_version"] in home2
    # the changelog lists the new article under the new version
    changelog = _text(html / "notebooks" / "08_changelog.html")
    assert info2["corpus_version"] in changelog and "Mali and Russia sign" in changelog
    assert info1["corpus_version"] in changelog
    # the hostile text is shown as text in the evidence and KWIC tables, never as markup
    for page in html.rglob("*.html"):
        raw = page.read_text(encoding="utf-8")
        assert 'document.title="pwned"</script>' not in raw, page
        assert "<img src=x onerror" not in raw, page
        assert "<b>defence</b>" not in raw, page
    assert "&lt;script&gt;document.title" in (html / "notebooks" / "05_trajectories.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_book_of_a_corpus_larger_than_one_row_per_article(tmp_path):
    """The seeds plus synthetic articles, more than charts.PER_ARTICLE_MAX: the book builds
    strictly, the per-article views turn into per-period ones, every figure fits a page, and
    the validation chapter scores the annotated seed articles only."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.generate import generate
    finally:
        sys.path.remove(str(ROOT))
    from mali_partners.charts import PER_ARTICLE_MAX

    project = _project_copy(tmp_path)
    corpus = project / "grown"
    shutil.copytree(project / "seeds", corpus)
    synthetic = generate(PER_ARTICLE_MAX + 20, tmp_path / "synthetic")
    rows = (synthetic / "manifest.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    assert rows[0] == (corpus / "manifest.csv").read_text(encoding="utf-8").splitlines(keepends=True)[0]
    with open(corpus / "manifest.csv", "a", encoding="utf-8") as fh:
        fh.writelines(rows[1:])
    for f in synthetic.glob("*.txt"):
        shutil.copy(f, corpus / f.name)
    n = 5 + PER_ARTICLE_MAX + 20

    _build(project, "grown")
    html = project / "_build" / "html" / "notebooks"
    assert f"These are {n} articles" in _text(html / "00_home.html")
    raw = (html / "01_corpus.html").read_text(encoding="utf-8")
    section = re.search(r'<section id="what-cleaning-did">(.*?)</section>', raw, re.S)
    assert section, "no cleaning section"
    cleaning = re.sub(r"<[^>]+>", " ", section.group(1))
    assert "n_articles" in cleaning and "chars_removed" in cleaning  # the per-rule cleaning table
    assert not re.search(r"\b000(000)?\b", cleaning.split("chars_added")[1])  # no column per article
    validation = _text(html / "06_validation.html")
    assert f"5 of this corpus’s {n}" in validation or f"5 of this corpus's {n}" in validation
    assert "nan" not in validation.split()  # every glued score is a number or says n/a
    from PIL import Image

    for png in (project / "_build" / "html").rglob("*.png"):
        width, height = Image.open(png).size
        assert height <= 2000 and width <= 2000, (png, width, height)
