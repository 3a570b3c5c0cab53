"""Co-occurrence of partners (sentence, window, document) and collocates of a partner.

Every level is a 2x2 table in Evert's notation, so one set of measures serves all:

* **sentence** / **document**: ``o11`` = units (sentences or articles) naming both
  actors, ``r1`` and ``c1`` = units naming each, ``n`` = all units. So
  ``E = r1 * c1 / n`` is what independence predicts and ``PMI = log2(O / E)``.
* **window** (symmetric, ``k`` tokens, without order): the units are sliding windows
  of ``k + 1`` consecutive tokens inside one article, one starting at each token
  (``n`` = word tokens). Two mentions share a window exactly when they are at most
  ``k`` tokens apart, whatever their order; ``o11`` = windows holding both actors,
  ``r1``/``c1`` = windows holding each. Closer pairs share more windows, so the count
  weighs proximity, and every cell of the table stays a count of units.

The focal actor (Mali) is left out of partner pairs unless asked for.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from . import stats
from .errors import InputError, Problem
from .frames import sorted_unique
from .gazetteer import Gazetteer

LEVELS = ("sentence", "window", "document")
MEASURES = ("g2", "pmi", "npmi", "dice", "log_dice", "observed")
COOC_COLUMNS = [
    "actor_a",
    "actor_b",
    "level",
    "observed",
    "expected",
    "pmi",
    "npmi",
    "g2",
    "dice",
    "log_dice",
    "n_a",
    "n_b",
    "n",
]


def _check_window(window: int) -> None:
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
        raise InputError(
            [
                Problem(
                    "window",
                    f"the window must be a whole number of tokens >= 1, not {window!r}",
                    "use e.g. --window 10",
                )
            ],
            "request",
        )


def _token_rows(tokens: pd.DataFrame, doc_ids, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``tokens`` at character ``offsets`` of articles ``doc_ids``, with each article's first and last row.

    An offset between tokens takes the next token of its article (the last one at the end).
    Vectorised: one sorted key (article, start) over all tokens, one binary search per
    offset; ``tokens`` must hold each article's tokens together, in text order.
    """
    codes, uniques = pd.factorize(tokens["doc_id"])
    m_code = pd.Index(uniques).get_indexer(doc_ids).astype(np.int64)
    first = np.searchsorted(codes, np.arange(len(uniques)), side="left")[m_code]
    last = np.searchsorted(codes, np.arange(len(uniques)), side="right")[m_code] - 1
    # the key is built in place in the codes' array: one token-length int64 array, not four
    shift = np.int64(1) << np.int64(40)
    t_key = codes.astype(np.int64, copy=False)
    t_key *= shift
    t_key += tokens["start"].to_numpy()
    offsets = np.asarray(offsets, dtype=np.int64)
    i = np.searchsorted(t_key, m_code * shift + offsets, side="right") - 1
    del t_key, codes
    outside = (i < first) | (offsets >= tokens["end"].to_numpy()[np.maximum(i, 0)])
    return np.where(outside, np.minimum(np.maximum(i + 1, first), last), i), first, last


def mention_token_index(mentions: pd.DataFrame, tokens: pd.DataFrame) -> pd.Series:
    """The index (``token_id``) of the token where each mention starts, within its article.

    A mention starting between tokens takes the next token of its article (the last one at
    the end); ``tokens`` must hold each article's tokens together, in text order.
    """
    if mentions.empty:
        return pd.Series([], index=mentions.index, name="token_id", dtype="int64")
    rows, _, _ = _token_rows(tokens, mentions["doc_id"], mentions["start"].to_numpy())
    return pd.Series(tokens["token_id"].to_numpy()[rows], index=mentions.index, name="token_id")


