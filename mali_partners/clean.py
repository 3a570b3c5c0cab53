"""Cleaning: documented, named rules applied in memory; the raw files are never touched.

Each rule is a small pure function ``str -> str`` that targets one kind of noise seen
in the seeds (web-page furniture, agency sign-off codes, glued question headings, ...).
:func:`clean_text` applies them in order and reports, per rule, how many characters it
removed and added, so that a reader can see exactly what cleaning did to each article.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

import pandas as pd

# Lines that are web-page furniture, not article text (seen in seed 001).
FURNITURE_LINE = re.compile(
    r"^\s*(?:Updated On|New Update|Key Takeaways|[\w .'-]{1,40} Correspondents?|Share this article|Read more)\s*$",
    re.IGNORECASE,
)
# Agency sign-off codes on the last line: "CD/te/lb/as/APA", "MD/ac/lb/abj/APA".
SIGNOFF_LINE = re.compile(r"^\s*[A-Za-z]{1,4}(?:/[A-Za-z]{1,5}){1,8}\s*$")


def strip_leading_blank_lines(text: str) -> str:
    """Remove blank lines (and white space) before the first line of text (seed 002)."""
    return text.lstrip("\r\n\t \u00a0")


def drop_agency_signoff(text: str) -> str:
    """Remove an agency sign-off code such as ``CD/te/lb/as/APA`` on the last line (seeds 003, 004)."""
    lines = text.rstrip().split("\n")
    if lines and SIGNOFF_LINE.match(lines[-1]):
        lines = lines[:-1]
        return "\n".join(lines).rstrip() + "\n"
    return text


def drop_web_furniture(text: str) -> str:
    """Remove web-page furniture lines: correspondent, "Updated On", "New Update", "Key Takeaways" (seed 001)."""
    return "\n".join(line for line in text.split("\n") if not FURNITURE_LINE.match(line))


def drop_repeated_headline(text: str) -> str:
    """Keep only the first copy of a short line repeated verbatim, e.g. a headline shown three times (seed 001)."""
    seen: set[str] = set()
    out = []
    for line in text.split("\n"):
        key = line.strip()
        if key and len(key) <= 200 and key in seen:
            continue
        if key:
            seen.add(key)
        out.append(line)
    return "\n".join(out)


def space_after_question_heading(text: str) -> str:
    """Insert the space lost after a question heading: ``What's new?Since`` -> ``What's new? Since`` (seed 002)."""
    return re.sub(r"\?(?=[A-Z])", "? ", text)


def drop_stray_periods(text: str) -> str:
    """Remove a stray ``. .`` inside a sentence (``triumphalism. . rhetoric``, seed 002)."""
    return re.sub(r"\s*\.\s+\.\s+(?=[a-z])", " ", text)


def tidy_whitespace(text: str) -> str:
    """Strip trailing spaces, collapse runs of blank lines to one, end with one newline."""
    lines = [line.rstrip() for line in text.split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return out + "\n" if out else ""


Rule = Callable[[str], str]
RULES: list[Rule] = [
    strip_leading_blank_lines,
    drop_web_furniture,
    drop_repeated_headline,
    drop_agency_signoff,
    space_after_question_heading,
    drop_stray_periods,
    tidy_whitespace,
]


def _delta(before: str, after: str) -> tuple[int, int]:
    """Characters removed and added by one rule: a line diff, then a character diff inside changed blocks.

    Lines keep their newline in the diff, so joined or split lines are counted once.
    """
    if before == after:
        return 0, 0
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    removed = added = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "delete":
            removed += sum(len(x) for x in a[i1:i2])
        elif op == "insert":
            added += sum(len(x) for x in b[j1:j2])
        elif op == "replace":
            old, new = "".join(a[i1:i2]), "".join(b[j1:j2])
            for cop, k1, k2, m1, m2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
                removed += (k2 - k1) if cop in ("replace", "delete") else 0
                added += (m2 - m1) if cop in ("replace", "insert") else 0
    return removed, added


def clean_text(text: str, rules: list[Rule] | None = None) -> tuple[str, list[dict[str, object]]]:
    """Apply the cleaning rules in order; return the clean text and one report row per rule.

    >>> clean_text("What's new?Since May.\\nCD/te/APA\\n")[0]
    "What's new? Since May.\\n"
    """
    report = []
    for rule in rules or RULES:
        after = rule(text)
        removed, added = _delta(text, after)
        report.append({"rule": rule.__name__, "chars_removed": removed, "chars_added": added})
        text = after
    return text, report


def corpus_clean(docs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add a ``text`` column (the cleaned text) to a corpus frame; also return the cleaning report.

    The report has one row per article and rule: doc_id, rule, chars_removed, chars_added.
    """
    out = docs.copy()
    texts, rows = [], []
    for doc_id, raw in zip(docs["doc_id"], docs["text_raw"]):
        clean, report = clean_text(raw)
        texts.append(clean)
        rows.extend({"doc_id": doc_id, **r} for r in report)
    out["text"] = texts
    out.attrs.update(docs.attrs)
    return out, pd.DataFrame(rows, columns=["doc_id", "rule", "chars_removed", "chars_added"])


def cleaning_report(cleaning: pd.DataFrame, per_article_max: int = 8) -> pd.DataFrame:
    """What each cleaning rule changed: rule, n_articles (changed), chars_removed, chars_added.

    Rules that changed nothing are left out. A corpus of at most ``per_article_max``
    articles also gets one column per article with the characters removed there; a larger
    one would get a column per article too many to read.

    >>> c = pd.DataFrame({"doc_id": ["a", "a", "b"], "rule": ["r1", "r2", "r1"],
    ...                   "chars_removed": [3, 0, 2], "chars_added": [0, 0, 1]})
    >>> cleaning_report(c).to_dict("records")
    [{'rule': 'r1', 'n_articles': 2, 'chars_removed': 5, 'chars_added': 1, 'a': 3, 'b': 2}]
    >>> list(cleaning_report(c, per_article_max=1).columns)
    ['rule', 'n_articles', 'chars_removed', 'chars_added']
    """
    changed = cleaning[(cleaning["chars_removed"] + cleaning["chars_added"]) > 0]
    g = changed.groupby("rule", sort=False)
    out = pd.DataFrame(
        {
            "n_articles": g["doc_id"].nunique(),
            "chars_removed": g["chars_removed"].sum(),
            "chars_added": g["chars_added"].sum(),
        }
    )
    if cleaning["doc_id"].nunique() <= per_article_max:
        per_doc = changed.pivot_table(
            index="rule", columns="doc_id", values="chars_removed", aggfunc="sum", fill_value=0
        )
        out = out.join(per_doc)
    out.columns.name = None
    return out.reset_index().astype({"n_articles": int, "chars_removed": int, "chars_added": int})
