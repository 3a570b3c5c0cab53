"""Term frequency, TF-IDF, dispersion and keyness.

Terms are built per sentence from the token table: multiword actor names from the
gazetteer are joined into one term by NLTK's ``MWETokenizer`` ("european union",
"russian federation"), stopwords are dropped, and n-grams are runs of adjacent
remaining terms inside one sentence. Rates are per 1,000 word tokens (all tokens,
stopwords included), so they compare across corpora of any size.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import stats
from ._nltk import MWETokenizer, SnowballStemmer, Trie
from .errors import InputError, Problem
from .frames import STR, sorted_unique, str_array
from .gazetteer import Gazetteer
from .text import is_stop, normalise_token, stopwords, word_tokenizer

MWE_SEP = " "


_MWE_CACHE: dict[str, MWETokenizer] = {}


def mwe_tokenizer(gaz: Gazetteer) -> MWETokenizer:
    """An NLTK ``MWETokenizer`` holding every multiword alias of the gazetteer, lower-cased (built once per gazetteer)."""
    if gaz.sha in _MWE_CACHE:
        return _MWE_CACHE[gaz.sha]
    _MWE_CACHE[gaz.sha] = _mwe_build(gaz)
    return _MWE_CACHE[gaz.sha]


def _mwe_build(gaz: Gazetteer) -> MWETokenizer:
    tok = word_tokenizer()
    mwes = set()
    for actor in gaz.actors.values():
        for al in actor.aliases:
            parts = tuple(normalise_token(t) for t in tok.tokenize(al.alias))
            if len(parts) > 1:
                mwes.add(parts)
    return MWETokenizer(sorted(mwes), separator=MWE_SEP)


def tokens_terms(tokens: pd.DataFrame, gaz: Gazetteer | None = None, stem: bool = False) -> pd.DataFrame:
    """One row per term occurrence: doc_id, sentence_id, position (order in the sentence), term, surface.

    Multiword actor names are merged (when ``gaz`` is given), stopwords and tokens with
    no letter removed; ``stem=True`` replaces each term by its Snowball stem and keeps
    the surface form it came from.
    """
    mwe = mwe_tokenizer(gaz) if gaz is not None else None
    if stem or not len(tokens) or tokens["doc_id"].dtype != STR:
        return _tokens_terms_loop(tokens, mwe, stem)
    return _tokens_terms_columns(tokens, mwe)


def _tokens_terms_loop(tokens: pd.DataFrame, mwe: MWETokenizer | None, stem: bool) -> pd.DataFrame:
    """:func:`tokens_terms` sentence by sentence in Python (stems, and frames of other shapes)."""
    stops = stopwords()
    stemmer = SnowballStemmer("english") if stem else None
    rows = []
    by_sentence: dict[tuple[str, int], list[str]] = {}
    for doc_id, sid, norm in zip(tokens["doc_id"].tolist(), tokens["sentence_id"].tolist(), tokens["norm"].tolist()):
        by_sentence.setdefault((doc_id, sid), []).append(norm)
    for (doc_id, sid), norms in by_sentence.items():  # corpus order: articles as given, then sentences
        merged = mwe.tokenize(norms) if mwe is not None else norms
        pos = 0
        for term in merged:
            if is_stop(term, stops):
                continue
            surface = term
            if stemmer is not None and MWE_SEP not in term:
                term = stemmer.stem(term)
            rows.append((doc_id, sid, pos, term, surface))
            pos += 1
    return pd.DataFrame(rows, columns=["doc_id", "sentence_id", "position", "term", "surface"])


def _tokens_terms_columns(tokens: pd.DataFrame, mwe: MWETokenizer | None) -> pd.DataFrame:
    """:func:`tokens_terms` without stems, column by column: the same rows as :func:`_tokens_terms_loop`.

    Multiword names are merged as ``MWETokenizer.tokenize`` merges them (left to right,
    the longest name starting at a word, never across sentences), but only at the words
    that start a name; the other terms are the tokens that are not stopwords, a filter
    over whole columns (each distinct token tested once).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    stops = stopwords()
    sent = tokens.groupby(["doc_id", "sentence_id"], sort=False).ngroup().to_numpy()  # in order of first token
    order = np.argsort(sent, kind="stable") if (np.diff(sent) < 0).any() else np.arange(len(sent))
    sent = sent[order]
    coded = pc.dictionary_encode(pa.array(tokens["norm"]).take(pa.array(order)))
    if isinstance(coded, pa.ChunkedArray):
        coded = coded.combine_chunks()
    words = coded.dictionary.to_pylist()
    code = coded.indices.to_numpy().astype(np.int64)
    keep = np.array([not is_stop(w, stops) for w in words], dtype=bool)[code]
    if mwe is not None:
        trie, n = mwe._mwes, len(code)
        sent_of, word_of = sent.tolist(), code.tolist()
        until = 0  # tokens before this one are inside a merged name
        merged: list[str] = []
        for i in np.flatnonzero(np.array([w in trie for w in words], dtype=bool)[code]).tolist():
            if i < until:
                continue
            node, j, last = trie, i, -1
            while j < n and sent_of[j] == sent_of[i] and words[word_of[j]] in node:
                node = node[words[word_of[j]]]
                j += 1
                if Trie.LEAF in node:
                    last = j
            if last < 0:
                continue
            term = mwe._separator.join(words[w] for w in word_of[i:last])
            code[i] = len(words) + len(merged)  # a new entry of the vocabulary
            merged.append(term)
            keep[i] = not is_stop(term, stops)
            keep[i + 1 : last] = False
            until = last
        words = words + merged
    kept = np.flatnonzero(keep)
    term = pa.array(words, type=pa.large_string()).take(pa.array(code[kept]))
    term_sent = sent[kept]
    new_sentence = np.r_[True, np.diff(term_sent) != 0]
    idx = np.arange(len(term_sent))
    position = idx - np.maximum.accumulate(np.where(new_sentence, idx, 0))
    rows = order[kept]
    return pd.DataFrame(
        {
            "doc_id": str_array(pa.array(tokens["doc_id"]).take(pa.array(rows))),
            "sentence_id": tokens["sentence_id"].to_numpy(dtype=np.int64)[rows],
            "position": position.astype(np.int64),
            "term": str_array(term),
            "surface": str_array(term),
        },
        copy=False,
    )