def _pair_counts(units: np.ndarray, actors: np.ndarray, n_actors: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Units per actor and units per actor pair, from (unit, actor) rows (repeats allowed).

    ``units`` and ``actors`` are non-negative integer codes. Returns ``per_actor``
    (length ``n_actors``), and for every pair seen together, its key ``a * n_actors + b``
    (``a < b``) and its number of units, keys sorted. Vectorised: one sort of the
    (unit, actor) keys, then every pair inside each unit.

    >>> per, keys, n = _pair_counts(np.array([0, 0, 0, 1, 1, 2]), np.array([2, 0, 2, 0, 2, 1]), 3)
    >>> per.tolist(), keys.tolist(), n.tolist()
    ([2, 1, 2], [2], [2])
    """
    key, _ = sorted_unique(units.astype(np.int64) * n_actors + actors.astype(np.int64))  # by unit, then actor
    u, a = key // n_actors, key % n_actors
    per_actor = np.bincount(a, minlength=n_actors)
    if len(key) < 2:
        return per_actor, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    sizes = np.diff(np.r_[starts, len(u)])
    later = np.repeat(starts + sizes, sizes) - np.arange(len(u)) - 1  # rows after each row in its unit
    left = np.repeat(np.arange(len(u)), later)
    right = left + np.arange(len(left)) - np.repeat(np.cumsum(later) - later, later) + 1
    pair_keys, counts = sorted_unique(a[left] * n_actors + a[right])
    return per_actor, pair_keys, counts


def _covered(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """A boolean mask of length ``n``, true inside any of the inclusive ranges ``lo[i]..hi[i]``.

    >>> _covered(np.array([1, 2, 6]), np.array([3, 2, 6]), 8).astype(int).tolist()
    [0, 1, 1, 1, 0, 0, 1, 0]
    """
    depth = np.zeros(n + 1, dtype=np.int64)
    np.add.at(depth, lo, 1)
    np.add.at(depth, hi + 1, -1)
    return np.cumsum(depth[:n]) > 0


def _measures(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=COOC_COLUMNS)
    for name, values in stats.association(df["observed"], df["n_a"], df["n_b"], df["n"]).items():
        df[name] = values
    return df[COOC_COLUMNS]


COOC_CHUNK = 200_000  # mentions per chunk (whole articles): bounds the window level's arrays


def _article_chunks(doc_codes: np.ndarray, size: int) -> list[slice]:
    """Consecutive row ranges of about ``size`` rows, cut only between articles (``doc_codes`` non-decreasing)."""
    cuts, n = [0], len(doc_codes)
    while cuts[-1] < n:
        end = cuts[-1] + size
        cuts.append(n if end >= n else int(np.searchsorted(doc_codes, doc_codes[end - 1], side="right")))
    return [slice(a, b) for a, b in zip(cuts, cuts[1:])] or [slice(0, 0)]


def _level_units(
    level: str, docs: np.ndarray, actors: np.ndarray, sid: np.ndarray, tok: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """(unit, actor) codes of mentions at one level: units are sentences, articles or token windows."""
    if level == "sentence":
        return docs * (int(sid.max(initial=0)) + 1) + sid, actors
    if level == "document":
        return docs, actors
    lo = np.maximum(0, tok - window)
    reps = tok - lo + 1
    start = np.repeat(lo - (np.cumsum(reps) - reps), reps)
    start += np.arange(len(start))
    units = np.repeat(docs * (int(tok.max(initial=0)) + 1), reps)
    units += start
    return units, np.repeat(actors, reps)


def _add_counts(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_actors: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sum of several :func:`_pair_counts` results (per actor, and per pair key, keys sorted)."""
    if len(parts) == 1:
        return parts[0]
    per_actor = np.sum([p[0] for p in parts], axis=0, dtype=np.int64)
    keys, counts = sorted_unique(np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]))
    return per_actor, keys, counts


Tally = Counter  # summable counts: a Counter keyed by tuples (see cooccurrence_tally, collocates_tally)


