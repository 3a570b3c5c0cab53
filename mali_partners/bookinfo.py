"""Book identity: which corpus, configuration and code a build comes from.

``python -m mali_partners.bookinfo`` (run by ``make book``) writes
``_build/bookinfo.json`` and, when the analysis inputs changed since the last build
(corpus, gazetteer, lexicon, stopwords, code version, or the package's source files
even without a version bump), clears the notebook
execution cache and Sphinx's environment: both key on the notebooks' own content, so
without this a new article would not re-run the notebooks. Every notebook reads the
corpus, so every one is affected by such a change; an unchanged rebuild runs none.

Versioning rule: the book version is ``v<code version>-<inputs hash>``; it changes
when the package version is bumped (code or method change) or when any analysis
input changes (an article added or edited, the gazetteer, lexicon or stopwords).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .corpus import corpus_load
from .engine import code_fingerprint
from .errors import InputError
from .gazetteer import gazetteer_load
from .pipeline import code_version, inputs_hash
from .trajectory import lexicon_load

CACHE_DIR = "_build/.jupyter_cache"
DOCTREES_DIR = "_build/.doctrees"  # Sphinx's environment: without clearing it, unchanged notebooks are not re-read


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``_toc.yml``, else ``start``."""
    here = Path(start or Path.cwd()).resolve()
    for p in [here, *here.parents]:
        if (p / "_toc.yml").is_file():
            return p
    return here


def corpus_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The corpus folder: ``$MALI_PARTNERS_CORPUS`` if set, else ``<project root>/seeds``."""
    env = os.environ.get("MALI_PARTNERS_CORPUS")
    if env:
        return Path(env).resolve()
    return project_root(root) / "seeds"


def git_commit(root: Path) -> str:
    """The short commit of the code, with ``+dirty`` when the work tree has changes; ``unknown`` without git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("GITHUB_SHA", "unknown")[:7]


def book_info(root: str | os.PathLike[str] | None = None) -> dict:
    """Versions and counts for the banner; every value derived from the files."""
    root = project_root(root)
    docs = corpus_load(corpus_dir(root))
    gaz, lex = gazetteer_load(), lexicon_load()
    cv = docs.attrs["corpus_version"]
    ih = inputs_hash(cv, gaz, lex)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    built = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch else dt.datetime.now(dt.timezone.utc)
    return {
        "book_version": f"v{code_version()}-{ih[:8]}",
        "corpus_version": cv,
        "n_articles": len(docs),
        "date_earliest": str(docs["date_earliest"].min().date()),
        "date_latest": str(docs["date_latest"].max().date()),
        "gazetteer": f"v{gaz.version} ({gaz.sha})",
        "lexicon": f"v{lex.version} ({lex.sha})",
        "code_version": code_version(),
        "inputs_hash": ih,
        "code_fingerprint": code_fingerprint()[:12],
        "commit": git_commit(root),
        "build_date": built.strftime("%Y-%m-%d %H:%M UTC"),
    }


def main(argv: list[str] | None = None) -> int:
    """Write bookinfo.json; clear the execution cache when the inputs changed."""
    ap = argparse.ArgumentParser(prog="python -m mali_partners.bookinfo")
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--out", default="_build/bookinfo.json")
    args = ap.parse_args(argv)
    if args.corpus:
        os.environ["MALI_PARTNERS_CORPUS"] = str(Path(args.corpus).resolve())
    try:
        info = book_info()
    except InputError as exc:
        print(exc.report(), file=sys.stderr)
        return 1
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.is_file() else {}
    if old.get("inputs_hash") != info["inputs_hash"] or old.get("code_fingerprint") != info["code_fingerprint"]:
        for folder in (CACHE_DIR, DOCTREES_DIR):
            if Path(folder).exists():
                shutil.rmtree(folder)
        print(
            f"bookinfo: analysis inputs ({old.get('inputs_hash')} -> {info['inputs_hash']}) or package code "
            f"({old.get('code_fingerprint')} -> {info['code_fingerprint']}) changed: notebook cache cleared"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(info, indent=2) + "\n")
    print(f"bookinfo: {info['book_version']} (corpus {info['corpus_version']}, {info['n_articles']} articles)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
