"""Publish the built book as one version of a multi-version site.

``make publish`` builds the book (strictly; a failure stops before this step, so the
published site is never touched by a broken build) and then runs
``python -m mali_partners.publish``, which

* copies ``_build/html`` into ``_site/<version>/`` (staged in a temporary folder and
  renamed, so a version folder is never half-written);
* keeps every earlier version folder as it is;
* refreshes ``_site/latest/`` (a copy of the newest version) and ``_site/index.html``
  (a redirect to it), and adds ``.nojekyll`` for GitHub Pages;
* writes ``_site/versions.json`` (read by the version switcher), last and atomically.

The version is the book version of ``_build/bookinfo.json`` (see :mod:`mali_partners.bookinfo`):
it changes with the code version or with any analysis input (corpus, gazetteer,
lexicon, stopwords); publishing the same version again replaces that folder.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path


def redirect_html(title: str, target: str, icon: str | None, body: str | None = None) -> str:
    """A complete redirect page to ``target``: title, icon, canonical link and a visible link.

    Without a ``<link rel="icon">`` browsers ask the server root for ``/favicon.ico`` (a 404
    in the console). ``body`` is the page's HTML text (default: a link to ``target``).
    """
    t, u = html.escape(title), html.escape(target, quote=True)
    link = f'<link rel="icon" href="{html.escape(icon, quote=True)}">\n' if icon else ""
    body = body if body is not None else f'The book starts at <a href="{u}">{t}</a>.'
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{t}</title>\n'
        f'<meta http-equiv="refresh" content="0; url={u}">\n{link}<link rel="canonical" href="{u}"></head>\n'
        f"<body><p>{body}</p></body></html>\n"
    )


REDIRECT = redirect_html(
    "Mali's shifting partnerships",
    "latest/index.html",
    "latest/_static/favicon.png",
    'The newest version of the book is at <a href="latest/index.html">latest/</a>;\n'
    'earlier versions are listed in <a href="versions.json">versions.json</a>.',
)


def _copy_tree_atomic(src: Path, dest: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        shutil.copytree(src, staging / "x")
        old = dest.with_name(f".{dest.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if dest.exists():
            dest.rename(old)
        (staging / "x").rename(dest)
        if old.exists():
            shutil.rmtree(old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)  # served by a web server: readable by all
    os.replace(tmp, path)


def publish(html: str | os.PathLike[str], site: str | os.PathLike[str], info: dict) -> list[dict]:
    """Add the built book at ``html`` to ``site`` as version ``info['book_version']``; return versions.json."""
    html, site = Path(html), Path(site)
    if not (html / "index.html").is_file():
        raise FileNotFoundError(f"{html}/index.html: no built book there; run `make book` first")
    version = info["book_version"]
    site.mkdir(parents=True, exist_ok=True)
    _copy_tree_atomic(html, site / version)
    vfile = site / "versions.json"
    versions = json.loads(vfile.read_text()) if vfile.is_file() else []
    versions = [v for v in versions if v.get("version") != version and (site / v.get("version", "")).is_dir()]
    entry = {
        "version": version,
        "name": f"{version} · {info['n_articles']} articles · corpus {info['corpus_version'][:8]}",
        "url": f"{version}/",
        "corpus_version": info["corpus_version"],
        "n_articles": info["n_articles"],
        "published_range": f"{info['date_earliest']}/{info['date_latest']}",
        "commit": info["commit"],
        "built": info["build_date"],
    }
    versions = [entry, *versions]
    _copy_tree_atomic(site / version, site / "latest")
    (site / ".nojekyll").touch()
    _write_atomic(site / "index.html", REDIRECT)
    _write_atomic(vfile, json.dumps(versions, indent=2) + "\n")
    return versions


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m mali_partners.publish --html _build/html --site _site``."""
    ap = argparse.ArgumentParser(prog="python -m mali_partners.publish")
    ap.add_argument("--html", default="_build/html")
    ap.add_argument("--site", default="_site")
    ap.add_argument("--info", default="_build/bookinfo.json")
    args = ap.parse_args(argv)
    info_path = Path(args.info)
    if not info_path.is_file():
        print(f"error: {info_path} is missing: run `make book` first", file=sys.stderr)
        return 1
    try:
        versions = publish(args.html, args.site, json.loads(info_path.read_text()))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"published {versions[0]['version']} to {args.site}/ ({len(versions)} version(s) kept; latest -> {versions[0]['version']})"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