def _check_levels(levels: tuple[str, ...]) -> None:
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise InputError(
            [Problem("levels", f"unknown level(s) {', '.join(bad)}", f"use any of: {', '.join(LEVELS)}")], "request"
        )


def cooccurrence_tally(
    mentions: pd.DataFrame,
    tokens: pd.DataFrame,
    gaz: Gazetteer,
    levels: tuple[str, ...] = LEVELS,
    window: int = 10,
    include_focal: bool = False,
    rollup: bool = False,
) -> Tally:
    """Units per actor and per actor pair at each level, in these articles: the counts behind the table.

    Keys are ``(level, actor_a, actor_b)`` for a pair (``actor_a < actor_b``) and
    ``(level, actor, "")`` for one actor's units; ``(level, "", "")`` holds the window
    level's units (word tokens). No unit spans two articles, so the tallies of disjoint
    sets of articles add up (``+``) to the tally of all of them: the corpus can be counted
    block by block (:func:`textstat_cooccurrence_tallied`). ``tokens`` must hold the same
    articles' tokens.
    """
    _check_levels(levels)
    _check_window(window)
    m = mentions[["doc_id", "sentence_id", "start", "actor"]]
    if rollup:
        m = m.assign(actor=m["actor"].map(gaz.root))
    if not include_focal:
        m = m[~m["actor"].eq(gaz.focal)]
    names = sorted(m["actor"].unique().tolist())  # code order = name order, so a < b in codes means actor_a < actor_b
    n_act = max(len(names), 1)
    actor_codes = pd.Index(names).get_indexer(m["actor"]).astype(np.int64)
    doc_codes, _ = pd.factorize(m["doc_id"])
    doc_codes = doc_codes.astype(np.int64)
    sid = m["sentence_id"].to_numpy(dtype=np.int64)
    # a mention at token i is in the windows starting at tokens max(0, i - k) .. i of its article
    tok = mention_token_index(m, tokens).to_numpy(dtype=np.int64) if "window" in levels else sid
    if len(doc_codes) and (np.diff(doc_codes) < 0).any():  # each article's mentions together, for the chunks
        order = np.argsort(doc_codes, kind="stable")
        doc_codes, actor_codes, sid, tok = doc_codes[order], actor_codes[order], sid[order], tok[order]
    chunks = _article_chunks(doc_codes, COOC_CHUNK)
    tally: Tally = Counter()
    for level in levels:
        parts = [
            _pair_counts(*_level_units(level, doc_codes[c], actor_codes[c], sid[c], tok[c], window), n_act)
            for c in chunks
        ]  # units never span two articles: chunk counts add up
        per_actor, pair_keys, counts = _add_counts(parts, n_act)
        tally.update({(level, names[a], ""): n for a, n in enumerate(per_actor.tolist()) if n and a < len(names)})
        tally.update(
            {(level, names[k // n_act], names[k % n_act]): o for k, o in zip(pair_keys.tolist(), counts.tolist())}
        )
    if "window" in levels and len(tokens):
        tally[("window", "", "")] += len(tokens)
    return tally


def textstat_cooccurrence_tallied(
    tally: Tally,
    n_sentences: int,
    n_docs: int,
    levels: tuple[str, ...] = LEVELS,
    window: int = 10,
    include_focal: bool = False,
    rollup: bool = False,
) -> pd.DataFrame:
    """The table of :func:`textstat_cooccurrence` from a :func:`cooccurrence_tally` of the whole corpus (summed)."""
    n_units = {"sentence": n_sentences, "document": n_docs, "window": tally[("window", "", "")]}
    rows = [
        {
            "actor_a": a,
            "actor_b": b,
            "level": level,
            "observed": o,
            "n_a": tally[(level, a, "")],
            "n_b": tally[(level, b, "")],
            "n": n_units[level],
        }
        for level in levels
        for (lv, a, b), o in sorted(tally.items())
        if lv == level and b
    ]
    out = _measures(rows)
    out.attrs.update({"window": window, "rollup": rollup, "include_focal": include_focal})
    return out.sort_values(
        ["level", "observed", "actor_a", "actor_b"], ascending=[True, False, True, True]
    ).reset_index(drop=True)


def textstat_cooccurrence(
    mentions: pd.DataFrame,
    tokens: pd.DataFrame,
    gaz: Gazetteer,
    levels: tuple[str, ...] = LEVELS,
    window: int = 10,
    include_focal: bool = False,
    rollup: bool = False,
    n_sentences: int | None = None,
    n_docs: int | None = None,
) -> pd.DataFrame:
    """Partner x partner co-occurrence at the given levels, one row per pair (actor_a < actor_b) and level.

    Columns: actor_a, actor_b, level, observed, expected, pmi, npmi, g2, dice, log_dice,
    n_a, n_b (each actor's units: sentences, articles or windows), n (all units).
    Only pairs observed at least once. ``rollup=True`` counts children as their root
    (Wagner as Russia). ``n_sentences`` / ``n_docs`` default to those in ``tokens``.
    """
    n_sent = n_sentences if n_sentences is not None else tokens[["doc_id", "sentence_id"]].drop_duplicates().shape[0]
    n_doc = n_docs if n_docs is not None else tokens["doc_id"].nunique()
    opts = {"levels": levels, "window": window, "include_focal": include_focal, "rollup": rollup}
    return textstat_cooccurrence_tallied(cooccurrence_tally(mentions, tokens, gaz, **opts), n_sent, n_doc, **opts)


def cooccurrence_matrix(
    cooc: pd.DataFrame, level: str = "sentence", value: str = "observed", actors: list[str] | None = None
) -> pd.DataFrame:
    """A symmetric actor x actor matrix of one measure at one level (NaN where never together)."""
    d = cooc[cooc["level"] == level]
    names = actors or sorted(set(d["actor_a"]) | set(d["actor_b"]))
    mat = pd.DataFrame(np.nan, index=names, columns=names)
    for a, b, v in zip(d["actor_a"], d["actor_b"], d[value]):
        if a in mat.index and b in mat.index:
            mat.loc[a, b] = mat.loc[b, a] = v
    return mat


def textstat_collocates(
    mentions: pd.DataFrame,
    tokens: pd.DataFrame,
    gaz: Gazetteer,
    actors: list[str],
    window: int = 10,
    min_freq: int = 2,
    measure: str = "g2",
    with_children: bool = True,
    top: int | None = 25,
) -> pd.DataFrame:
    """Terms found within ``window`` tokens of each actor's mentions, ranked by an association measure.

    A term is a non-stopword token (``norm``) that is not itself part of a mention.
    For actor X: ``o11`` = occurrences of the term within X's windows (a token counted
    once per actor even when two windows overlap), ``r1`` = tokens inside X's windows,
    ``c1`` = the term's corpus frequency, ``n`` = corpus tokens.
    Columns: actor, term, observed, term_freq, expected, pmi, npmi, g2, dice, log_dice, rank.
    ``measure`` is one of g2, pmi, npmi, dice, log_dice, observed; only terms seen at
    least ``min_freq`` times near the actor.
    """
    _check_measure(measure)
    tally = collocates_tally(mentions, tokens, gaz, actors, window=window, with_children=with_children)
    return textstat_collocates_tallied(tally, actors, window=window, min_freq=min_freq, measure=measure, top=top)


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise InputError(
            [Problem("measure", f"unknown measure {measure!r}", f"use one of: {', '.join(MEASURES)}")], "request"
        )


def collocates_tally(
    mentions: pd.DataFrame,
    tokens: pd.DataFrame,
    gaz: Gazetteer,
    actors: list[str],
    window: int = 10,
    with_children: bool = True,
) -> Tally:
    """The counts behind :func:`textstat_collocates`, in these articles.

    Keys: ``("", "", "")`` word tokens; ``("", "", term)`` the term's frequency (content
    tokens outside mentions); ``(actor, "", "")`` tokens inside the actor's windows;
    ``(actor, "near", term)`` the term's occurrences there. Windows stop at the article's
    edges, so the tallies of disjoint sets of articles add up to the corpus's.
    ``tokens`` must hold the same articles' tokens, each article's together in text order.
    """
    _check_window(window)
    for a in actors:
        gaz.check_actor(a)
    n_tok = len(tokens)
    tally: Tally = Counter()
    if not n_tok:
        return tally
    tally[("", "", "")] = n_tok
    tok = tokens[["doc_id", "start", "end", "norm", "is_stop"]].reset_index(drop=True)
    m = len(mentions)
    # token rows of each mention's first and last character (one lookup for both), and its article's rows
    at, first, last = _token_rows(
        tok,
        pd.concat([mentions["doc_id"], mentions["doc_id"]]),
        np.r_[mentions["start"].to_numpy(), mentions["end"].to_numpy() - 1],
    )
    m_start, m_end, first, last = at[:m], at[m:], first[:m], last[:m]
    in_mention = _covered(m_start, m_end, n_tok)
    content = (~tok["is_stop"].to_numpy()) & (~in_mention)
    # terms as integer codes: counted with bincount, a Python string made only per distinct term
    codes, vocab = pd.factorize(tok["norm"])
    vocab = [str(v) for v in vocab]
    content &= codes >= 0  # a missing norm (none expected) is no term, as value_counts() leaves it out
    counts = np.bincount(codes[content], minlength=len(vocab))
    tally.update({("", "", vocab[c]): int(counts[c]) for c in np.flatnonzero(counts).tolist()})
    for actor in actors:
        family = [actor, *gaz.descendants(actor)] if with_children else [actor]
        sel = mentions["actor"].isin(family).to_numpy()
        slots = _covered(
            np.maximum(first[sel], m_start[sel] - window), np.minimum(last[sel], m_end[sel] + window), n_tok
        )
        if r1 := int(slots.sum()):
            tally[(actor, "", "")] += r1
        near = np.bincount(codes[slots & content], minlength=len(vocab))
        tally.update({(actor, "near", vocab[c]): int(near[c]) for c in np.flatnonzero(near).tolist()})
    return tally


def textstat_collocates_tallied(
    tally: Tally,
    actors: list[str],
    window: int = 10,
    min_freq: int = 2,
    measure: str = "g2",
    top: int | None = 25,
) -> pd.DataFrame:
    """The table of :func:`textstat_collocates` from a :func:`collocates_tally` of the whole corpus (summed)."""
    _check_measure(measure)
    n_tok = tally[("", "", "")]
    near: dict[str, dict[str, int]] = {a: {} for a in actors}
    for (actor, what, term), o in tally.items():
        if what == "near" and actor in near:
            near[actor][term] = o
    frames = []
    for actor in actors:
        r1 = tally[(actor, "", "")]
        rows = [
            {"actor": actor, "term": t, "observed": o, "term_freq": tally[("", "", t)]}
            for t, o in sorted(near[actor].items())
            if o >= min_freq
        ]
        df = pd.DataFrame(rows, columns=["actor", "term", "observed", "term_freq"])
        if df.empty:
            continue
        for name, values in stats.association(df["observed"], r1, df["term_freq"], n_tok).items():
            df[name] = values
        df = df.sort_values([measure, "observed", "term"], ascending=[False, False, True]).reset_index(drop=True)
        df["rank"] = np.arange(1, len(df) + 1)
        frames.append(df if top is None else df.head(top))
    cols = ["actor", "term", "observed", "term_freq", "expected", "pmi", "npmi", "g2", "dice", "log_dice", "rank"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    out.attrs.update({"window": window, "measure": measure, "min_freq": min_freq})
    return out[cols]
