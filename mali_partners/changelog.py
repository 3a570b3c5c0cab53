"""Corpus changelog: which articles each corpus version added or removed, from git history.

Each commit that touched the manifest is one candidate version; its corpus version is
recomputed from the manifest and texts *at that commit*, so the hashes match what the
book showed then. Uncommitted changes in the working tree appear as a last version.
Without git (an exported tarball) only the current version is listed.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import pandas as pd

from .corpus import MANIFEST, RawCorpus, corpus_version, read_raw


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True).stdout.decode("utf-8", "replace")


def _raw_at(root: Path, rel: str, commit: str) -> RawCorpus:
    text = _git(root, "show", f"{commit}:{rel}/{MANIFEST}")
    reader = csv.DictReader(io.StringIO(text))
    rows = [(i + 2, {k: (v or "").strip() for k, v in r.items()}) for i, r in enumerate(reader)]
    files = {}
    for _, r in rows:
        try:
            files[r["file"]] = subprocess.run(
                ["git", "show", f"{commit}:{rel}/{r['file']}"], cwd=root, capture_output=True, check=True
            ).stdout
        except subprocess.CalledProcessError:
            files[r["file"]] = b""
    return RawCorpus(root / rel, list(reader.fieldnames or []), rows, files)


def corpus_changelog(root: str | os.PathLike[str], corpus: str = "seeds") -> pd.DataFrame:
    """One row per corpus version, newest first: corpus_version, commit, date, articles, changes
    (the articles added or removed, or an edit of existing ones)."""
    root = Path(root)
    states: list[tuple[str, str, RawCorpus]] = []
    try:
        log = _git(root, "log", "--reverse", "--format=%h %cs", "--", f"{corpus}/{MANIFEST}")
        for line in log.splitlines():
            commit, date = line.split()
            try:
                states.append((commit, date, _raw_at(root, corpus, commit)))
            except (subprocess.CalledProcessError, KeyError):
                continue
    except (OSError, subprocess.CalledProcessError):
        pass
    current = read_raw(root / corpus)
    if not states or corpus_version(states[-1][2]) != corpus_version(current):
        states.append(("working tree", "uncommitted", current))
    rows = []
    prev_ids: dict[str, str] = {}
    prev_version = None
    for commit, date, raw in states:
        ids = {r["id"]: r.get("title", "") for _, r in raw.rows}
        version = corpus_version(raw)
        if version == prev_version:
            continue
        added = [f"{i} {ids[i]}" for i in sorted(set(ids) - set(prev_ids))]
        removed = [f"{i} {prev_ids[i]}" for i in sorted(set(prev_ids) - set(ids))]
        parts = [f"added {a}" for a in added] + [f"removed {r}" for r in removed]
        if not parts:
            parts = ["metadata or text of existing articles edited"]
        rows.append(
            {
                "corpus_version": version,
                "commit": commit,
                "date": date,
                "articles": len(ids),
                "changes": "; ".join(parts),
            }
        )
        prev_ids, prev_version = ids, version
    return pd.DataFrame(rows[::-1], columns=["corpus_version", "commit", "date", "articles", "changes"])