CORPUS_TERM_COLUMNS = ("doc_id", "sentence_id", "position", "term")


def terms_compact(terms: pd.DataFrame) -> pd.DataFrame:
    """The term columns the corpus-level steps read (:data:`CORPUS_TERM_COLUMNS`), numbers as int32.

    Without stemming ``surface`` repeats ``term``; dropping it and narrowing the numbers
    takes about 40% off the second largest per-article frame (memory and cache).
    """
    out = terms[list(CORPUS_TERM_COLUMNS)].astype({"sentence_id": "int32", "position": "int32"})
    out.attrs.update(terms.attrs)
    return out


def juilland_d(freqs: np.ndarray, sizes: np.ndarray) -> float:
    """Juilland's D over parts of unequal size: 1 - (sd / mean of relative frequencies) / sqrt(parts - 1).

    1 means the term is spread evenly across articles, 0 that it sits in one.

    >>> juilland_d(np.array([5, 5]), np.array([100, 100]))
    1.0
    >>> juilland_d(np.array([10, 0]), np.array([100, 100]))
    0.0
    """
    k = len(freqs)
    if k < 2:
        return float("nan")
    p = freqs / sizes
    mean = p.mean()
    if mean == 0:
        return float("nan")
    v = p.std(ddof=0) / mean
    return float(max(0.0, 1 - v / math.sqrt(k - 1)))


_PACKED_KEY_LIMIT = 2**63  # (n-gram, article) pairs packed into one int64 below this; else a two-key sort


