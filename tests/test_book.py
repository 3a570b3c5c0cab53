"""The built book: strict build, offline pages, versions, browser checks, the update workflow.

`make test` builds the book first (`make book`, strict: -W --keep-going), so these tests
read `_build/html`. The browser tests drive Debian's headless Chromium through selenium
against pages served on 127.0.0.1; screenshots are kept in `test-artifacts/`.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mali_partners import book as mp_book
from mali_partners import publish as mp_publish

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts"
BIN = Path(sys.executable).parent
JB = BIN / "jupyter-book"

needs_book = pytest.mark.skipif(not (HTML / "index.html").is_file(), reason="run `make book` first (make test does)")
needs_chromium = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)


def html_pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts and p.name not in ("genindex.html",))


# ----------------------------------------------------------------------------- static HTML checks

RESOURCE = re.compile(
    r"<(script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.I
)


@needs_book
def test_every_page_loads_nothing_from_outside_the_site():
    offenders = []
    for page in html_pages():
        for tag, url in RESOURCE.findall(page.read_text(encoding="utf-8")):
            if re.match(r"^(?:https?:)?//", url):
                offenders.append(f"{page.relative_to(HTML)}: <{tag}> {url}")
    assert offenders == []


ICON = re.compile(r"<link\b[^>]*\brel=[\"']icon[\"'][^>]*\bhref=[\"']([^\"']+)[\"']", re.I)


@needs_book
def test_every_page_and_redirect_names_an_icon_that_exists(tmp_path):
    # a page without one makes the browser ask the server root for /favicon.ico, a 404
    # in the console (CI once failed on it, on the redirect index.html alone)
    info = json.loads((ROOT / "_build" / "bookinfo.json").read_text())
    site = tmp_path / "site"
    mp_publish.publish(HTML, site, info)
    pages = html_pages() + [site / "index.html"]
    assert HTML / "index.html" in pages
    missing = []
    for page in pages:
        found = ICON.findall(page.read_text(encoding="utf-8"))
        if not found or not (page.parent / found[0]).is_file():
            missing.append(f"{page}: {found or 'no icon link'}")
    assert missing == []


@needs_book
def test_every_page_states_the_corpus_version_and_commit():
    info = json.loads((ROOT / "_build" / "bookinfo.json").read_text())
    pages = [p for p in html_pages() if "http-equiv" not in p.read_text()[:400].lower()]
    assert len(pages) >= 10
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert info["corpus_version"] in text, page
        assert info["book_version"] in text, page
        assert f"{info['n_articles']} articles" in text, page


@needs_book
def test_figures_have_captions_and_alt_text():
    text = (HTML / "notebooks" / "05_trajectories.html").read_text(encoding="utf-8")
    figures = re.findall(r"<figure[^>]*>(.*?)</figure>", text, re.S)
    assert figures, "the trajectories chapter has no figure"
    for fig in figures:
        assert re.search(r'<img[^>]+alt="[^"]{20,}"', fig), "a figure without alt text"
        assert "figcaption" in fig


@needs_book
def test_code_cells_are_hidden_by_default():
    text = (HTML / "notebooks" / "05_trajectories.html").read_text(encoding="utf-8")
    assert "tag_hide-input" in text
    assert "from mali_partners import book" not in re.sub(r"<details.*?</details>", "", text, flags=re.S)


@needs_book
def test_data_page_links_every_table_as_a_download():
    from mali_partners.pipeline import TABLES

    text = (HTML / "notebooks" / "07_data.html").read_text(encoding="utf-8")
    for name in TABLES:
        assert re.search(rf'href="[^"]*_downloads/[^"]*/{name}\.csv"', text), name
    downloads = list((HTML / "_downloads").rglob("*.csv"))
    assert len(downloads) >= len(TABLES)


@needs_book
def test_numbers_in_prose_are_glued_not_typed():
    """The home page's key numbers equal a fresh computation from the corpus (no cache)."""
    from mali_partners.pipeline import run

    an = run(str(ROOT / "seeds"))
    text = re.sub(r"<[^>]+>", "", (HTML / "notebooks" / "00_home.html").read_text(encoding="utf-8"))
    counts = an.actor_counts().set_index("actor")
    assert f"France is named {counts.loc['France', 'mentions_with_children']:,} times" in text
    assert f"These are {len(an.docs):,} articles" in text
    assert f"{mp_book.corpus_caveat(len(an.docs))}. These are" in text
    assert f"({an.n_tokens:,} words)" in text


def test_glued_counts_are_grouped_and_missing_scores_say_so():
    import numpy as np

    assert mp_book.readable(1234567) == "1,234,567" and mp_book.readable(np.int64(12345)) == "12,345"
    assert mp_book.readable(999) == "999" and mp_book.readable(True) is True and mp_book.readable(0.5) == 0.5
    assert mp_book.readable("2022") == "2022"  # a year glued as text stays as it is
    assert mp_book.fmt(0.8765, ".3f") == "0.876" and mp_book.fmt(None, ".0%") == "n/a"
    assert mp_book.fmt(float("nan"), ".2f", missing="not measured") == "not measured"
    small, large = mp_book.SMALL_CORPUS_MAX, mp_book.SMALL_CORPUS_MAX + 1
    assert mp_book.corpus_caveat(small) == "A small corpus" != mp_book.corpus_caveat(large)


