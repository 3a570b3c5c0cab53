"""Helpers the notebooks call: load the analysis once, glue numbers, show safe tables.

Notebooks stay thin: narrative, calls to the package, display. Every table goes
through :func:`table`, which escapes the corpus text (an article containing
``<script>`` shows as text) and keeps tables inside the page width.
"""

from __future__ import annotations

import html
import os
import sys
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .bookinfo import corpus_dir
from .engine import default_cache_dir
from .pipeline import Analysis, run
from .trajectory import Lexicon, score_label


@lru_cache(maxsize=2)
def analysis(corpus: str | None = None) -> Analysis:
    """The analysis of the book's corpus (``$MALI_PARTNERS_CORPUS`` or the project's ``seeds``), computed once per kernel.

    It goes through the per-article cache that ``make book``'s ``mali-partners analyse``
    step has just filled (:func:`~mali_partners.engine.default_cache_dir`), so each
    notebook reads the frames of the articles instead of analysing the corpus again (at
    10k articles, seconds instead of a minute per notebook). The frames are the same as
    without a cache (tested in ``tests/test_engine.py``).
    """
    folder = corpus or str(corpus_dir())
    return run(folder, cache_dir=default_cache_dir(folder))


SMALL_CORPUS_MAX = 100  # up to this many articles the home page calls the corpus small


def readable(value: object) -> object:
    """A whole number as text with thousands separators (12,345); anything else unchanged.

    The prose pastes glued numbers as they are; a count of a large corpus reads better grouped.
    """
    import numbers

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{int(value):,}"
    return value


def _skip_iri_grammars() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` in this kernel: 3 s of each notebook's run.

    ``myst_nb.glue`` imports nbformat, whose jsonschema imports ``rfc3987_syntax`` when it
    is installed (an extra of a Jupyter dependency) and so compiles 38 Lark grammars for
    the "iri" string formats, which no notebook schema uses. Marking the module absent
    makes jsonschema skip those two formats, as it does when the package is not installed.
    Done only before jsonschema is imported; a process that has it already is left alone.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def glue_all(values: dict[str, object]) -> None:
    """Glue every value under its key (``display=False``), for ``{glue:text}`` in the prose; counts via :func:`readable`."""
    _skip_iri_grammars()
    from myst_nb import glue

    for key, value in values.items():
        glue(key, readable(value), display=False)


def tone(score: float | None, lexicon: Lexicon) -> str:
    """The word the prose uses for an average relation score: the lexicon's labels around its ``threshold``.

    Above ``threshold`` "cooperative", below ``-threshold`` "conflictual", as each scored
    sentence is labelled (:func:`~mali_partners.trajectory.relations_score`); between them
    "mixed" (an average of opposite sentences, not a neutral one); "n/a" without a score.
    The home page used its own copy of the 0.15 threshold, which a changed lexicon left behind;
    the rule is now :func:`~mali_partners.trajectory.score_label`, the one that labels each unit.

    >>> from types import SimpleNamespace
    >>> lex = SimpleNamespace(threshold=0.15)
    >>> [tone(x, lex) for x in (0.2, 0.15, -0.05, -0.15, -0.3, float("nan"))]
    ['cooperative', 'mixed', 'mixed', 'mixed', 'conflictual', 'n/a']
    """
    if score is None or score != score:
        return "n/a"
    return score_label(score, lexicon.threshold, between="mixed")


def fmt(value: float | None, spec: str, missing: str = "n/a") -> str:
    """``format(value, spec)``, or ``missing`` for a score that could not be computed (NaN or None).

    >>> fmt(0.91234, ".0%"), fmt(float("nan"), ".3f")
    ('91%', 'n/a')
    """
    if value is None or value != value:
        return missing
    return format(value, spec)


def corpus_caveat(n_articles: int) -> str:
    """The home page's heading for the size of the corpus: small up to :data:`SMALL_CORPUS_MAX` articles."""
    return "A small corpus" if n_articles <= SMALL_CORPUS_MAX else "The corpus behind every figure"


def table(
    df: pd.DataFrame, wrap: tuple[str, ...] = (), max_rows: int = 40, floatfmt: str = "{:.2f}", caption: str = ""
):
    """An escaped HTML table that scrolls sideways instead of overflowing the page.

    ``wrap`` names the long-text columns (sentences) that wrap inside a readable width.
    """
    from IPython.display import HTML

    d = df.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in d.columns)
    rows = []
    for _, r in d.iterrows():
        cells = []
        for c in d.columns:
            v = r[c]
            if isinstance(v, float):
                text = "" if pd.isna(v) else floatfmt.format(v)
            else:
                text = "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
            cls = ' class="mp-wrap"' if c in wrap else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p><em>{len(df) - max_rows} more rows in the downloadable table.</em></p>" if len(df) > max_rows else ""
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return HTML(
        f'<table class="mp-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{more}'
    )


def kwic_table(lines: pd.DataFrame, max_rows: int = 20):
    """Keyword-in-context lines aligned on the keyword, escaped."""
    from IPython.display import HTML

    rows = []
    for r in lines.head(max_rows).itertuples(index=False):
        rows.append(
            f"<tr><td>{html.escape(str(r.doc_id))}</td><td>{html.escape(str(r.published))}</td>"
            f'<td class="left">{html.escape(r.left)}</td><td class="kw">{html.escape(r.keyword)}</td><td class="right">{html.escape(r.right)}</td></tr>'
        )
    head = "<tr><th>article</th><th>published</th><th>left</th><th>keyword</th><th>right</th></tr>"
    return HTML(f'<table class="mp-table mp-kwic"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>')


def fmt_list(items: list[str]) -> str:
    """``a, b and c``."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


DOWNLOAD_CSV_MAX_MB = 25.0  # a larger table is linked as Parquet: the book would carry every CSV copy


def table_download(
    name: str, folder: str | os.PathLike[str] = "../_build/tables", max_mb: float = DOWNLOAD_CSV_MAX_MB
) -> str:
    """The MyST download link of one written table: its CSV, or its Parquet when the CSV is over ``max_mb``.

    At 10k articles the CSVs hold 0.5 GB (KWIC alone 0.2 GB, its Parquet 3 MB); the
    book copies what it links, so the large ones are offered as Parquet, with the size of
    the CSV that ``mali-partners analyse`` writes beside it.
    """
    csv = Path(folder) / f"{name}.csv"
    mb = csv.stat().st_size / 1e6 if csv.is_file() else 0.0
    if mb <= max_mb:
        return f"{{download}}`Download {name}.csv <{Path(folder).as_posix()}/{name}.csv>`"
    return (
        f"{{download}}`Download {name}.parquet <{Path(folder).as_posix()}/{name}.parquet>` "
        f"(the CSV, {mb:,.0f} MB, is too large to publish with the book: `mali-partners analyse` writes it)"
    )
