"""Pipeline: the whole analysis in one call, and the tables ``mali-partners analyse`` writes.

:func:`run` goes corpus -> text -> actors -> frequency / co-occurrence / trajectory and
returns every intermediate frame in an :class:`Analysis`; notebooks call it and only
display. :func:`analysis_tables` turns an analysis into the documented CSV tables
(:data:`TABLES` is their data dictionary); :func:`analyse_to_dir` writes them into a
temporary folder and renames it into place, so a failed run never leaves half a folder.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import actors as act
from . import cooccurrence as cooc
from . import frequency as freq
from . import trajectory as traj
from .clean import corpus_clean
from .corpus import corpus_load
from .errors import InputError, Problem
from .gazetteer import Gazetteer, gazetteer_load
from .text import corpus_sentences, read_list, sentences_tokens, tokens_compact

if TYPE_CHECKING:
    from .engine import BlockMemo

FOCAL_PARTNERS = ["France", "Russia"]


def code_version() -> str:
    """The installed package version."""
    try:
        return metadata.version("mali-partners")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


@dataclass
class Analysis:
    """Every frame of one run, with the configuration that produced it.

    ``tokens`` and ``terms`` hold only the columns the corpus-level steps read (see
    :func:`text.tokens_compact`, :func:`frequency.terms_compact`); ``docs`` has the raw
    text's length (``n_chars_raw``), not the raw text (the cleaned ``text`` is kept).
    """

    docs: pd.DataFrame
    cleaning: pd.DataFrame
    sentences: pd.DataFrame
    tokens: pd.DataFrame
    mentions: pd.DataFrame
    terms: pd.DataFrame
    units: pd.DataFrame
    cue_hits: pd.DataFrame
    unmatched: pd.DataFrame
    gazetteer: Gazetteer
    lexicon: traj.Lexicon
    window: int
    provenance: dict = field(default_factory=dict)
    # with a cache (see :func:`run`): the per-block results of the table jobs, and one key per article of ``docs``
    memo: BlockMemo | None = None
    block_keys: list[str] | None = None

    @property
    def n_tokens(self) -> int:
        """Word tokens in the corpus (stopwords included)."""
        return len(self.tokens)

    @property
    def doc_sizes(self) -> pd.Series:
        """Word tokens per article, indexed by doc_id."""
        # from the runs of each article's tokens: grouping 62M token rows by id made an array of codes as large
        rows, ids = _article_runs(self.tokens["doc_id"])
        runs = pd.Series(np.diff(np.r_[rows, len(self.tokens)]), index=pd.Index(ids, name="doc_id"))
        return runs.groupby(level=0, sort=False).sum().reindex(self.docs["doc_id"], fill_value=0)

    def _blocks_of(self, frame: str) -> Callable[[], Iterator[pd.DataFrame]]:
        """A function giving the rows of ``frame`` afresh, in blocks of whole articles (:func:`article_blocks`)."""
        return lambda: (b[frame] for b in article_blocks(self, ("docs", frame)))

    def actor_counts(self) -> pd.DataFrame:
        """Mentions per actor, with and without children (see :func:`actors.textstat_actor_counts`)."""
        return act.textstat_actor_counts(self.mentions, self.gazetteer, self.n_tokens)

    def frequency(self, ngram: int | list[int] = 1) -> pd.DataFrame:
        """Term frequency table (see :func:`frequency.textstat_frequency`), counted block by block.

        The same table as over the whole term table at once (see
        :func:`frequency.textstat_frequency_blocks`); a job holds one block's arrays, and keeps
        the recoded counts between its passes when they fit in the memory available.
        """
        have = available_memory()
        if self.memo is None:
            return freq.textstat_frequency_blocks(self._blocks_of("terms"), self.doc_sizes, ngram=ngram, available=have)
        ngrams = [ngram] if isinstance(ngram, int) else list(ngram)

        def blocks() -> Iterator[freq.BlockTerms]:  # each block's counts, from the memo where it has them
            return memo_blocks(
                self, "frequency", repr(ngrams), ("docs", "terms"), lambda b: freq.block_terms(b["terms"], ngrams)
            )

        return freq.textstat_frequency_blocks(blocks, self.doc_sizes, ngram=ngrams, available=have)

    def keyness(self, target: str = "France", reference: str = "Russia", min_freq: int = 3) -> pd.DataFrame:
        """Keyness of the sentences naming ``target`` against those naming ``reference``."""
        tally: Counter = Counter()
        for part in memo_blocks(
            self,
            "keyness",
            repr((target, reference)),
            ("docs", "terms", "mentions"),
            lambda b: freq.keyness_actors_tally(b["terms"], b["mentions"], self.gazetteer, target, reference),
        ):
            tally += part
        return freq.keyness_actors_tallied(tally, target, reference, min_freq)

    def cooccurrence(self, **kw) -> pd.DataFrame:
        """Partner co-occurrence at the three levels (see :func:`cooccurrence.textstat_cooccurrence`).

        Counted block by block (:func:`article_blocks`) and summed: a job holds one block's
        token positions, not the corpus's. Same table as counting the whole corpus at once.
        """
        kw.setdefault("window", self.window)
        tally = cooc.Tally()
        for part in memo_blocks(
            self,
            "cooccurrence",
            repr(sorted(kw.items())),
            ("docs", "mentions", "tokens"),
            lambda b: cooc.cooccurrence_tally(b["mentions"], b["tokens"], self.gazetteer, **kw),
        ):
            tally += part
        return cooc.textstat_cooccurrence_tallied(tally, len(self.sentences), len(self.docs), **kw)

    def collocates(self, actors: list[str] | None = None, **kw) -> pd.DataFrame:
        """Collocates of each focal partner (see :func:`cooccurrence.textstat_collocates`), counted block by block."""
        actors = actors or FOCAL_PARTNERS
        kw.setdefault("window", self.window)
        counting = {k: kw.pop(k) for k in ("with_children",) if k in kw}
        tally = cooc.Tally()
        for part in memo_blocks(
            self,
            "collocates",
            repr((list(actors), kw["window"], sorted(counting.items()))),
            ("docs", "mentions", "tokens"),
            lambda b: cooc.collocates_tally(
                b["mentions"], b["tokens"], self.gazetteer, actors, kw["window"], **counting
            ),
        ):
            tally += part
        return cooc.textstat_collocates_tallied(tally, actors, **kw)

    def trajectory(self, partners: list[str] | None = None, period: str = "year", **kw) -> pd.DataFrame:
        """Per-partner series (see :func:`trajectory.textstat_trajectory`)."""
        return traj.textstat_trajectory(
            self.mentions, self.units, self.gazetteer, partners or FOCAL_PARTNERS, period, **kw
        )

    def evidence(self, period: str = "year", partners: list[str] | None = None) -> pd.DataFrame:
        """The sentences behind every series point."""
        return traj.trajectory_evidence(self.units, self.sentences, self.docs, period, partners)

    def events(self, partners: list[str] | None = None) -> pd.DataFrame:
        """Dated events named by the corpus."""
        return traj.trajectory_events(self.units, self.sentences, self.cue_hits, partners or FOCAL_PARTNERS)

    def unmatched_names(self, min_count: int = 1) -> pd.DataFrame:
        """Names no alias matched, from the per-article counts (see :func:`actors.textstat_unmatched_names`)."""
        return act.unmatched_from_counts(self.unmatched, min_count)

    def partners(self, min_mentions: int = 1) -> list[str]:
        """Partner roots (not the focal actor) with at least ``min_mentions`` mentions, most mentioned first."""
        # the root column alone: selecting the mentions' rows copied every column before any table job could
        # start (they started 4.4 s after the call at 100k articles); counted, then ordered by root and by count
        # as the grouping was
        counts = self.mentions["root"].value_counts(sort=False).sort_index()
        counts = counts[counts.index != self.gazetteer.focal].sort_values(ascending=False)
        return [a for a, n in counts.items() if n >= min_mentions]


def inputs_hash(corpus_version: str, gaz: Gazetteer, lex: traj.Lexicon) -> str:
    """One hash over everything the results depend on: corpus, gazetteer, lexicon, stopwords, code version."""
    h = hashlib.sha256()
    for part in (
        corpus_version,
        gaz.sha,
        lex.sha,
        "|".join(read_list("stopwords.txt")),
        "|".join(read_list("abbreviations.txt")),
        code_version(),
    ):
        h.update(part.encode())
    return h.hexdigest()[:12]


DOC_FRAMES = ("docs", "cleaning", "sentences", "tokens", "mentions", "terms", "units", "cue_hits", "unmatched")


STAGES = ("clean", "sentences_tokens", "mentions", "terms", "relations", "unmatched")  # stage names for ``timings``


def analyse_document(
    doc: pd.DataFrame,
    gaz: Gazetteer,
    lex: traj.Lexicon,
    matcher: act.Matcher | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, pd.DataFrame]:
    """The per-article step: clean, split, find and date mentions, build terms, score relations.

    A pure function of the articles (rows of the corpus frame: one, or a chunk) and the
    configuration; no row depends on another article, so frames combine across articles
    by concatenation (:func:`combine`) and any engine (a loop, a process pool, a Dask
    cluster, a cache) can run it. With ``timings``, the
    seconds each stage (:data:`STAGES`) took are added to it (used by the benchmarks).
    """
    marks = [time.perf_counter()]
    docs, cleaning = corpus_clean(doc)
    # the raw text is not read again: its length is all the tables need
    docs = docs.assign(n_chars_raw=docs["text_raw"].str.len()).drop(columns="text_raw")
    marks.append(time.perf_counter())
    sentences = corpus_sentences(docs)
    tokens = sentences_tokens(sentences)
    marks.append(time.perf_counter())
    mentions = act.mentions_find(sentences, gaz, matcher)
    mentions = traj.mentions_date(mentions, sentences, docs)
    marks.append(time.perf_counter())
    terms = freq.terms_compact(freq.tokens_terms(tokens, gaz))
    tokens = tokens_compact(tokens)
    marks.append(time.perf_counter())
    units, hits = traj.relations_score(mentions, sentences, gaz, lex)
    marks.append(time.perf_counter())
    unmatched = act.unmatched_counts(sentences, mentions, gaz)
    marks.append(time.perf_counter())
    if timings is not None:
        for name, a, b in zip(STAGES, marks, marks[1:]):
            timings[name] = timings.get(name, 0.0) + (b - a)
    return dict(zip(DOC_FRAMES, (docs, cleaning, sentences, tokens, mentions, terms, units, hits, unmatched)))


def engine_map(
    docs: pd.DataFrame,
    gaz: Gazetteer,
    lex: traj.Lexicon,
    engine: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = False,
    stats: dict | None = None,
) -> list[dict[str, pd.DataFrame]]:
    """Run :func:`analyse_document` on every article, in corpus order.

    ``engine`` is ``local`` (a loop for small corpora, a process pool on every core for
    large ones) or ``dask``; ``cache_dir`` reuses the frames of unchanged articles. See
    :func:`mali_partners.engine.map_documents`.
    """
    from .engine import map_documents

    return map_documents(
        docs,
        gaz,
        lex,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
        cache_dir=cache_dir,
        progress=progress,
        stats=stats,
    )


class _FrozenHeap(contextlib.ContextDecorator):
    """Objects that exist when a run starts (modules, NLTK, the caller's data) are left out of its collections.

    :func:`release_memory` collects garbage several times a run; each full collection
    walks every tracked object, ~150,000 after the imports alone (0.15 s each, most of a
    second per run). ``gc.freeze`` moves the objects alive at the start to a permanent
    generation, so the run's collections walk only what the run made; forked workers leave
    the frozen objects' pages shared (as the ``gc`` documentation advises before ``fork``).
    Everything is unfrozen at the end of the outermost run; nothing is left uncollected.
    """

    depth = 0  # runs under way in this process (nested, or on several threads)
    lock = threading.Lock()

    def __enter__(self) -> _FrozenHeap:
        with _FrozenHeap.lock:
            if _FrozenHeap.depth == 0:
                gc.freeze()
            _FrozenHeap.depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with _FrozenHeap.lock:
            _FrozenHeap.depth -= 1
            if _FrozenHeap.depth == 0:
                gc.unfreeze()


def release_memory() -> None:
    """Give freed heap memory back to the system (Arrow's pool, glibc ``malloc_trim``; elsewhere only garbage collection).

    Called after the corpus is read, after the per-chunk frames are combined and after each
    table job run in this process: the freed memory otherwise stays in the resident set (at
    10k articles, 1.5 GB held for 0.9 GB of frames; 1.1 GB after trimming).
    """
    import ctypes

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()  # Arrow's allocator (mimalloc) keeps freed pages otherwise
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # not glibc (macOS, musl, Windows)
        return
    trim(0)


def combine(results: list[dict[str, pd.DataFrame]]) -> tuple[pd.DataFrame, ...]:
    """Concatenate the frames of per-article (or per-chunk) results in order, as a tuple in :data:`DOC_FRAMES` order.

    The results are emptied as their frames are concatenated (memory is freed frame by frame).
    """
    from .engine import _concat

    frames = _concat(results, consume=True)
    return tuple(frames[name] for name in DOC_FRAMES)


@_FrozenHeap()
def run(
    corpus_dir: str | os.PathLike[str] = "seeds",
    gazetteer: str | None = None,
    lexicon: str | None = None,
    window: int = 10,
    *,
    engine: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = False,
    skip_invalid: bool = False,
    stats: dict | None = None,
) -> Analysis:
    """Run the whole analysis on a corpus folder; raise :class:`InputError` on any bad input, before computing.

    The keyword arguments choose how the per-article step runs (see :func:`engine_map`);
    the results do not depend on them. ``skip_invalid`` analyses the valid articles of a
    corpus with problems instead of raising; the problems are in ``provenance["skipped"]``.
    ``stats``, when given, receives what the engine did (articles analysed, from cache).
    """
    cooc._check_window(window)
    problems: list[Problem] = []
    skipped: list[Problem] = []
    docs = gaz = lex = file_index = None
    for loader in ("corpus", "gazetteer", "lexicon"):
        try:
            if loader == "corpus":
                if skip_invalid:
                    from .engine import corpus_load_valid

                    docs, skipped = corpus_load_valid(corpus_dir, progress)
                elif cache_dir is not None:
                    from .engine import corpus_load_indexed

                    docs, file_index = corpus_load_indexed(corpus_dir, cache_dir, progress)
                else:
                    docs = corpus_load(corpus_dir, progress)
            elif loader == "gazetteer":
                gaz = gazetteer_load(gazetteer)
            else:
                lex = traj.lexicon_load(lexicon)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems, "inputs")
    assert docs is not None and gaz is not None and lex is not None
    release_memory()  # reading and checking every file leaves freed pages (10k articles: 0.2 GB)
    cv = docs.attrs["corpus_version"]
    attrs = dict(docs.attrs)  # this load's corpus_version and corpus_dir (cached frames carry an older run's)
    run_stats = {} if stats is None else stats
    results = engine_map(
        docs,
        gaz,
        lex,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
        cache_dir=cache_dir,
        progress=progress,
        stats=run_stats,
    )
    keys = run_stats.pop("article_keys", None)  # the engine's, in corpus order: the keys of the block memo
    if file_index is not None and cache_dir is not None:
        from .engine import file_index_save

        with contextlib.suppress(OSError):  # a read-only cache: the next run reads every file, as without one
            file_index_save(cache_dir, file_index)
    docs, cleaning, sentences, tokens, mentions, terms, units, hits, unmatched = combine(results)
    del results
    release_memory()
    docs.attrs.update(attrs)
    prov = {
        "corpus_dir": str(corpus_dir),
        "corpus_version": cv,
        "n_articles": len(docs),
        "date_earliest": str(docs["date_earliest"].min().date()),
        "date_latest": str(docs["date_latest"].max().date()),
        "gazetteer_version": gaz.version,
        "gazetteer_sha": gaz.sha,
        "lexicon_version": lex.version,
        "lexicon_sha": lex.sha,
        "code_version": code_version(),
        "inputs_hash": inputs_hash(cv, gaz, lex),
        "window": window,
    }
    if skip_invalid:
        prov["skipped"] = [{"file": p.file, "where": p.where, "problem": p.message} for p in skipped]
        if stats is not None:
            stats["skipped"] = [str(p).replace("\n", "\n    ") for p in skipped]
    memo = None
    if cache_dir is not None:
        from .engine import BlockMemo, config_hash

        memo = BlockMemo(cache_dir, config_hash(gaz, lex))
    an = Analysis(
        docs, cleaning, sentences, tokens, mentions, terms, units, hits, unmatched, gaz, lex, window, prov, memo, keys
    )
    if memo is not None:
        memo.bind(an, (*DOC_FRAMES, "gazetteer"))
    return an


# ----------------------------------------------------------------------------- tables

TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "documents": (
        "One row per article: its metadata from the manifest and its size after cleaning.",
        {
            "doc_id": "article id (manifest `id`)",
            "file": "text file in the corpus folder",
            "title": "headline; [bracketed] when supplied by the analyst",
            "source": "outlet or organisation",
            "url": "address, may be empty",
            "published": "publication date as given: YYYY-MM-DD, YYYY-MM, YYYY or EARLIEST/LATEST",
            "date_precision": "day, month, year or range",
            "date_earliest": "earliest possible publication day",
            "date_latest": "latest possible publication day",
            "date_basis": "the quoted evidence for the date",
            "n_chars_raw": "characters in the raw file",
            "n_chars_clean": "characters after cleaning",
            "n_sentences": "sentences",
            "n_tokens": "word tokens (stopwords included)",
            "sha256": "hash of the raw file",
        },
    ),
    "cleaning": (
        "What each cleaning rule did to each article.",
        {
            "doc_id": "article id",
            "rule": "cleaning rule (a function in mali_partners/clean.py)",
            "chars_removed": "characters it removed",
            "chars_added": "characters it added",
        },
    ),
    "sentences": (
        "Every sentence of the cleaned texts; mention offsets refer to the same texts.",
        {
            "doc_id": "article id",
            "sentence_id": "sentence number in the article, from 0",
            "start": "offset of its first character in the cleaned article",
            "end": "offset after its last character",
            "text": "the sentence",
        },
    ),
    "mentions": (
        "Every mention of a gazetteer actor, with its span and date.",
        {
            "doc_id": "article id",
            "sentence_id": "sentence number",
            "start": "offset of the mention in the cleaned article text",
            "end": "offset after the mention (text[start:end] == surface)",
            "surface": "the text as written",
            "actor": "canonical actor",
            "kind": "actor kind",
            "parent": "the actor it belongs to (Wagner -> Russia), may be empty",
            "alias": "the gazetteer alias that matched",
            "root": "top of the parent chain (used when children are rolled up)",
            "focal": "True for the focal actor (Mali)",
            "date_earliest": "earliest day of the mention's date",
            "date_latest": "latest day of the mention's date",
            "date_point": "where the date sits on a time axis (middle, or onset for 'since X')",
            "date_precision": "day, month, year, range, or publication (fallback)",
            "date_source": "in-text (a time expression of the sentence) or publication (the article's date)",
            "date_expression": "the time expression used",
            "date_note": "why a date fell back or how it was resolved",
        },
    ),
    "actor_counts": (
        "Mentions per actor, alone and with its children, and per 1,000 word tokens.",
        {
            "actor": "canonical actor",
            "kind": "actor kind",
            "parent": "parent actor",
            "focal": "True for the focal actor",
            "mentions": "mentions of the actor itself",
            "mentions_with_children": "mentions of the actor and its children (France incl. Barkhane)",
            "n_docs": "articles naming the actor itself",
            "n_docs_with_children": "articles naming it or a child",
            "per_1000": "mentions per 1,000 word tokens",
            "per_1000_with_children": "the same with children",
        },
    ),
    "alias_hits": (
        "What each gazetteer alias matched: analysts see dead aliases (no_hits).",
        {
            "actor": "canonical actor",
            "alias": "alias",
            "hits": "mentions",
            "n_docs": "articles",
            "surfaces": "surface forms seen",
            "no_hits": "True when the alias matched nothing",
        },
    ),
    "unmatched_names": (
        "Capitalised names and acronyms no alias matched: candidates for the gazetteer.",
        {
            "candidate": "the name",
            "count": "occurrences",
            "n_docs": "articles",
            "example": "a sentence where it occurs",
        },
    ),
    "term_frequency": (
        "Terms (1- to 3-grams, stopwords removed, actor names as one term) with frequency, TF-IDF and dispersion.",
        {
            "term": "term; n-grams joined by _",
            "ngram": "1, 2 or 3",
            "n": "occurrences",
            "per_1000": "per 1,000 word tokens",
            "doc_freq": "articles containing it",
            "idf": "ln(articles / doc_freq)",
            "tfidf": "n x idf",
            "juilland_d": "Juilland's D dispersion over articles (1 = even, 0 = one article)",
            "top_doc": "the article holding most of it",
            "top_doc_share": "that article's share of n",
            "surface": "most frequent surface form (differs from term when stemming)",
        },
    ),
    "keyness": (
        "Terms key for sentences naming France against sentences naming Russia (sentences naming both left out).",
        {
            "term": "term",
            "n_target": "occurrences in France sentences",
            "n_reference": "occurrences in Russia sentences",
            "per_1000_target": "per 1,000 terms on the France side",
            "per_1000_reference": "per 1,000 terms on the Russia side",
            "g2": "Dunning log-likelihood",
            "p": "p-value (chi-squared, 1 df)",
            "log_ratio": "log2 ratio of relative frequencies (> 0: more on the France side)",
            "key_for": "the side the term is key for",
        },
    ),
    "cooccurrence": (
        "Partner x partner co-occurrence at sentence, window and document level (Mali left out).",
        {
            "actor_a": "first actor (alphabetical)",
            "actor_b": "second actor",
            "level": "sentence, window (k tokens, sliding) or document",
            "observed": "units (sentences, windows, articles) naming both",
            "expected": "units expected under independence: n_a x n_b / n",
            "pmi": "log2(observed / expected)",
            "npmi": "PMI / -log2(observed / n), in [-1, 1]",
            "g2": "Dunning log-likelihood of the 2x2 table",
            "dice": "2 x observed / (n_a + n_b)",
            "log_dice": "14 + log2(dice)",
            "n_a": "units naming actor_a",
            "n_b": "units naming actor_b",
            "n": "all units",
        },
    ),
    "collocates": (
        "Terms near each focal partner's mentions, ranked by G2.",
        {
            "actor": "focal partner (with its children)",
            "term": "term",
            "observed": "occurrences within the window",
            "term_freq": "occurrences in the corpus",
            "expected": "expected within the window by chance",
            "pmi": "log2(observed / expected)",
            "npmi": "normalised PMI",
            "g2": "log-likelihood",
            "dice": "Dice",
            "log_dice": "logDice",
            "rank": "rank by G2 within the actor",
        },
    ),
    "kwic": (
        "Keyword-in-context lines for every mention of every actor, in article order (sortable and filterable).",
        {
            "doc_id": "article id",
            "published": "article date",
            "sentence_id": "sentence number",
            "actor": "canonical actor",
            "left": "up to 60 characters before the mention, in its sentence",
            "keyword": "the mention as written",
            "right": "up to 60 characters after it",
            "sentence": "the whole sentence",
        },
    ),
    "cue_hits": (
        "Every relation cue found, with scope decisions and the partner it was attributed to.",
        {
            "doc_id": "article id",
            "sentence_id": "sentence number",
            "cue": "lexicon cue",
            "surface": "text that matched",
            "weight": "lexicon weight in [-1, 1]",
            "type": "verbal or material (PLOVER)",
            "plover": "nearest PLOVER event type",
            "event": "True when the cue marks an event",
            "negated": "a negator governs it",
            "modal": "a modal or hypothetical marker governs it",
            "conceded": "inside a 'despite ...' phrase",
            "effective": "weight after negation, modality and concession",
            "partner": "partner(s) it was attributed to; empty when none",
            "attribution": "how it was attributed",
        },
    ),
    "trajectory": (
        "Per partner and year: media attention (salience) and mean relation score with a 95% bootstrap interval.",
        {
            "partner": "partner (children rolled up: Wagner counts for Russia)",
            "period": "year",
            "period_start": "first day of the period",
            "mentions": "mentions dated to the period",
            "salience": "share of all partner mentions in the period (media attention, not events)",
            "score": "mean relation score of the sentence-partner units with a cue, -1 (conflict) to 1 (cooperation)",
            "ci_low": "95% bootstrap interval, low (NaN with fewer than two units)",
            "ci_high": "95% bootstrap interval, high",
            "n_evidence": "scored sentence-partner units behind the score",
            "low_evidence": f"True when n_evidence is below the minimum ({traj.MIN_EVIDENCE}): read with care",
        },
    ),
    "trajectory_evidence": (
        "The sentences behind every point of every series.",
        {
            "partner": "partner",
            "period": "year",
            "doc_id": "article id",
            "sentence_id": "sentence number",
            "title": "article title",
            "published": "article date",
            "date": "the date used for this sentence-partner unit",
            "date_source": "in-text or publication",
            "date_precision": "day, month, year, range or publication",
            "date_expression": "time expression used",
            "score": "unit score in [-1, 1]",
            "label": "cooperative, neutral or conflictual",
            "n_cues": "cues attributed to the partner (non-zero weight)",
            "cues": "cue:effective-weight list",
            "sentence": "the sentence",
        },
    ),
    "events": (
        "Dated events named by the corpus (in-text date and an event cue attributed to the partner).",
        {
            "partner": "partner",
            "date": "date point",
            "date_earliest": "earliest day",
            "date_latest": "latest day",
            "date_precision": "precision",
            "date_expression": "time expression",
            "event": "the strongest event cue",
            "score": "unit score",
            "doc_id": "article id",
            "sentence_id": "sentence number",
            "sentence": "the sentence",
        },
    ),
}


TABLE_JOBS: dict[str, tuple[str, ...]] = {
    # job -> the tables it makes; each job is independent of the others (see analysis_tables).
    # Longest first (at 10k articles, adding an article to a cached run): the worker pool takes them in this
    # order, which balances the cores. Frequency and keyness are two jobs: together they were the longest.
    "frequency": ("term_frequency",),
    "trajectory": ("trajectory", "events"),
    "evidence": ("trajectory_evidence",),
    "keyness": ("keyness",),
    "kwic": ("kwic",),
    "cooccurrence": ("cooccurrence", "collocates"),
    "actors": ("actor_counts", "alias_hits", "unmatched_names"),
    "rows": ("documents", "cleaning", "sentences", "mentions", "cue_hits"),
}
PARALLEL_TABLES_MIN_DOCS = 1000  # smaller corpora: the tables take less than starting processes
# memory of one table job of its own, as a share of the analysis frames (their deep size). Measured at 10k
# (0.76 GB of frames, private dirty pages of the forked job) in session 11, after the number columns were
# mapped and the large jobs counted block by block: frequency 0.33, evidence 0.26, trajectory 0.24, KWIC
# 0.20, rows 0.19, co-occurrence 0.09 (before: co-occurrence 0.59, frequency 0.43); 0.4 leaves a margin.
# (0.5 was once too little, when KWIC and co-occurrence needed 0.9 and 0.7: a worker was killed.)
TABLE_JOB_MEMORY = 0.4


def available_memory() -> int | None:
    """Bytes of memory the system can still give (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def table_workers(an: Analysis, workers: int) -> int:
    """How many forked workers the table jobs may use: ``workers``, fewer when memory is short.

    A forked worker shares the analysis with the main process but needs memory of its own for
    its job (up to about :data:`TABLE_JOB_MEMORY` x the frames); the count is cut so the
    workers fit in the memory available. At 100k articles on 24 GB the jobs then run one
    after the other instead of a worker being killed.
    """
    have = available_memory()
    if have is None or workers <= 1:
        return workers
    frames = sum(int(getattr(an, name).memory_usage(deep=True).sum()) for name in DOC_FRAMES)
    per_job = max(1, int(frames * TABLE_JOB_MEMORY))
    return max(1, min(workers, have // per_job))


def as_dates(values: pd.Series) -> pd.Series:
    """``values.dt.date`` (datetime.date objects, NaT where missing), converting each distinct date once.

    A table of mentions holds a few thousand distinct dates in a million rows: making a
    Python object per row was most of the time of the date columns (4x faster, same values).
    """
    codes, uniques = pd.factorize(values)
    dates = np.empty(len(uniques) + 1, dtype=object)
    dates[:-1] = pd.DatetimeIndex(uniques).date
    dates[-1] = pd.NaT  # code -1: a missing value
    return pd.Series(dates[codes], index=values.index, name=values.name)


def _without_attrs(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with empty ``attrs`` (a shallow copy: the same columns, the caller's frame untouched)."""
    if not df.attrs:
        return df
    out = df.copy(deep=False)
    out.attrs = {}
    return out


BLOCK_ARTICLES = 500  # articles per block of the tables made row by row (KWIC, the row tables)
# Rows per part of a sorted table made part by part (trajectory evidence). Each part takes its
# sentence texts from every stored chunk (its other columns are coded once, frames.ColumnTaker), so
# those takes grow as parts x chunks: at 100k articles (500 chunks), before the coding, parts of 64k
# rows made 200,000 takes, and parts of 256k rows took the job from 14.4 to 10.6 s for about 15 MB
# more at its peak.
BLOCK_ROWS = 256 * 1024


def _article_runs(doc_ids: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Where each run of equal ``doc_ids`` starts (row numbers) and its id: a frame's articles as they come.

    Compared as Arrow arrays, the rows are never copied: the only arrays made are a bitmap and one
    number per run (a per-row code array was 8 bytes a token, 1.5 GB at 100k articles).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(doc_ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64), doc_ids.iloc[:0]
    ids = pa.array(doc_ids)  # an Arrow-backed column as it is, in its chunks (no copy)
    chunks = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    # compared chunk by chunk (comparing two unaligned slices of the column made copies of it)
    starts, firsts, offset, last = [], [], 0, None
    for chunk in chunks:
        k = len(chunk)
        if not k:
            continue
        first = chunk[0].as_py()
        if first != last:
            starts.append(np.array([offset]))
            firsts.append(first)
        if k > 1:
            local = pc.indices_nonzero(pc.not_equal(chunk.slice(1), chunk.slice(0, k - 1))).to_numpy() + 1
            starts.append(local.astype(np.int64) + offset)
            firsts.extend(chunk.take(pa.array(local)).to_pylist())
        last = chunk[k - 1].as_py()
        offset += k
    starts = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    return starts, pd.Series(firsts, dtype=doc_ids.dtype)


def article_blocks(an: Analysis, frames: tuple[str, ...], size: int | None = None) -> Iterator[dict[str, pd.DataFrame]]:
    """``frames`` of the analysis cut into consecutive blocks of about ``size`` articles (default :data:`BLOCK_ARTICLES`).

    Each block holds those articles' rows of every frame (views, not copies). A table made
    row by row from each article's own rows (KWIC lines, the row tables) is the
    concatenation of the blocks' tables, and a table of counts the sum of the blocks'
    counts, so a job holds one block's rows, not the corpus's. The frames must hold each
    article's rows together in corpus order, as :func:`run` makes them; when one does not,
    the whole analysis is one block. There is always at least one block. With article keys
    (``an.block_keys``, a run with a cache) the edges are drawn from them
    (:func:`engine.content_edges`), else every ``size`` articles.
    """
    for _, _, block in _article_block_ranges(an, frames, size):
        yield block


def _block_edges(an: Analysis, size: int | None = None) -> np.ndarray:
    """Where each block of :func:`article_blocks` starts (positions in ``an.docs``)."""
    from .engine import content_edges

    size = BLOCK_ARTICLES if size is None else size
    n = len(an.docs)
    if an.block_keys is not None and len(an.block_keys) == n:
        return np.asarray(content_edges(an.block_keys, size), dtype=np.int64)
    return np.arange(0, n, max(1, size))


def _article_block_ranges(
    an: Analysis, frames: tuple[str, ...], size: int | None = None
) -> Iterator[tuple[int, int, dict[str, pd.DataFrame]]]:
    """:func:`article_blocks` with each block's first and end article position in ``an.docs``."""
    n = len(an.docs)
    edges = _block_edges(an, size)
    whole = {name: getattr(an, name) for name in frames}
    if len(edges) <= 1:
        yield 0, n, whole
        return
    doc_index = pd.Index(an.docs["doc_id"])
    starts: dict[str, np.ndarray] = {}
    for name in frames:
        if name == "docs":
            starts[name] = edges
            continue
        rows, ids = _article_runs(whole[name]["doc_id"])
        pos = doc_index.get_indexer(ids)  # each run's article, as its position in the corpus
        if (pos < 0).any() or (np.diff(pos) <= 0).any():  # not in corpus order, or an article in two runs
            yield 0, n, whole
            return
        starts[name] = np.r_[rows, len(whole[name])][np.searchsorted(pos, edges)]
    for k in range(len(edges)):
        block = {}
        for name, df in whole.items():
            a = int(starts[name][k])
            b = int(starts[name][k + 1]) if k + 1 < len(edges) else len(df)
            block[name] = df.iloc[a:b]
        yield int(edges[k]), int(edges[k + 1]) if k + 1 < len(edges) else n, block


def memo_blocks(
    an: Analysis, what: str, params: str, frames: tuple[str, ...], compute: Callable[[dict[str, pd.DataFrame]], Any]
) -> Iterator[Any]:
    """``compute(block)`` for each block of :func:`article_blocks`, read from ``an.memo`` where it holds it.

    Without a memo every block is computed. With one, a block's result is stored under its
    articles' keys, ``what`` and ``params`` (which must name every parameter ``compute``
    uses), so a rerun computes only the blocks whose articles changed (see
    :class:`engine.BlockMemo`); the frames are cut into blocks only when a block is not in
    the memo. A memo serves only the frames :func:`run` made it for: an analysis with other
    frames or another gazetteer (``dataclasses.replace``) is counted afresh. The results
    are the same either way (tested).
    """
    memo = an.memo
    if memo is None or an.block_keys is None or not memo.serves(an, ("docs", "gazetteer", *frames)):
        for block in article_blocks(an, frames):
            yield compute(block)
        return
    n = len(an.docs)
    edges = [int(e) for e in _block_edges(an)]
    bounds = list(zip(edges, [*edges[1:], n])) if len(edges) > 1 else [(0, n)]
    blocks = None  # the frames cut into blocks, from the first block the memo does not hold
    used: set[str] = set()
    for a, b in bounds:
        key = memo.block_key(what, params, an.block_keys[a:b])
        used.add(key)
        value = memo.get(what, key)
        if value is None:
            if blocks is None:
                blocks = _article_block_ranges(an, frames)
            block = next((blk for a2, b2, blk in blocks if (a2, b2) == (a, b)), None)
            if block is None:  # frames made by run() are in corpus order: cannot happen
                raise RuntimeError(f"{what}: the analysis frames are not in corpus order")
            value = compute(block)
            memo.put(what, key, value)
        yield value
    memo.sweep(what, used)


def _table_job(an: Analysis, job: str, partners: list[str]) -> Iterator[dict[str, pd.DataFrame]]:
    """The tables of one job of :data:`TABLE_JOBS`, in parts: each table is the concatenation of its parts."""
    if job == "frequency":
        yield {"term_frequency": an.frequency(ngram=[1, 2, 3])}
    elif job == "keyness":
        yield {"keyness": an.keyness()}
    elif job == "trajectory":
        traj_all = an.trajectory(partners=partners)
        traj_all["period_start"] = as_dates(traj_all["period_start"])
        events = an.events(partners=partners)
        for c in ("date", "date_earliest", "date_latest"):
            events[c] = as_dates(pd.to_datetime(events[c]))
        yield {"trajectory": traj_all, "events": events}
    elif job == "evidence":
        for part in traj.trajectory_evidence_parts(an.units, an.sentences, an.docs, partners=partners, rows=BLOCK_ROWS):
            yield {"trajectory_evidence": part}
    elif job == "cooccurrence":
        yield {"cooccurrence": an.cooccurrence(), "collocates": an.collocates()}
    elif job == "kwic":
        for lines in memo_blocks(
            an,
            "kwic",
            "width=60",
            ("docs", "sentences", "mentions"),
            lambda b: act.kwic(b["mentions"], b["sentences"], b["docs"], width=60),
        ):
            yield {"kwic": lines}
    elif job == "actors":
        yield {
            "actor_counts": an.actor_counts(),
            "alias_hits": act.alias_hits(an.mentions, an.gazetteer),
            "unmatched_names": an.unmatched_names(),
        }
    elif job == "rows":
        sizes = an.doc_sizes
        for b in article_blocks(an, ("docs", "cleaning", "sentences", "mentions", "cue_hits")):
            docs = b["docs"].assign(
                n_chars_clean=b["docs"]["text"].str.len(),
                n_sentences=b["docs"]["doc_id"].map(b["sentences"].groupby("doc_id").size()).fillna(0).astype(int),
                n_tokens=b["docs"]["doc_id"].map(sizes).astype(int),
                date_earliest=as_dates(b["docs"]["date_earliest"]),
                date_latest=as_dates(b["docs"]["date_latest"]),
            )
            mentions = b["mentions"].copy()
            for c in ("date_earliest", "date_latest", "date_point"):
                mentions[c] = as_dates(mentions[c])
            tables = {
                "documents": docs,
                "cleaning": b["cleaning"],
                "sentences": b["sentences"],
                "mentions": mentions,
                "cue_hits": b["cue_hits"],
            }
            # the per-article frames' attrs say which run stored them in the cache (corpus_dir, an older
            # corpus_version), and concat keeps them only when all agree: the Parquet files would depend on
            # the cache. Their tables are written without; provenance.json has the versions.
            yield {name: _without_attrs(df) for name, df in tables.items()}
    else:
        raise ValueError(f"unknown table job {job!r}")


def _job_output(
    an: Analysis, job: str, partners: list[str], folder: Path | None
) -> tuple[dict[str, pd.DataFrame], float, float]:
    """One job's tables in dictionary column order, written into ``folder`` (then not returned) when given.

    Written part by part as the job makes them (see :class:`TableWriter`); without a
    folder the parts are joined. Returns the tables, the seconds computing them and the
    seconds writing them.
    """
    compute = write = 0.0
    writers: dict[str, TableWriter] = {}
    parts: dict[str, list[pd.DataFrame]] = {}
    t = time.perf_counter()
    for tables in _table_job(an, job, partners):
        t_write = time.perf_counter()
        compute += t_write - t
        for name, df in tables.items():
            df = df[list(TABLES[name][1])]
            if folder is None:
                parts.setdefault(name, []).append(df)
            else:
                if name not in writers:
                    writers[name] = TableWriter(folder, name)
                writers[name].write(df)
        t = time.perf_counter()
        write += t - t_write
    for w in writers.values():
        w.close()
    write += time.perf_counter() - t
    out = {name: dfs[0] if len(dfs) == 1 else pd.concat(dfs, ignore_index=True) for name, dfs in parts.items()}
    return out, compute, write


_FORKED: Analysis | None = None  # the analysis a forked table worker inherits (never pickled)


def _forked_job(job: str, partners: list[str], folder: Path | None) -> tuple[dict[str, pd.DataFrame], float, float]:
    assert _FORKED is not None
    return _job_output(_FORKED, job, partners, folder)


@_FrozenHeap()
def _run_table_jobs(
    an: Analysis,
    workers: int | None,
    timings: dict[str, float] | None,
    folder: Path | None,
    progress: bool | None = False,
) -> dict[str, pd.DataFrame]:
    """Run every job of :data:`TABLE_JOBS` (on forked workers for large corpora); see :func:`analysis_tables`.

    With ``progress`` (as :func:`progress.progress_enabled` takes it), a bar counts the jobs
    done: at 100k articles they take about 40 s after the articles' bar has finished.
    """
    global _FORKED
    import multiprocessing as mp

    from .progress import Progress, progress_enabled

    partners = an.partners()
    workers = int(workers) if workers is not None else (os.cpu_count() or 1)
    parallel = workers > 1 and len(an.docs) >= PARALLEL_TABLES_MIN_DOCS and "fork" in mp.get_all_start_methods()
    if parallel:
        workers = table_workers(an, workers)
        parallel = workers > 1
    out: dict[str, pd.DataFrame] = {}
    seconds: dict[str, float] = {}
    show = progress_enabled(progress)
    bar = Progress(0, False)  # replaced by the bar once the workers exist (none of its threads is forked)

    def done(job: str, result: tuple[dict[str, pd.DataFrame], float, float]) -> None:
        tables, seconds[job], write_s = result
        seconds["write"] = seconds.get("write", 0.0) + write_s
        out.update(tables)
        bar.update(1)

    if parallel:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        _FORKED = an
        lost = []
        try:
            heavy = [j for j in TABLE_JOBS if j != "rows"]
            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
                job_of = {pool.submit(_forked_job, j, partners, folder): j for j in heavy}
                bar = Progress(len(TABLE_JOBS), show, desc="tables", unit="job", every=True)
                done("rows", _job_output(an, "rows", partners, folder))  # cheap: here, while the workers run
                for fut in as_completed(job_of):  # as they finish, for the bar
                    try:
                        done(job_of[fut], fut.result())
                    except BrokenProcessPool:  # a worker was killed (out of memory): its jobs are lost
                        lost.append(job_of[fut])
        finally:
            _FORKED = None
            bar.close()
        lost.sort(key=list(TABLE_JOBS).index)
        if lost:
            warnings.warn(
                f"a table worker stopped (out of memory?); running {', '.join(lost)} in this process instead",
                RuntimeWarning,
                stacklevel=3,
            )
            for j in lost:  # each job rewrites its files whole
                done(j, _job_output(an, j, partners, folder))
    else:
        bar = Progress(len(TABLE_JOBS), show, desc="tables", unit="job", every=True)
        try:
            for j in TABLE_JOBS:
                done(j, _job_output(an, j, partners, folder))
                release_memory()
        finally:
            bar.close()
    if folder is None:
        seconds.pop("write", None)
    if timings is not None:
        for j, v in seconds.items():
            timings[j] = timings.get(j, 0.0) + v
    return {name: out[name] for name in TABLES if name in out}


def analysis_tables(
    an: Analysis, workers: int | None = None, timings: dict[str, float] | None = None, progress: bool | None = False
) -> dict[str, pd.DataFrame]:
    """Every table of :data:`TABLES`, computed from one analysis, columns in dictionary order.

    The jobs of :data:`TABLE_JOBS` are independent: for a corpus of at least
    :data:`PARALLEL_TABLES_MIN_DOCS` articles they run on ``workers`` forked processes
    (default: every core; they inherit the analysis, nothing large is copied to them),
    otherwise one after the other. The tables are the same either way (tested). With
    ``timings``, the seconds each job took are added to it (used by the benchmarks).
    ``progress`` shows a bar over the jobs (see :func:`progress.progress_enabled`).
    """
    return _run_table_jobs(an, workers, timings, None, progress)


def analysis_tables_write(
    an: Analysis,
    folder: str | os.PathLike[str],
    workers: int | None = None,
    timings: dict[str, float] | None = None,
    progress: bool | None = False,
) -> list[str]:
    """Write every table of :func:`analysis_tables` into an existing ``folder``; return their names.

    Each job writes its own tables (see :func:`write_tables`) as soon as it has them, in
    the process that computed them: the tables never travel between processes and no
    process holds all of them, which keeps memory down on large corpora. The files are
    the same as writing the result of :func:`analysis_tables` (tested). ``timings`` also
    gets ``write``: the seconds spent writing, summed over the jobs; ``progress`` shows a bar
    over the jobs.
    """
    _run_table_jobs(an, workers, timings, Path(folder), progress)
    return list(TABLES)


# a rerun into an existing output folder first has the old files written to disk and dropped from the page cache,
# in a thread while the analysis runs (see analyse_to_dir)
OUTPUT_EVICT = True
OUTPUT_EVICT_WAIT = 2.0  # seconds the tables wait for it at most; on a slower disk it goes on while they are written


def analyse_to_dir(
    corpus_dir: str, out_dir: str, gazetteer: str | None = None, lexicon: str | None = None, window: int = 10, **run_kw
) -> list[str]:
    """Run the analysis and write every table as CSV (and Parquet) plus ``provenance.json``.

    Written into a temporary sibling folder first and renamed over ``out_dir`` at the
    end: a failure leaves the previous output untouched and nothing half-written.
    ``run_kw`` (engine, workers, scheduler, cache_dir, progress, skip_invalid, stats) go to :func:`run`.

    While the analysis runs, a thread writes the previous output's files to disk and drops
    their pages from the page cache (:data:`OUTPUT_EVICT`; the tables wait for it at most
    :data:`OUTPUT_EVICT_WAIT` seconds); their bytes do not change. The
    new files then take memory the system has just freed: on a virtual machine that hands
    free memory back to its host, fresh memory costs about 1 s of kernel time per 400 MB
    written, and the output of 10k articles is 544 MB. Adding one article to 10k through the
    command took 3.1 instead of 3.5 s with 35 s between commands (as an analyst runs them;
    medians of 8 and 7, alternated) and 3.0 instead of 3.2 s back to back (13 and 14).
    """
    out = Path(out_dir)
    evict = None
    if OUTPUT_EVICT and hasattr(os, "posix_fadvise") and out.is_dir():  # Linux's: elsewhere nothing to drop
        from .engine import _flush_files

        with contextlib.suppress(OSError):  # a folder that cannot be listed is not evicted
            files = [p for p in out.iterdir() if p.is_file()]
            evict = threading.Thread(target=_flush_files, args=(files, True), name="evict-old-output", daemon=True)
            evict.start()
    an = run(corpus_dir, gazetteer, lexicon, window, **run_kw)
    if evict is not None:
        evict.join(OUTPUT_EVICT_WAIT)
    if out.exists() and not out.is_dir():
        raise InputError(
            [Problem(str(out), "the output path exists and is not a folder", "give a folder path")], "output"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        written = analysis_tables_write(an, tmp, workers=run_kw.get("workers"), progress=run_kw.get("progress", False))
        (tmp / "provenance.json").write_text(json.dumps(an.provenance, indent=2) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(data_dictionary_markdown(), encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            if old.exists():
                shutil.rmtree(old)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


# rows per Parquet row group (pyarrow writes 1M by default); a TableWriter holds at most that many
PARQUET_ROW_GROUP = 64 * 1024


class TableWriter:
    """One table written as ``<name>.csv`` and ``<name>.parquet`` part by part, as if written whole.

    Parts (DataFrames with the same columns, in order) go to pyarrow's CSV writer as they
    come and to Parquet in row groups of :data:`PARQUET_ROW_GROUP` rows, so the writer holds
    at most one row group; the files are the bytes :func:`write_tables` writes for the parts
    joined (tested). A column that is all missing in the first parts (Arrow type null) takes
    its type and pandas metadata from the first part that has a value, as the joined table would;
    the parts before it wait in memory until then.
    """

    def __init__(self, folder: str | os.PathLike[str], name: str) -> None:
        self.folder, self.name = Path(folder), name
        self.waiting: list = []  # Arrow tables before every column's type is known
        self.buffer: list = []  # Arrow tables not yet in a Parquet row group
        self.buffered = 0
        self.groups = 0  # Parquet row groups written
        self.schema = None
        self.csv = self.parquet = None

    def write(self, df: pd.DataFrame) -> None:
        """Add the next rows of the table."""
        import pyarrow as pa

        # one thread: with more, pyarrow starts a thread pool for every part (0.28 of the 1.57 s that writing the
        # row tables took in a +1 run at 10k)
        table = pa.Table.from_pandas(df, preserve_index=False, nthreads=1)
        if self.schema is not None:
            self._put(table)
            return
        self.waiting.append(table)
        if not any(pa.types.is_null(f.type) for f in table.schema):
            self._open()

    def close(self) -> None:
        """Write what is left (an empty table when nothing was written) and close both files."""
        import pyarrow as pa

        if self.schema is None:
            if not self.waiting:
                raise ValueError(f"table {self.name!r}: nothing written (write at least an empty frame)")
            self._open()
        assert self.parquet is not None and self.csv is not None
        rest = pa.concat_tables(self.buffer) if self.buffer else self.schema.empty_table()
        if len(rest) or self.groups == 0:  # an empty table is one empty row group
            self._group(rest)
        self.csv.close()
        self.parquet.close()

    def _open(self) -> None:
        """Fix the schema from the waiting tables, open both files and write those tables."""
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        first = self.waiting[0]
        fields, source = [], []
        for i in range(len(first.schema)):
            typed = next((t for t in self.waiting if not pa.types.is_null(t.schema.field(i).type)), first)
            fields.append(typed.schema.field(i))
            source.append(typed)
        meta = dict(first.schema.metadata or {})
        if b"pandas" in meta:  # each column's pandas metadata from the part its type came from
            pandas_meta = json.loads(meta[b"pandas"])
            columns_of = {id(t): json.loads(t.schema.metadata[b"pandas"])["columns"] for t in source}
            pandas_meta["columns"] = [columns_of[id(t)][i] for i, t in enumerate(source)]
            meta[b"pandas"] = json.dumps(pandas_meta).encode()
        self.schema = pa.schema(fields, metadata=meta)
        self.csv = pacsv.CSVWriter(self.folder / f"{self.name}.csv", self.schema)
        self.parquet = pq.ParquetWriter(self.folder / f"{self.name}.parquet", self.schema)
        waiting, self.waiting = self.waiting, []
        for table in waiting:
            self._put(table)

    def _put(self, table) -> None:
        """Write one part: to the CSV now, to Parquet once a row group is full."""
        import pyarrow as pa

        assert self.csv is not None and self.parquet is not None
        if table.schema != self.schema:
            table = table.cast(self.schema)
        self.csv.write_table(table)
        self.buffer.append(table)
        self.buffered += len(table)
        if self.buffered < PARQUET_ROW_GROUP:
            return
        rows = pa.concat_tables(self.buffer)
        start = 0
        while len(rows) - start >= PARQUET_ROW_GROUP:
            self._group(rows.slice(start, PARQUET_ROW_GROUP))
            start += PARQUET_ROW_GROUP
        rest = rows.slice(start)
        self.buffer, self.buffered = ([rest], len(rest)) if len(rest) else ([], 0)

    def _group(self, rows) -> None:
        """Write ``rows`` as one Parquet row group, joined into one chunk first.

        Parquet pages, and so the file's bytes, follow the chunks: joined, they are the
        bytes ``write_table`` gives for the whole table joined.
        """
        assert self.parquet is not None
        self.parquet.write_table(rows.combine_chunks(), PARQUET_ROW_GROUP)
        self.groups += 1


def write_tables(tables: dict[str, pd.DataFrame], folder: str | os.PathLike[str]) -> None:
    """Write each table as ``<name>.csv`` and ``<name>.parquet`` into an existing folder.

    Both come from one Arrow table (pyarrow's C++ writers, about 10x faster than
    ``DataFrame.to_csv`` on the large tables). The CSV is RFC 4180 with a header: text
    quoted, booleans ``true``/``false``, dates ``YYYY-MM-DD``, an empty field for a
    missing value. Tables made part by part use :class:`TableWriter`, which writes the same files.
    """
    for name, df in tables.items():
        writer = TableWriter(folder, name)
        writer.write(df)
        writer.close()


def data_dictionary_markdown() -> str:
    """The data dictionary of every table, as Markdown."""
    lines = [
        "# Tables written by `mali-partners analyse`",
        "",
        "Each table is written twice: `<name>.parquet` (typed) and `<name>.csv` (RFC 4180 with a header:",
        "text quoted, booleans `true`/`false`, dates `YYYY-MM-DD`, an empty field for a missing value).",
        "",
    ]
    for name, (desc, cols) in TABLES.items():
        lines += [f"## {name}.csv", "", desc, "", "| column | meaning |", "|---|---|"]
        lines += [f"| `{c}` | {m} |" for c, m in cols.items()]
        lines.append("")
    return "\n".join(lines)


def corpus_info(corpus_dir: str = "seeds") -> dict[str, str]:
    """What ``mali-partners info`` prints: articles, sentences, tokens, date range, versions."""
    docs = corpus_load(corpus_dir)  # reads and validates the folder once
    root = docs.attrs["corpus_dir"]
    docs, _ = corpus_clean(docs)
    sentences = corpus_sentences(docs)
    tokens = sentences_tokens(sentences)
    return {
        "corpus": root,
        "articles": str(len(docs)),
        "sentences": str(len(sentences)),
        "tokens": str(len(tokens)),
        "published": f"{docs['date_earliest'].min().date()} to {docs['date_latest'].max().date()}",
        "sources": str(docs["source"].nunique()),
        "corpus version": docs.attrs["corpus_version"],
        "code version": code_version(),
    }
