"""Actors: every gazetteer mention in the corpus, with its span, and what they add up to.

Matching runs on an accent-folded copy of each sentence that has exactly the same
length as the original, so every span slices back to the original surface text.
One regular expression holds every alias variant, longest first, between word
boundaries where a hyphen or an apostrophe counts as a boundary; so the leftmost,
then longest, alias wins and mentions never overlap.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .frames import sorted_unique
from .gazetteer import Alias, Gazetteer, fold_key
from .text import sentence_rows, stopwords

MENTION_COLUMNS = [
    "doc_id",
    "sentence_id",
    "start",
    "end",
    "surface",
    "alias",
    "actor",
    "kind",
    "parent",
    "root",
    "focal",
]
_CONTEXT = 40  # characters of context given to not_followed_by / not_preceded_by


def is_acronym(alias: str) -> bool:
    """An alias written in capitals only (``UN``, ``U.S.``, ``ECOWAS``): matched case-sensitively, exactly."""
    letters = [c for c in alias if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and " " not in alias.strip()


def alias_variants(alias: str) -> list[str]:
    """The folded surface forms an alias matches: as written, and (not for acronyms) Capitalised and UPPER CASE.

    >>> alias_variants("transitional authorities")
    ['transitional authorities', 'Transitional authorities', 'TRANSITIONAL AUTHORITIES']
    >>> alias_variants("UN")
    ['UN']
    """
    key = fold_key(alias)
    if is_acronym(alias):
        return [key]
    return list(dict.fromkeys([key, key[:1].upper() + key[1:], key.upper()]))


@dataclass
class Matcher:
    """A compiled gazetteer: one regular expression and the alias behind each variant."""

    gazetteer: Gazetteer
    pattern: re.Pattern[str]
    lookup: dict[str, Alias]


def matcher_build(gaz: Gazetteer) -> Matcher:
    """Compile the gazetteer into one case-sensitive regular expression, longest alias first."""
    lookup: dict[str, Alias] = {}
    for actor in gaz.actors.values():  # exact forms first, so a variant never shadows another alias
        for al in actor.aliases:
            lookup.setdefault(fold_key(al.alias), al)
    for actor in gaz.actors.values():
        for al in actor.aliases:
            for v in alias_variants(al.alias):
                lookup.setdefault(v, al)
    pattern = re.compile(r"(?<!\w)(?:" + trie_alternation(lookup) + r")(?!\w)")
    return Matcher(gaz, pattern, lookup)


def trie_alternation(words: Iterable[str]) -> str:
    """A regular expression matching any of ``words``, the longest that fits first, written as a trie.

    The same matches as ``"|".join(words sorted longest first)``: at one position every
    word that matches is a prefix of the longest, and the trie tries the longer
    continuation before the shorter, backtracking when what follows the pattern fails.
    Shared prefixes are tested once, so the engine does not try hundreds of aliases at
    every character (the matcher runs about 3x faster).

    >>> trie_alternation(["Mali", "Malian", "Malians", "Mauritania"])
    'Ma(?:li(?:an(?:s)?)?|uritania)'
    """
    trie: dict[str, dict] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict[str, dict]) -> str:
        parts = [re.escape(ch) + emit(node[ch]) for ch in sorted(k for k in node if k)]
        if not parts:
            return ""
        if len(parts) == 1 and "" not in node:
            return parts[0]
        return "(?:" + "|".join(parts) + ")" + ("?" if "" in node else "")

    return emit(trie)


_SPACES = {"\u00a0": " ", "\u202f": " ", "\u2007": " ", "’": "'", "‘": "'", "\u2010": "-", "\u2011": "-"}


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """One character without its accent, typographic spaces, apostrophes and hyphens as ASCII (``ï`` -> ``i``)."""
    return unicodedata.normalize("NFD", _SPACES.get(ch, ch))[0]


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """The text the matcher searches, and where each of its characters starts in ``text``.

    Each base character and the combining marks after it become one plain character
    (accents dropped, so "Goïta" and a decomposed "Goi\u0308ta" both read "Goita");
    typographic apostrophes, hyphens and no-break spaces become their ASCII forms.
    ``starts`` has one more entry than the folded text, so a folded span (s, e) is
    ``text[starts[s]:starts[e]]`` in the original.

    >>> fold_with_offsets("Goi\u0308ta’s")
    ("Goita's", [0, 1, 2, 4, 5, 6, 7, 8])
    """
    if text.isascii():
        return text, list(range(len(text) + 1))
    others = [ch for ch in set(text) if not ch.isascii()]
    if not any(unicodedata.combining(ch) for ch in others):
        # no combining mark: each character folds to exactly one, offsets are unchanged; a few
        # replace() passes (one per distinct non-ASCII character) beat translate()'s lookup per character
        for ch in others:
            folded = _fold_char(ch)
            if folded != ch:
                text = text.replace(ch, folded)
        return text, list(range(len(text) + 1))
    out, starts = [], []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        ch = text[i]
        ch = _SPACES.get(ch, ch)
        out.append(unicodedata.normalize("NFD", ch)[0] if not unicodedata.combining(ch) else ch)
        starts.append(i)
        i = j
    starts.append(n)
    return "".join(out), starts


def find_in_text(text: str, matcher: Matcher) -> list[tuple[int, int, Alias]]:
    """Every mention in one text as (start, end, alias); context exclusions applied.

    >>> from mali_partners.gazetteer import gazetteer_load
    >>> m = matcher_build(gazetteer_load())
    >>> [(text[s:e], a.actor) for text in ["Niger and Nigeria's river Niger."] for s, e, a in find_in_text(text, m)]
    [('Niger', 'Niger'), ('Nigeria', 'Nigeria')]
    """
    folded, starts = fold_with_offsets(text)
    out = []
    for m in matcher.pattern.finditer(folded):
        al = matcher.lookup[m.group(0)]
        actor = matcher.gazetteer.actors[al.actor]
        s, e = starts[m.start()], starts[m.end()]
        if actor.not_followed_by is not None and actor.not_followed_by.search(text[e : e + _CONTEXT]):
            continue
        if actor.not_preceded_by is not None and actor.not_preceded_by.search(text[max(0, s - _CONTEXT) : s]):
            continue
        out.append((s, e, al))
    return out


def mentions_find(sentences: pd.DataFrame, gaz: Gazetteer, matcher: Matcher | None = None) -> pd.DataFrame:
    """One row per mention: doc_id, sentence_id, start, end (offsets in the cleaned article text),
    surface, alias, actor, kind, parent, root (top of the parent chain), focal.
    """
    matcher = matcher or matcher_build(gaz)
    rows = []
    for doc_id, sid, start, text in zip(
        sentences["doc_id"].tolist(),
        sentences["sentence_id"].tolist(),
        sentences["start"].tolist(),
        sentences["text"].tolist(),
    ):
        for s, e, al in find_in_text(text, matcher):
            a = gaz.actors[al.actor]
            rows.append(
                (
                    doc_id,
                    sid,
                    start + s,
                    start + e,
                    text[s:e],
                    al.alias,
                    a.name,
                    a.kind,
                    a.parent or "",
                    gaz.root(a.name),
                    a.focal,
                )
            )
    out = pd.DataFrame(rows, columns=MENTION_COLUMNS)
    out.attrs.update(sentences.attrs)
    out.attrs["gazetteer_version"] = gaz.version
    out.attrs["gazetteer_sha"] = gaz.sha
    return out


def mentions_rollup(mentions: pd.DataFrame, gaz: Gazetteer) -> pd.DataFrame:
    """Mentions relabelled to the top of their parent chain (Wagner -> Russia, Barkhane -> France).

    The ``actor`` column becomes the root; the original actor is kept in ``actor_own``.
    """
    out = mentions.copy()
    out["actor_own"] = out["actor"]
    out["actor"] = out["actor"].map(gaz.root)
    out["kind"] = out["actor"].map(lambda a: gaz.actors[a].kind)
    out["parent"] = ""
    return out


def textstat_actor_counts(mentions: pd.DataFrame, gaz: Gazetteer, n_tokens: int) -> pd.DataFrame:
    """Counts per actor, alone and with its children, in how many articles, and per 1,000 tokens.

    Columns: actor, kind, parent, focal, mentions, mentions_with_children, n_docs,
    n_docs_with_children, per_1000, per_1000_with_children. Sorted by mentions_with_children.
    """
    if n_tokens <= 0:
        raise ValueError("n_tokens must be positive")
    # counted on integer codes, each (actor, article) pair once: grouping the strings of every mention (and
    # testing every mention for each family) took most of the job (100k articles: 2.7 s)
    actor_codes, actor_names = pd.factorize(mentions["actor"].array)
    doc_codes, doc_names = pd.factorize(mentions["doc_id"].array)
    valid = (actor_codes >= 0) & (doc_codes >= 0)  # as groupby and nunique, which leave out missing values
    own = np.bincount(actor_codes[actor_codes >= 0], minlength=len(actor_names))
    pairs = _code_pairs(actor_codes[valid], doc_codes[valid], len(doc_names))
    pair_actor, pair_doc = np.divmod(pairs, len(doc_names))
    docs_own = np.bincount(pair_actor, minlength=len(actor_names))
    code_of = {name: i for i, name in enumerate(actor_names)}
    rows = []
    for name, a in gaz.actors.items():
        family = [code_of[f] for f in (name, *gaz.descendants(name)) if f in code_of]
        i = code_of.get(name)
        rows.append(
            {
                "actor": name,
                "kind": a.kind,
                "parent": a.parent or "",
                "focal": a.focal,
                "mentions": int(own[i]) if i is not None else 0,
                "mentions_with_children": int(own[family].sum()),
                "n_docs": int(docs_own[i]) if i is not None else 0,
                "n_docs_with_children": _distinct(pair_doc[np.isin(pair_actor, family)], len(doc_names)),
            }
        )
    out = pd.DataFrame(rows)
    out["per_1000"] = out["mentions"] / n_tokens * 1000
    out["per_1000_with_children"] = out["mentions_with_children"] / n_tokens * 1000
    out = out[out["mentions_with_children"] > 0]
    return out.sort_values(["mentions_with_children", "actor"], ascending=[False, True]).reset_index(drop=True)


def actor_doc_matrix(mentions: pd.DataFrame, actors: list[str] | None = None) -> pd.DataFrame:
    """Mentions per article (rows) and actor (columns), zeros where an actor is absent."""
    m = mentions if actors is None else mentions[mentions["actor"].isin(actors)]
    table = m.pivot_table(index="doc_id", columns="actor", values="start", aggfunc="count", fill_value=0)
    if actors is not None:
        table = table.reindex(columns=[a for a in actors if a in table.columns])
    return table.astype(int)


PAIR_BITMAP_MAX = 1 << 28  # pairs marked in a bitmap of one byte each up to this many possible pairs (256 MB)


def _code_pairs(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    """The distinct pairs of two code arrays (``b`` in ``range(width)``), each as ``a * width + b``, sorted.

    Marked in a bitmap when the possible pairs are few enough, else sorted (NumPy 2's hashing
    ``np.unique`` took 1.5 s for 6 million mentions; see :func:`frames.sorted_unique`).
    """
    pairs = a.astype(np.int64) * width + b
    size = (int(a.max(initial=-1)) + 1) * width
    if size <= PAIR_BITMAP_MAX:
        seen = np.zeros(size, dtype=bool)
        seen[pairs] = True
        return np.flatnonzero(seen)
    return sorted_unique(pairs)[0]


def _distinct(codes: np.ndarray, width: int) -> int:
    """How many distinct values ``codes`` (in ``range(width)``) holds (as ``len(np.unique(codes))``)."""
    seen = np.zeros(width, dtype=bool)
    seen[codes] = True
    return int(np.count_nonzero(seen))


def alias_hits(mentions: pd.DataFrame, gaz: Gazetteer) -> pd.DataFrame:
    """One row per gazetteer alias: actor, alias, hits, n_docs, surfaces seen, and ``no_hits`` where it matched nothing."""
    # on integer codes, each (alias, article) and (alias, surface) pair once: grouping the strings of every
    # mention, and a Python string per mention for the surfaces, took most of the job (100k articles: 3.2 s)
    alias_codes, names = pd.factorize(mentions["alias"].array)
    doc_codes, doc_names = pd.factorize(mentions["doc_id"].array)
    surface_codes, surface_names = pd.factorize(mentions["surface"].array)
    n_hits = np.bincount(alias_codes[alias_codes >= 0], minlength=len(names))
    valid = (alias_codes >= 0) & (doc_codes >= 0)
    n_docs = np.bincount(
        _code_pairs(alias_codes[valid], doc_codes[valid], len(doc_names)) // len(doc_names), minlength=len(names)
    )
    hits = {name: int(n_hits[i]) for i, name in enumerate(names)}
    ndocs = {name: int(n_docs[i]) for i, name in enumerate(names)}
    valid = (alias_codes >= 0) & (surface_codes >= 0)
    width = len(surface_names)
    seen: dict[str, set[str]] = {}
    for pair in _code_pairs(alias_codes[valid], surface_codes[valid], width).tolist():
        seen.setdefault(names[pair // width], set()).add(surface_names[pair % width])
    surfaces = {name: " | ".join(sorted(found)) for name, found in seen.items()}
    rows = [
        {
            "actor": a.name,
            "alias": al.alias,
            "hits": int(hits.get(al.alias, 0)),
            "n_docs": int(ndocs.get(al.alias, 0)),
            "surfaces": surfaces.get(al.alias, ""),
        }
        for a in gaz.actors.values()
        for al in a.aliases
    ]
    out = pd.DataFrame(rows)
    out["no_hits"] = out["hits"] == 0
    return out


_CANDIDATE = re.compile(
    r"(?:[A-Z]{2,}[a-z]?|[A-Z][\w’'-]*[a-z][\w’'-]*)(?:\s+(?:(?:of|the|de|du|des|for|and)\s+)?[A-Z][\w’'-]+)*"
)
_SPACE = re.compile(r"\s")
_NON_SPACE = re.compile(r"\S+")
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)


def textstat_unmatched_names(
    sentences: pd.DataFrame, mentions: pd.DataFrame, gaz: Gazetteer, min_count: int = 1
) -> pd.DataFrame:
    """Capitalised names and acronyms that no gazetteer alias matched: what to consider adding.

    A name is a run of capitalised words (joined by of/the/de/and) or an acronym.
    Leading stopwords are dropped ("After the May" -> "May"); month and day names,
    a sentence-initial word alone, aliases excluded by their context and any run
    overlapping a mention are skipped.
    Columns: candidate, count, n_docs, example (a sentence). Most frequent first.
    """
    return unmatched_from_counts(unmatched_counts(sentences, mentions, gaz), min_count)


def unmatched_counts(sentences: pd.DataFrame, mentions: pd.DataFrame, gaz: Gazetteer) -> pd.DataFrame:
    """Per article, each unmatched name: doc_id, candidate, count, example (its first sentence there).

    Computed in the per-article step; rows of different articles add up
    (:func:`unmatched_from_counts`), so the corpus table needs no second pass over the text.
    """
    taken: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for doc_id, sid, s, e in zip(
        mentions["doc_id"].tolist(),
        mentions["sentence_id"].tolist(),
        mentions["start"].tolist(),
        mentions["end"].tolist(),
    ):
        taken.setdefault((doc_id, sid), []).append((s, e))
    known = {v for a in gaz.actors.values() for al in a.aliases for v in alias_variants(al.alias)}
    stops = stopwords()
    counts: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    judged: dict[str, tuple[int, str, bool, bool]] = {}  # names repeat: what depends on the words alone, once
    for doc_id, sid, start, text in zip(
        sentences["doc_id"].tolist(),
        sentences["sentence_id"].tolist(),
        sentences["start"].tolist(),
        sentences["text"].tolist(),
    ):
        spans = taken.get((doc_id, sid), [])
        first_letter = -1  # where the sentence's first letter is, found at the first candidate
        for m in _CANDIDATE.finditer(text):
            found = m.group(0)
            seen = judged.get(found)
            if seen is None:
                seen = judged[found] = _judge_candidate(found, stops, known)
            offset, cand, always_skip, sentence_initial_skip = seen
            if always_skip:
                continue  # a function word, a month or day name, or a known alias
            s, e = start + m.start() + offset, start + m.end()
            if spans and any(s < me and ms < e for ms, me in spans):
                continue
            if sentence_initial_skip:
                if first_letter < 0:
                    first_letter = next((i for i, c in enumerate(text) if c.isalpha()), len(text))
                if first_letter >= m.start():  # no letter before the name
                    continue  # a capital only because it starts the sentence
            counts[(doc_id, cand)] += 1
            example.setdefault((doc_id, cand), text)
    rows = [(d, c, n, example[(d, c)]) for (d, c), n in counts.items()]
    return pd.DataFrame(rows, columns=["doc_id", "candidate", "count", "example"])


def _judge_candidate(found: str, stops: frozenset[str], known: set[str]) -> tuple[int, str, bool, bool]:
    """What :func:`unmatched_counts` decides from a candidate's words alone.

    Returns the offset of its first word once leading stopwords are dropped ("After the
    May" -> "May"), the candidate, whether it is always skipped (a function word, month
    and day names only, a known alias) and whether it is skipped at the start of a
    sentence (one capitalised word, not an acronym, with no stopword dropped).
    """
    if _SPACE.search(found) is None:  # one word, as most are
        words = [(0, found)]
    else:
        words = [(w.start(), w.group(0)) for w in _NON_SPACE.finditer(found)]
    lead = 0
    while lead < len(words) - 1 and words[lead][1].lower() in stops:
        lead += 1
    words = words[lead:]
    cand = words[0][1] if len(words) == 1 else " ".join(w for _, w in words)
    always = cand.lower() in stops or all(w.lower() in _CALENDAR for _, w in words) or fold_key(cand) in known
    return words[0][0], cand, always, lead == 0 and len(words) == 1 and not cand.isupper()


def unmatched_from_counts(per_doc: pd.DataFrame, min_count: int = 1) -> pd.DataFrame:
    """The corpus table from per-article counts (in corpus order): summed counts, articles, first example."""
    g = per_doc.groupby("candidate", sort=False)
    out = pd.DataFrame({"count": g["count"].sum(), "n_docs": g.size(), "example": g["example"].first()}).reset_index()
    out = out[out["count"] >= min_count][["candidate", "count", "n_docs", "example"]]
    return out.sort_values(["count", "n_docs", "candidate"], ascending=[False, False, True]).reset_index(drop=True)


KWIC_SORTS = ("position", "left", "right", "date")


KWIC_CHUNK = 50_000  # lines whose context strings exist as Python objects at once (memory)


def _kwic_context(texts: pd.Series, offsets: np.ndarray, ends: np.ndarray, width: int) -> dict[str, pd.Series]:
    """The left / keyword / right columns of :func:`kwic`: ``texts`` sliced around each [offset, end).

    Built :data:`KWIC_CHUNK` lines at a time into Arrow-backed columns, so memory holds the
    compact columns and one chunk of Python strings, not every line as Python objects.
    """
    import pyarrow as pa

    out: dict[str, list] = {"left": [], "keyword": [], "right": []}
    lows = np.maximum(offsets - width, 0)  # text[max(0, a - width) : a]: a negative start would wrap around
    for c0 in range(0, len(texts), KWIC_CHUNK):
        part = slice(c0, c0 + KWIC_CHUNK)
        chunk = texts.iloc[part].tolist()
        lo, a, b = lows[part].tolist(), offsets[part].tolist(), ends[part].tolist()
        # one comprehension per column: a fifth faster than one loop appending to three lists
        out["left"].append(pa.array([t[i:j] for t, i, j in zip(chunk, lo, a)], pa.large_string()))
        out["keyword"].append(pa.array([t[i:j] for t, i, j in zip(chunk, a, b)], pa.large_string()))
        out["right"].append(pa.array([t[j : j + width] for t, j in zip(chunk, b)], pa.large_string()))
    return {name: pd.Series(pa.chunked_array(c, pa.large_string()), dtype="str") for name, c in out.items()}


def kwic(
    mentions: pd.DataFrame,
    sentences: pd.DataFrame,
    docs: pd.DataFrame,
    actor: str | None = None,
    alias: str | None = None,
    width: int = 60,
    sort: str = "position",
) -> pd.DataFrame:
    """Keyword-in-context lines for an actor (or one alias), each with article, date and sentence.

    Columns: doc_id, published, sentence_id, actor, left, keyword, right, sentence.
    ``sort`` is one of position (article order), left / right (by the context word
    nearest the keyword, as concordancers do) or date.
    """
    if sort not in KWIC_SORTS:
        raise ValueError(f"sort must be one of {', '.join(KWIC_SORTS)}, not {sort!r}")
    if width < 1:
        raise ValueError("width must be at least 1 character")
    m = mentions
    if actor is not None:
        m = m[m["actor"] == actor]
    if alias is not None:
        m = m[m["alias"] == alias]
    if not len(m):
        return pd.DataFrame(
            columns=["doc_id", "published", "sentence_id", "actor", "left", "keyword", "right", "sentence"]
        )
    if sort == "position":  # ordered first: sorting the finished frame would move every string column
        doc_rank, _ = pd.factorize(m["doc_id"], sort=True)
        order = np.lexsort((m["start"].to_numpy(np.int64), doc_rank))
        if (np.diff(order) < 0).any():
            m = m.take(order)
    # columns taken in Arrow by row position; only the context slices are made in Python
    rows = sentence_rows(sentences, m["doc_id"], m["sentence_id"])
    doc_rows = pd.Index(docs["doc_id"]).get_indexer(m["doc_id"])
    if (doc_rows < 0).any():
        raise KeyError(f"article {m['doc_id'].iloc[int(np.flatnonzero(doc_rows < 0)[0])]!r} is not in docs")
    texts = sentences["text"].take(rows).reset_index(drop=True)
    s0 = sentences["start"].to_numpy(np.int64)[rows]
    columns = {
        "doc_id": m["doc_id"].reset_index(drop=True),
        "published": docs["published"].take(doc_rows).reset_index(drop=True),
        "sentence_id": m["sentence_id"].to_numpy(np.int64),
        "actor": m["actor"].reset_index(drop=True),
        **_kwic_context(texts, m["start"].to_numpy(np.int64) - s0, m["end"].to_numpy(np.int64) - s0, width),
        "sentence": texts,
    }
    if sort == "position":
        return pd.DataFrame(columns)
    mid = docs["date_mid"].take(doc_rows).to_numpy()
    out = pd.DataFrame({**columns, "_mid": mid, "_pos": m["start"].to_numpy(np.int64)})
    if sort == "left":
        out = (
            out.assign(_k=out["left"].str.split().str[-1].fillna("").str.lower())
            .sort_values(["_k", "doc_id", "_pos"])
            .drop(columns="_k")
        )
    elif sort == "right":
        out = (
            out.assign(_k=out["right"].str.split().str[0].fillna("").str.lower())
            .sort_values(["_k", "doc_id", "_pos"])
            .drop(columns="_k")
        )
    else:
        out = out.sort_values(["_mid", "doc_id", "_pos"])
    return out.drop(columns=["_mid", "_pos"]).reset_index(drop=True)


def actor_period_matrix(
    mentions: pd.DataFrame, docs: pd.DataFrame, actors: list[str] | None = None, period: str | None = None
) -> pd.DataFrame:
    """Share of each period's articles that name each actor: periods (rows) x actors (columns).

    The view of :func:`actor_doc_matrix` for a corpus too large for one row per article.
    An article belongs to the period of its date midpoint; ``period`` is month, quarter or
    year (default: :func:`~mali_partners.corpus.publication_period`). Only periods with
    articles are rows; ``attrs["n_articles"]`` holds each row's article count.

    >>> docs = pd.DataFrame({"doc_id": ["a", "b", "c"],
    ...                      "date_mid": pd.to_datetime(["2020-05-01", "2020-07-01", "2021-01-01"])})
    >>> m = pd.DataFrame({"doc_id": ["a", "a", "c"], "actor": ["France", "Russia", "Russia"]})
    >>> t = actor_period_matrix(m, docs, ["France", "Russia"], "year")
    >>> t.to_dict("index"), t.attrs["n_articles"]
    ({'2020': {'France': 0.5, 'Russia': 0.5}, '2021': {'France': 0.0, 'Russia': 1.0}}, [2, 1])
    """
    from .corpus import PUBLICATION_PERIODS, publication_period

    period = period or publication_period(docs)
    code = PUBLICATION_PERIODS[period][0]
    label = docs["date_mid"].dt.to_period(code).astype(str)
    label.index = docs["doc_id"]
    n_articles = label.value_counts().sort_index()
    m = mentions if actors is None else mentions[mentions["actor"].isin(actors)]
    named = m[["doc_id", "actor"]].drop_duplicates()
    named = named.assign(period=named["doc_id"].map(label))
    counts = pd.crosstab(named["period"], named["actor"]).reindex(index=n_articles.index, fill_value=0)
    if actors is not None:
        counts = counts.reindex(columns=actors, fill_value=0)
    shares = counts.div(n_articles, axis=0).astype(float)
    shares.index.name, shares.columns.name = "period", "actor"
    shares.attrs["n_articles"] = [int(n) for n in n_articles]
    return shares
