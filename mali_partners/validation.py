"""Validation against the gold files annotated by reading (``tests/gold``).

The gold mentions give (doc_id, surface, occurrence, actor): the n-th whole-word
occurrence of that surface in the cleaned article. They are turned into spans here
by a plain string search, independent of the matcher, and compared with the
matcher's mentions strictly (same span and actor) and leniently (overlapping spans,
same actor, matched one to one).
"""

from __future__ import annotations

import os
import re

import pandas as pd

from .pipeline import Analysis
from .trajectory import gold_rows_present


def gold_spans(gold: pd.DataFrame, texts: dict[str, str]) -> pd.DataFrame:
    """Spans (doc_id, start, end, surface, actor) of the gold mentions in the cleaned texts."""
    rows = []
    for r in gold.itertuples(index=False):
        text = texts[r.doc_id]
        hits = [m.start() for m in re.finditer(r"(?<![A-Za-z0-9_])" + re.escape(r.surface) + r"(?![A-Za-z0-9_])", text)]
        if len(hits) < int(r.occurrence):
            raise ValueError(
                f"gold row {r.doc_id} {r.surface!r} #{r.occurrence}: only {len(hits)} occurrences in the text"
            )
        s = hits[int(r.occurrence) - 1]
        rows.append((r.doc_id, s, s + len(r.surface), r.surface, r.actor))
    return pd.DataFrame(rows, columns=["doc_id", "start", "end", "surface", "actor"])


def match_spans(pred: pd.DataFrame, gold: pd.DataFrame, lenient: bool) -> tuple[int, list[int], list[int]]:
    """True positives and the unmatched rows of each side (one-to-one, same actor)."""
    used: set[int] = set()
    tp = 0
    unmatched_pred = []
    gold_by_doc = {d: g for d, g in gold.groupby("doc_id")}
    for i, r in pred.iterrows():
        g = gold_by_doc.get(r["doc_id"])
        found = None
        if g is not None:
            for j, q in g.iterrows():
                if j in used or q["actor"] != r["actor"]:
                    continue
                if (q["start"] == r["start"] and q["end"] == r["end"]) or (
                    lenient and q["start"] < r["end"] and r["start"] < q["end"]
                ):
                    found = j
                    break
        if found is None:
            unmatched_pred.append(i)
        else:
            used.add(found)
            tp += 1
    unmatched_gold = [j for j in gold.index if j not in used]
    return tp, unmatched_pred, unmatched_gold


def _sentence_of(sent: pd.DataFrame, doc: str, pos: int) -> str:
    s = sent[(sent.doc_id == doc) & (sent.start <= pos) & (sent.end > pos)]
    return s["text"].iloc[0] if len(s) else ""


def mention_scores(an: Analysis, gold_path: str | os.PathLike[str]) -> dict:
    """Precision and recall of the matcher against the gold mentions, strict and lenient, with the errors."""
    gold = pd.read_csv(gold_path, dtype={"doc_id": str})
    texts = dict(zip(an.docs["doc_id"], an.docs["text"]))
    gold = gold_rows_present(gold, an.docs)
    g = gold_spans(gold, texts)
    # only the articles the gold annotates: another article's mentions are not false positives
    annotated = set(gold["doc_id"])
    pred = an.mentions.loc[
        an.mentions["doc_id"].isin(annotated), ["doc_id", "start", "end", "surface", "actor", "sentence_id"]
    ].reset_index(drop=True)
    out: dict = {"n_gold": len(g), "n_pred": len(pred), "n_gold_articles": len(annotated)}
    for lenient, suffix in ((True, ""), (False, "_strict")):
        tp, fp, fn = match_spans(pred, g, lenient)
        out["precision" + suffix] = tp / len(pred) if len(pred) else float("nan")
        out["recall" + suffix] = tp / len(g) if len(g) else float("nan")
        if lenient:
            errs = [
                {
                    "error": error,
                    "doc_id": frame.at[i, "doc_id"],
                    "surface": frame.at[i, "surface"],
                    "actor": frame.at[i, "actor"],
                    "sentence": _sentence_of(an.sentences, frame.at[i, "doc_id"], frame.at[i, "start"]),
                }
                for error, frame, rows in (("matched, not in gold", pred, fp), ("in gold, not matched", g, fn))
                for i in rows
            ]
            out["errors"] = pd.DataFrame(errs, columns=["error", "doc_id", "surface", "actor", "sentence"])
    return out