def textstat_frequency(
    terms: pd.DataFrame,
    doc_sizes: pd.Series,
    ngram: int | list[int] = 1,
    stem_surfaces: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Corpus-level frequency table, one row per term and n-gram size.

    Columns: term, ngram, n (occurrences), per_1000 (per 1,000 word tokens of the
    corpus), doc_freq (articles containing it), idf (ln(N / doc_freq)), tfidf (sum over
    articles of count x idf), juilland_d (dispersion over articles, 1 = even),
    top_doc and top_doc_share (the article that holds most of it, and its share),
    surface (for stems: the most frequent surface form).
    ``doc_sizes`` gives each article's number of word tokens (index doc_id).
    """
    return textstat_frequency_blocks(lambda: iter([terms]), doc_sizes, ngram, stem_surfaces)


Blocks = Callable[[], Iterable[pd.DataFrame]]  # a fresh iterator over consecutive parts of a table, each call


def _vocabulary(blocks: Blocks) -> list[str]:
    """Every distinct term, in order of first occurrence (``pd.factorize``'s order over the whole table)."""
    seen: dict[str, int] = {}
    for t in blocks():
        for term in pd.unique(t["term"]).tolist():
            seen.setdefault(str(term), len(seen))
    return list(seen)


def _codes_in(values: pd.Series, vocab: pd.Index) -> np.ndarray:
    """Each value's position in ``vocab`` (which holds them all): each distinct value looked up once."""
    codes, uniques = pd.factorize(values)
    return vocab.get_indexer(uniques)[codes]


@dataclass
class BlockTerms:
    """One block's n-gram counts in the block's own codes: what the corpus table sums, stored by a run's memo.

    ``vocab`` holds the block's distinct terms sorted, ``doc_ids`` its articles with terms
    in order, and ``pairs`` maps n to ``(key, doc, count)``: every distinct (n-gram,
    article), its count, sorted by key then article. ``key`` is the n-gram's term codes
    (in ``vocab``, first word most significant) as one integer, ``doc`` a position in
    ``doc_ids``. Codes in a sorted vocabulary keep their order in any larger sorted
    vocabulary, so the pairs stay sorted when recoded for the corpus (:func:`_corpus_pairs`).
    """

    vocab: np.ndarray
    doc_ids: np.ndarray
    pairs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]


def block_terms(t: pd.DataFrame, ngrams: list[int]) -> BlockTerms:
    """The :class:`BlockTerms` of these whole articles' term rows; n-grams are runs of adjacent terms in one sentence."""
    t = t.reset_index(drop=True)
    vocab_list = sorted(str(term) for term in pd.unique(t["term"]).tolist())
    v_size = max(len(vocab_list), 1)
    codes = _codes_in(t["term"], pd.Index(vocab_list, dtype=object))
    # narrow integers where they fit (a few int64 arrays of one value per term are most of this job's memory)
    codes = codes.astype(np.int32 if v_size < 2**31 else np.int64)
    doc_all, doc_ids = pd.factorize(t["doc_id"])  # each article's code, in order of first row
    n_docs = len(doc_ids)
    doc_all = doc_all.astype(np.int32 if n_docs < 2**31 else np.int64)
    sent_all = t["sentence_id"].to_numpy()
    # same_next[i]: term i + 1 is in the same sentence as term i (n-grams are runs inside one sentence)
    same_next = (doc_all[1:] == doc_all[:-1]) & (sent_all[1:] == sent_all[:-1])
    del sent_all
    out = {}
    for n in ngrams:
        m = len(t) - n + 1
        if m <= 0:
            continue
        key = codes[:m].astype(np.int64)
        for k in range(1, n):  # the n-gram's word codes as one integer, built in place
            key *= v_size
            key += codes[k : k + m]
        d_code = doc_all[:m]
        if n > 1:  # runs of n adjacent terms inside one sentence
            ok = same_next[:m].copy()
            for k in range(1, n - 1):
                ok &= same_next[k : k + m]
            key, d_code = key[ok], d_code[ok]
            del ok
        if not len(key):
            continue
        # sparse (n-gram, article) counts: a dense terms x articles matrix does not fit at 10k articles
        if v_size**n * max(n_docs, 1) < _PACKED_KEY_LIMIT:  # one integer key per (n-gram, article): a plain sort
            key *= n_docs  # (key is this loop's own array: in place)
            key += d_code
            key.sort()
            d_code = key % n_docs
            key //= n_docs
        else:
            order = np.lexsort((d_code, key))
            key, d_code = key[order], d_code[order]
        starts = np.flatnonzero(np.r_[True, (key[1:] != key[:-1]) | (d_code[1:] != d_code[:-1])])
        # articles and counts as 32-bit integers: half the bytes a memo stores and reads back
        out[n] = (key[starts], d_code[starts].astype(np.int32), np.diff(np.r_[starts, len(key)]).astype(np.int32))
    return BlockTerms(np.array(vocab_list, dtype=object), np.asarray(doc_ids, dtype=object), out)


def _corpus_pairs(
    bt: BlockTerms, vocab: pd.Index, v_size: int, doc_index: pd.Index
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A block's pairs recoded for the corpus: keys over ``vocab`` (sorted, size ``v_size``), articles as positions in
    ``doc_index``; sorted by key, then article, as the block's were (re-sorted only if its articles are out of order).
    """
    code = vocab.get_indexer(bt.vocab).astype(np.int64)  # increasing: both vocabularies are sorted
    doc_pos = doc_index.get_indexer(bt.doc_ids)
    doc_pos = doc_pos.astype(np.int32 if len(doc_index) < 2**31 else np.int64)
    in_order = len(doc_pos) < 2 or bool((np.diff(doc_pos) > 0).all())
    b_size = max(len(bt.vocab), 1)
    out = {}
    for n, (key, doc, count) in bt.pairs.items():
        rest, corpus_key, weight = key, np.zeros(len(key), dtype=np.int64), 1
        for _ in range(n):  # last word first
            rest, c = np.divmod(rest, b_size)
            corpus_key += code[c] * weight
            weight *= v_size
        d = doc_pos[doc]
        if not in_order:
            order = np.lexsort((d, corpus_key))
            corpus_key, d, count = corpus_key[order], d[order], count[order]
        out[n] = (corpus_key, d, count)
    return out


def _taken(items: list) -> Iterator:
    """The items of ``items`` in order, each dropped from the list as it is given (its memory freed once used)."""
    items.reverse()
    while items:
        yield items.pop()


def _merged_keys(parts: list[np.ndarray]) -> list[np.ndarray]:
    """``parts`` (sorted distinct keys) with the parts merged into one once there are eight."""
    return [sorted_unique(np.concatenate(parts))[0]] if len(parts) >= 8 else parts


# recoded (n-gram, article) pairs the frequency passes keep instead of recomputing: at most PAIRS_KEEP_BYTES,
# and at most 1 / PAIRS_KEEP_SHARE of the memory available when one is given (at 100k articles the pairs take
# 1 GB: kept, the job took 5.8 to 7.2 s instead of 12.4 to 13.5 s, its process 1.2 GB more, measured)
PAIRS_KEEP_BYTES = 2 << 30
PAIRS_KEEP_SHARE = 8


def textstat_frequency_blocks(
    blocks: Blocks,
    doc_sizes: pd.Series,
    ngram: int | list[int] = 1,
    stem_surfaces: pd.DataFrame | None = None,
    available: int | None = None,
) -> pd.DataFrame:
    """:func:`textstat_frequency` of a term table given in consecutive parts of whole articles.

    ``blocks()`` gives the parts, afresh at each call (called once when they are
    :class:`BlockTerms` that fit in the budget, twice for term rows that do, up to four
    times beyond it; the budget is :data:`PAIRS_KEEP_BYTES`, and at most
    1 / :data:`PAIRS_KEEP_SHARE` of ``available``, the bytes of memory free, when given), as term
    rows or as their :class:`BlockTerms` (which a run's memo stores); no
    n-gram spans two articles, so each part's (n-gram, article) counts are its own and
    the corpus's sums are made in article order: every float sum adds the same numbers
    in the same order as over the whole table, so the table is the same, bit for bit,
    however the articles are cut (tested). Memory: one part's arrays plus one row per
    distinct n-gram, instead of several arrays of one value per term.
    """
    ngrams = [ngram] if isinstance(ngram, int) else list(ngram)
    for n in ngrams:
        if n < 1:
            raise ValueError("n must be at least 1")
    budget = PAIRS_KEEP_BYTES if available is None else min(PAIRS_KEEP_BYTES, available // PAIRS_KEEP_SHARE)

    # every block's recoded pairs, kept for the later passes when they all fit in the budget (at 10k
    # articles: a +1 run recoded and re-read every block three times), else none (at 100k the first tenth
    # of the blocks was kept: 260 MB more in the worker and no time saved, measured); from pass 2 on their
    # keys are replaced by their rows in the accumulators (each key looked up once)
    kept: list[dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]] | None = []  # None: not keeping
    all_kept = False  # a pass saw every block and kept it: the later passes need not read the blocks
    # the stored blocks the vocabulary pass read, when all of them fit in the budget: the first
    # recoding pass takes them instead of reading every block's memo again
    held: list[BlockTerms] | None = []

    def block_pairs() -> Iterator[dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
        nonlocal kept, all_kept, held
        if all_kept:
            assert kept is not None
            yield from kept
            return
        source = _taken(held) if held else blocks()
        held = None
        room = budget
        for b in source:
            pairs = _corpus_pairs(b if isinstance(b, BlockTerms) else block_terms(b, ngrams), vocab, v_size, doc_index)
            if kept is not None:
                room -= sum(a.nbytes for arrays in pairs.values() for a in arrays)
                if room >= 0:
                    kept.append(pairs)
                else:
                    kept = None  # they do not all fit: none is kept
            yield pairs
        all_kept = kept is not None

    sizes = doc_sizes.astype(float)
    n_tokens = float(sizes.sum())
    n_docs = len(sizes)
    size_arr = sizes.to_numpy()
    doc_index = pd.Index(sizes.index)
    # every distinct term, sorted: the term codes of a block keep their order (see BlockTerms)
    seen: set[str] = set()
    stored = 0  # bytes of the stored blocks' pairs: what their recoded pairs take (the same three arrays)
    for b in blocks():
        if isinstance(b, BlockTerms):
            seen.update(b.vocab.tolist())
            stored += sum(a.nbytes for arrays in b.pairs.values() for a in arrays)
            if held is not None and stored <= budget:
                held.append(b)
            else:
                held = None
        else:  # term rows are cut again, not held
            seen.update(block_terms(b, []).vocab.tolist())
            held = None
    if stored > budget:  # known now: their recoded pairs would not all fit
        kept = None
    vocab_list = sorted(seen)
    del seen
    vocab = pd.Index(vocab_list, dtype=object)
    vocab_arr = np.array(vocab_list, dtype=object)
    v_size = max(len(vocab_list), 1)
    for n in ngrams:
        if v_size**n >= 2**63:
            raise ValueError(f"{v_size:,} distinct terms are too many for {n}-gram keys; use a smaller n")
    # pass 1: every distinct n-gram (its row in the accumulators is its place among the sorted keys)
    found: dict[int, list[np.ndarray]] = {n: [] for n in ngrams}
    for pairs in block_pairs():
        for n, (key, _, _) in pairs.items():
            found[n] = _merged_keys([*found[n], key[np.r_[True, key[1:] != key[:-1]]]])
    keys = {n: sorted_unique(np.concatenate(found[n]))[0] if found[n] else np.zeros(0, np.int64) for n in ngrams}
    del found
    # pass 2: counts, articles, the article holding most, and the sum of relative frequencies (in article order)
    acc = {
        n: {
            "total": np.zeros(len(k), np.int64),
            "dfreq": np.zeros(len(k), np.int64),
            "psum": np.zeros(len(k)),
            "top": np.zeros(len(k), np.int64),
            "top_doc": np.zeros(len(k), np.int64),
        }
        for n, k in keys.items()
    }
    # pass 1 kept every block or none: when every block, their keys become their rows, for both later passes
    if all_kept:
        assert kept is not None
        kept = [
            {n: (np.searchsorted(keys[n], key), doc, count) for n, (key, doc, count) in pairs.items()} for pairs in kept
        ]
    for pairs in block_pairs():
        for n, (key, doc, count) in pairs.items():
            a, row = acc[n], (key if all_kept else np.searchsorted(keys[n], key))
            # int64 counts: add.at takes its fast path only when the values have the accumulator's type
            # (int32 counts into int64 took 40x longer: 0.5 s of a +1 run at 10k articles)
            np.add.at(a["total"], row, count.astype(np.int64))
            np.add.at(a["dfreq"], row, 1)
            np.add.at(a["psum"], row, count / size_arr[doc])  # in the order of the pairs: article order per term
            # the article holding most of each n-gram in this block (its first at the maximum); an earlier
            # block keeps it on a tie, so ties go to the first article of the corpus
            new_term = np.r_[True, key[1:] != key[:-1]]
            first = np.flatnonzero(new_term)
            best = np.maximum.reduceat(count, first)
            term_of = np.cumsum(new_term) - 1
            at_max = np.flatnonzero(count == best[term_of])
            at_max = at_max[np.r_[True, term_of[at_max][1:] != term_of[at_max][:-1]]]
            rows_b, better = row[first], best > a["top"][row[first]]
            a["top"][rows_b[better]] = best[better]
            a["top_doc"][rows_b[better]] = doc[at_max][better]
    # pass 3: Juilland's D needs each term's mean first (two passes, as juilland_d() computes it)
    means = {n: a["psum"] / n_docs for n, a in acc.items()}
    ss = {n: np.zeros(len(k)) for n, k in keys.items()}
    for pairs in block_pairs():
        for n, (key, doc, count) in pairs.items():
            row = key if all_kept else np.searchsorted(keys[n], key)
            np.add.at(ss[n], row, (count / size_arr[doc] - means[n][row]) ** 2)
    frames = []
    for n in ngrams:
        k = len(keys[n])
        if not k:
            continue
        a, mean = acc[n], means[n]
        parts, rest = [], keys[n]
        for _ in range(n):  # the word codes of each n-gram, last word first
            rest, c = np.divmod(rest, v_size)
            parts.append(vocab_arr[c])
        t_names = parts[0] if n == 1 else np.array(["_".join(w) for w in zip(*reversed(parts))], dtype=object)
        total, dfreq = a["total"], a["dfreq"]
        idf = np.log(n_docs / dfreq)
        sq = ss[n] + (n_docs - dfreq) * mean**2
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.sqrt(sq / n_docs) / mean
            d = np.maximum(0.0, 1 - v / np.sqrt(n_docs - 1)) if n_docs > 1 else np.full(k, np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "term": t_names,
                    "ngram": n,
                    "n": total,
                    "per_1000": total / n_tokens * 1000,
                    "doc_freq": dfreq,
                    "idf": idf,
                    "tfidf": total * idf,
                    "juilland_d": d,
                    "top_doc": sizes.index[a["top_doc"]],
                    "top_doc_share": a["top"] / total,
                }
            )
        )
    cols = ["term", "ngram", "n", "per_1000", "doc_freq", "idf", "tfidf", "juilland_d", "top_doc", "top_doc_share"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    out["surface"] = out["term"]
    if stem_surfaces is not None and not out.empty:
        surf = dict(zip(stem_surfaces["term"], stem_surfaces["surface"]))
        out["surface"] = [
            " ".join(surf.get(p, p) for p in t.split("_")) if n > 1 else surf.get(t, t)
            for t, n in zip(out["term"], out["ngram"])
        ]
    return out.sort_values(["n", "doc_freq", "term"], ascending=[False, False, True]).reset_index(drop=True)


def stem_surfaces(terms: pd.DataFrame) -> pd.DataFrame:
    """For stemmed terms: the most frequent surface form behind each stem (ties: alphabetical)."""
    c = terms.groupby(["term", "surface"]).size().reset_index(name="k")
    c = c.sort_values(["term", "k", "surface"], ascending=[True, False, True])
    return c.drop_duplicates("term")[["term", "surface"]]


def textstat_tfidf(terms: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Per-article TF-IDF (raw count x ln(N / doc_freq)); the ``top`` terms of each article.

    Columns: doc_id, term, n, tfidf, rank.
    """
    n_docs = terms["doc_id"].nunique()
    per = terms.groupby(["doc_id", "term"]).size().rename("n").reset_index()
    dfreq = per.groupby("term")["doc_id"].nunique()
    per["tfidf"] = per["n"] * np.log(n_docs / per["term"].map(dfreq))
    per = per.sort_values(["doc_id", "tfidf", "n", "term"], ascending=[True, False, False, True])
    per["rank"] = per.groupby("doc_id").cumcount() + 1
    return per[per["rank"] <= top].reset_index(drop=True)


def textstat_keyness(
    target: pd.DataFrame,
    reference: pd.DataFrame,
    min_freq: int = 3,
    target_label: str = "target",
    reference_label: str = "reference",
) -> pd.DataFrame:
    """Keyness of each term in ``target`` against ``reference`` (two term tables), both directions.

    Columns: term, n_target, n_reference, per_1000_target, per_1000_reference, g2 (Dunning
    log-likelihood), p (chi-squared, 1 df), log_ratio (Hardie; > 0 = more in target),
    key_for (which side the term is key for). Only terms with n_target + n_reference
    >= ``min_freq``. Sorted by signed G2 (target-key terms first).
    """
    _keyness_check(target.empty, reference.empty, min_freq, target_label, reference_label)
    a = Counter(target["term"].tolist())  # a list: iterating an Arrow-backed column is ~10x slower
    b = Counter(reference["term"].tolist())
    terms = sorted(t for t in set(a) | set(b) if a[t] + b[t] >= min_freq)
    fa = np.array([a[t] for t in terms], dtype=float)
    fb = np.array([b[t] for t in terms], dtype=float)
    return _keyness_table(terms, fa, fb, sum(a.values()), sum(b.values()), target_label, reference_label)


def _keyness_check(no_target: bool, no_reference: bool, min_freq: int, target_label: str, reference_label: str) -> None:
    """Raise :class:`InputError` with every problem of a keyness request (empty sides, bad ``min_freq``)."""
    problems = []
    if no_target:
        problems.append(
            Problem(target_label, "the target sub-corpus has no terms", "choose a target with at least one sentence")
        )
    if no_reference:
        problems.append(
            Problem(
                reference_label,
                "the reference sub-corpus has no terms",
                "choose a reference with at least one sentence",
            )
        )
    if min_freq < 1:
        problems.append(Problem("keyness", f"min_freq must be at least 1, not {min_freq}", "use min_freq >= 1"))
    if problems:
        raise InputError(problems, "keyness request")


def _keyness_table(
    terms: list[str], fa: np.ndarray, fb: np.ndarray, n1: int, n2: int, target_label: str, reference_label: str
) -> pd.DataFrame:
    """The table of :func:`textstat_keyness` from each term's counts (terms sorted, totals ``n1``, ``n2``)."""
    g = stats.g2(fa, fa + fb, n1, n1 + n2) if terms else np.array([])
    lr = stats.log_ratio(fa, n1, fb, n2) if terms else np.array([])
    out = pd.DataFrame(
        {
            "term": terms,
            "n_target": fa.astype(int),
            "n_reference": fb.astype(int),
            "per_1000_target": fa / n1 * 1000,
            "per_1000_reference": fb / n2 * 1000,
            "g2": g,
            "p": stats.chi2_p(g) if terms else np.array([]),
            "log_ratio": lr,
        }
    )
    out["key_for"] = np.where(out["per_1000_target"] >= out["per_1000_reference"], target_label, reference_label)
    signed = np.where(out["key_for"] == target_label, out["g2"], -out["g2"])
    out = (
        out.assign(_s=signed)
        .sort_values(["_s", "term"], ascending=[False, True])
        .drop(columns="_s")
        .reset_index(drop=True)
    )
    out.attrs.update(
        {"target": target_label, "reference": reference_label, "n_target_terms": n1, "n_reference_terms": n2}
    )
    return out


def actor_sentences(
    mentions: pd.DataFrame, gaz: Gazetteer, actor: str, with_children: bool = True
) -> set[tuple[str, int]]:
    """The (doc_id, sentence_id) keys of the sentences that mention ``actor`` (and its children)."""
    gaz.check_actor(actor)
    family = [actor, *gaz.descendants(actor)] if with_children else [actor]
    m = mentions[["doc_id", "sentence_id", "actor"]]  # selecting rows of every column copied their text
    m = m[m["actor"].isin(family)]
    return set(zip(m["doc_id"].tolist(), m["sentence_id"].tolist()))


def actor_terms(gaz: Gazetteer, actors: list[str]) -> set[str]:
    """The terms that are themselves names of these actors or their children (dropped from keyness)."""
    tok = word_tokenizer()
    names = set()
    for actor in actors:
        for name in [actor, *gaz.descendants(actor)]:
            for al in gaz.actors[name].aliases:
                names.add(MWE_SEP.join(normalise_token(t) for t in tok.tokenize(al.alias)))
    return names


def keyness_actors(
    terms: pd.DataFrame,
    mentions: pd.DataFrame,
    gaz: Gazetteer,
    target: str = "France",
    reference: str = "Russia",
    min_freq: int = 3,
    overlap: str = "exclude",
    drop_actor_terms: bool = True,
) -> pd.DataFrame:
    """Keyness of the sentences mentioning ``target`` against those mentioning ``reference``.

    ``overlap`` says what happens to sentences that mention both: "exclude" (default,
    a cleaner contrast) or "both" (counted on each side). The two actors' own names are
    dropped from the terms unless ``drop_actor_terms`` is False (they would be key by
    construction). The frame's ``attrs`` record the sentence counts on each side.
    """
    tally = keyness_actors_tally(terms, mentions, gaz, target, reference, overlap, drop_actor_terms)
    return keyness_actors_tallied(tally, target, reference, min_freq, overlap)


def keyness_actors_tally(
    terms: pd.DataFrame,
    mentions: pd.DataFrame,
    gaz: Gazetteer,
    target: str = "France",
    reference: str = "Russia",
    overlap: str = "exclude",
    drop_actor_terms: bool = True,
) -> Counter:
    """The counts behind :func:`keyness_actors` in these articles (their term and mention rows).

    Keys: ``("target", term)`` and ``("reference", term)``, the term's occurrences in each
    side's sentences; ``("sentences", "target")`` and ``("sentences", "reference")``, the
    sentences on each side. A sentence belongs to one article, so the tallies of disjoint
    sets of articles add up to the corpus's (see :func:`keyness_actors_tallied`).
    """
    if overlap not in ("exclude", "both"):
        raise InputError(
            [Problem("keyness", f"overlap must be 'exclude' or 'both', not {overlap!r}", "use one of them")],
            "keyness request",
        )
    st, sr = actor_sentences(mentions, gaz, target), actor_sentences(mentions, gaz, reference)
    if overlap == "exclude":
        st, sr = st - sr, sr - st
    tally: Counter = Counter({("sentences", "target"): len(st), ("sentences", "reference"): len(sr)})
    if not st and not sr:
        return tally
    # sentences as integer keys (article code, sentence number): one vectorised membership test per side
    named_docs = pd.Index(sorted({d for d, _ in st | sr}), dtype=object)
    d_code, d_names = pd.factorize(terms["doc_id"])
    named = named_docs.get_indexer(d_names).astype(np.int64)  # -1: an article neither side names
    sid = terms["sentence_id"].to_numpy(dtype=np.int64)
    sides = []
    for sents in (st, sr):
        docs_, sids = zip(*sents) if sents else ((), ())
        sides.append((named_docs.get_indexer(list(docs_)).astype(np.int64), np.array(sids, dtype=np.int64)))
    stride = max([int(sid.max(initial=0))] + [int(s.max(initial=0)) for _, s in sides]) + 1
    g = named[d_code]
    keys = np.where(g >= 0, g * stride + sid, -1)
    del d_code, sid, g
    term_col = terms["term"]
    kept = ~term_col.isin(actor_terms(gaz, [target, reference])).to_numpy() if drop_actor_terms else None
    for label, (code, s) in zip(("target", "reference"), sides):
        hit = np.isin(keys, code * stride + s)
        if kept is not None:
            hit &= kept
        for term, n in term_col[hit].value_counts(sort=False).items():
            tally[(label, str(term))] += int(n)
    return tally


def keyness_actors_tallied(
    tally: Counter, target: str = "France", reference: str = "Russia", min_freq: int = 3, overlap: str = "exclude"
) -> pd.DataFrame:
    """The table of :func:`keyness_actors` from its counts (:func:`keyness_actors_tally`, summed over blocks of articles)."""
    ca: dict[str, int] = {}
    cb: dict[str, int] = {}
    for (side, term), n in tally.items():
        if side == "target":
            ca[term] = n
        elif side == "reference":
            cb[term] = n
    n1, n2 = sum(ca.values()), sum(cb.values())
    _keyness_check(not n1, not n2, min_freq, target, reference)
    chosen = sorted(t for t in ca.keys() | cb.keys() if ca.get(t, 0) + cb.get(t, 0) >= min_freq)
    out = _keyness_table(
        chosen,
        np.array([ca.get(t, 0) for t in chosen], dtype=float),
        np.array([cb.get(t, 0) for t in chosen], dtype=float),
        n1,
        n2,
        target,
        reference,
    )
    out.attrs.update(
        {
            "n_target_sentences": tally.get(("sentences", "target"), 0),
            "n_reference_sentences": tally.get(("sentences", "reference"), 0),
            "overlap": overlap,
        }
    )
    return out