# ----------------------------------------------------------------------------- escaping


def test_tables_escape_corpus_text():
    import pandas as pd

    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    html = mp_book.table(pd.DataFrame({"sentence": [hostile], "n": [1]}), wrap=("sentence",)).data
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    lines = pd.DataFrame(
        [{"doc_id": "x", "published": "2024", "left": hostile, "keyword": "<b>France</b>", "right": hostile}]
    )
    kw = mp_book.kwic_table(lines).data
    assert "<script>" not in kw and "<b>France</b>" not in kw


# ----------------------------------------------------------------------------- strictness of the build


def _tiny_book(tmp_path: Path, cells: list[str], extra_md: str = "") -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny\n\n" + extra_md), *[nbformat.v4.new_code_cell(c) for c in cells]]
    nbformat.write(nb, tmp_path / "page.ipynb")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    cfg = (
        (ROOT / "_config.yml")
        .read_text()
        .replace("    - mali_partners.sphinxext\n", "    []\n")
        .replace("  extra_extensions:\n    []\n", "")
    )
    (tmp_path / "_config.yml").write_text(cfg)
    return tmp_path


def _build(path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(JB), "build", str(path), "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.slow
def test_a_notebook_that_raises_fails_the_build_and_names_the_cell(tmp_path):
    proc = _build(_tiny_book(tmp_path, ["x = 1", "raise ValueError('broken analysis')"]))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "page" in out and "broken analysis" in out


@pytest.mark.slow
def test_a_broken_cross_reference_fails_the_build(tmp_path):
    proc = _build(_tiny_book(tmp_path, ["x = 1"], extra_md="See {numref}`fig-does-not-exist`."))
    assert proc.returncode != 0
    assert "fig-does-not-exist" in proc.stdout + proc.stderr


def test_a_corpus_that_fails_validation_stops_make_book_before_building(tmp_path, corpus_copy):
    (corpus_copy / "stray.txt").write_text("not in the manifest " * 10)
    proc = subprocess.run(
        ["make", "-s", "validate", f"CORPUS={corpus_copy}"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode != 0
    assert "stray.txt" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- publishing


def _info(version: str, n: int = 5) -> dict:
    return {
        "book_version": version,
        "n_articles": n,
        "corpus_version": "abcdef123456",
        "date_earliest": "2022-01-31",
        "date_latest": "2024-12-31",
        "commit": "c0ffee",
        "build_date": "2026-11-25 00:00 UTC",
    }


@needs_book
def test_publish_keeps_earlier_versions_and_points_latest_at_the_newest(tmp_path):
    site = tmp_path / "site"
    mp_publish.publish(HTML, site, _info("v1"))
    mp_publish.publish(HTML, site, _info("v2", 6))
    versions = json.loads((site / "versions.json").read_text())
    assert [v["version"] for v in versions] == ["v2", "v1"]
    assert (site / "v1" / "index.html").is_file() and (site / "v2" / "index.html").is_file()
    assert (site / "latest" / "index.html").is_file()
    assert "latest/index.html" in (site / "index.html").read_text()
    # publishing the same version again replaces it and keeps one entry
    mp_publish.publish(HTML, site, _info("v2", 6))
    assert [v["version"] for v in json.loads((site / "versions.json").read_text())] == ["v2", "v1"]


def test_publish_without_a_built_book_changes_nothing(tmp_path):
    site = tmp_path / "site"
    (site / "v1").mkdir(parents=True)
    (site / "versions.json").write_text('[{"version": "v1"}]')
    before = sorted((p.relative_to(site), p.read_bytes() if p.is_file() else b"") for p in site.rglob("*"))
    with pytest.raises(FileNotFoundError):
        mp_publish.publish(tmp_path / "no-html", site, _info("v2"))
    assert sorted((p.relative_to(site), p.read_bytes() if p.is_file() else b"") for p in site.rglob("*")) == before


# ----------------------------------------------------------------------------- browser


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


@pytest.fixture(scope="module")
def served_site(tmp_path_factory):
    """The built book published twice (two versions) into a temporary site, served on 127.0.0.1."""
    if not (HTML / "index.html").is_file():
        pytest.skip("run `make book` first")
    site = tmp_path_factory.mktemp("site")
    info = json.loads((ROOT / "_build" / "bookinfo.json").read_text())
    mp_publish.publish(HTML, site, {**info, "book_version": info["book_version"] + "-previous"})
    mp_publish.publish(HTML, site, info)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", site, info
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("needs chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


@pytest.mark.slow
@needs_chromium
def test_every_page_loads_without_console_errors_or_outside_requests(served_site, browser):
    base, site, info = served_site
    pages = sorted(
        p.relative_to(site / "latest") for p in (site / "latest").rglob("*.html") if "_static" not in p.parts
    )
    assert len(pages) >= 10
    browser.get_log("browser")
    _requests(browser)
    problems = []
    for rel in pages:
        browser.get(f"{base}/latest/{rel.as_posix()}")
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        outside = [
            u for u in _requests(browser) if not (u.startswith(base) or u.startswith(("data:", "blob:", "about:")))
        ]
        if errors or outside:
            problems.append((str(rel), errors, outside))
    assert problems == []


@pytest.mark.slow
@needs_chromium
def test_figures_render_and_screenshots_are_kept(served_site, browser):
    base, _, _ = served_site
    ARTIFACTS.mkdir(exist_ok=True)
    for page, shot in (("notebooks/00_home.html", "home.png"), ("notebooks/05_trajectories.html", "trajectories.png")):
        browser.get(f"{base}/latest/{page}")
        sizes = browser.execute_script(
            "return Array.from(document.querySelectorAll('figure img')).map(i => [i.naturalWidth, i.complete]);"
        )
        assert sizes and all(w > 300 and ok for w, ok in sizes), sizes
        browser.save_screenshot(str(ARTIFACTS / shot))
        assert (ARTIFACTS / shot).stat().st_size > 10_000


@pytest.mark.slow
@needs_chromium
def test_search_finds_wagner(served_site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, _, _ = served_site
    browser.get(f"{base}/latest/search.html?q=Wagner")
    WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#search-results ul.search li")))
    results = browser.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")
    assert results
    assert any(
        "02_actors" in r.get_attribute("innerHTML") or "trajector" in r.get_attribute("innerHTML") for r in results
    )


@pytest.mark.slow
@needs_chromium
def test_version_switcher_lists_the_published_versions(served_site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, site, info = served_site
    browser.get(f"{base}/latest/notebooks/02_actors.html")
    select = WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.ID, "mp-version-select")))
    options = [o.text for o in select.find_elements(By.TAG_NAME, "option")]
    versions = json.loads((site / "versions.json").read_text())
    assert options == [v["name"] for v in versions]
    assert len(options) == 2
    values = [o.get_attribute("value") for o in select.find_elements(By.TAG_NAME, "option")]
    assert values[1].endswith(f"{info['book_version']}-previous/notebooks/02_actors.html")


def test_notebooks_are_committed_without_outputs():
    """Notebooks hold narrative and calls; outputs come from the build (diffs show only what a person wrote)."""
    import nbformat

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 9
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (
                    f"{path.name}: clear the outputs before committing"
                )


def test_notebooks_define_no_functions_or_classes():
    """Analysis logic lives in the package, where it is tested; a notebook calls it (the home page once kept
    its own copy of the lexicon's threshold in a function)."""
    import ast

    import nbformat

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells, 1):
            if cell.cell_type != "code":
                continue
            defined = [
                node.name
                for node in ast.walk(ast.parse(cell.source))
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            ]
            assert not defined, f"{path.name}, cell {i}: move {', '.join(defined)} into the package"


def test_every_toc_file_exists_and_every_notebook_is_in_the_toc():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        for ch in part["chapters"]:
            files.append(ch["file"])
            files += [s["file"] for s in ch.get("sections", [])]
    for f in files:
        assert (ROOT / f"{f}.ipynb").is_file() or (ROOT / f"{f}.md").is_file(), f
    listed = {f for f in files if f.startswith("notebooks/")}
    assert {f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("*.ipynb")} == listed


def test_large_tables_are_linked_as_parquet(tmp_path):
    (tmp_path / "small.csv").write_text("a\n1\n")
    (tmp_path / "big.csv").write_bytes(b"a\n" + b"1\n" * 600_000)
    assert (
        mp_book.table_download("small", tmp_path, max_mb=1)
        == f"{{download}}`Download small.csv <{tmp_path.as_posix()}/small.csv>`"
    )
    link = mp_book.table_download("big", tmp_path, max_mb=1)
    assert link.startswith(f"{{download}}`Download big.parquet <{tmp_path.as_posix()}/big.parquet>`")
    assert "1 MB" in link and "big.csv" not in link


def test_glue_does_not_compile_the_iri_grammars_and_notebooks_still_validate():
    """glue_all keeps jsonschema from importing rfc3987_syntax (3 s per notebook kernel); nbformat still
    validates a notebook, and a bad one is still rejected (the formats it skips are only "iri")."""
    code = (
        "import sys, json\n"
        "from mali_partners import book\n"
        "book.glue_all({'n': 1})\n"
        "import nbformat\n"
        "nb = nbformat.read('notebooks/07_data.ipynb', as_version=4)\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['cell_type'] = 'nonsense'\n"
        "try:\n"
        "    nbformat.validate(nb)\n"
        "    bad = 'accepted'\n"
        "except nbformat.ValidationError:\n"
        "    bad = 'rejected'\n"
        "print(json.dumps({'rfc': sys.modules.get('rfc3987_syntax', 'absent') is None, 'bad': bad}))\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"rfc": True, "bad": "rejected"}
