"""The table jobs' block memo (issue 9, "+1 article"): block edges from article keys, stored block results,
and tables that do not depend on it."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from mali_partners import engine as eng
from mali_partners import frequency as fq
from mali_partners import pipeline as pl

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not of the package
    sys.path.insert(0, str(ROOT))

MEMOIZED = ("cooccurrence", "collocates", "kwic", "keyness", "frequency")
# each job reads its blocks once: frequency keeps them from its vocabulary pass, and their recoded pairs
# for the sums and Juilland's D, when they fit in frequency.PAIRS_KEEP_BYTES (here they do)
GETS_PER_BLOCK = 5


def _key(value: int) -> str:
    """An article key whose first 15 hex digits are ``value`` (what content_edges reads)."""
    return f"{value:015x}" + "0" * 49


def test_content_edges_by_hand():
    # size 3: the keys 3, 6 and 9 (positions 1, 3, 5) start blocks, besides the first article
    assert eng.content_edges([_key(v) for v in (5, 3, 7, 6, 1, 9, 2, 2, 2)], 3) == [0, 1, 3, 5]
    # no multiple of 2: a block is cut when it reaches 4 x 2 articles
    assert eng.content_edges([_key(2 * i + 1) for i in range(20)], 2) == [0, 8, 16]
    assert eng.content_edges([_key(7)] * 3, 1) == [0, 1, 2]
    assert eng.content_edges([], 5) == []


def test_content_edges_move_only_around_an_inserted_article():
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(600)]

    def blocks(ks: list[str]) -> set[tuple[str, ...]]:
        edges = [*eng.content_edges(ks, 10), len(ks)]
        return {tuple(ks[a:b]) for a, b in zip(edges, edges[1:])}

    old = blocks(keys)
    new_key = hashlib.sha256(b"new").hexdigest()
    new = blocks([*keys[:300], new_key, *keys[300:]])
    assert 40 < len(old) < 90  # blocks of about 10 articles
    changed = new - old
    assert any(new_key in b for b in changed)
    # the block it went into (split in two if its key starts a block) and, here, the next: that block had reached
    # its maximum size, so its last article moved on; the next edge drawn from a key stops the change
    assert len(old - new) == 2 and len(changed) == 2
    assert all(len(b) <= 40 for b in new)
    # positional blocks would have changed every block after the insertion
    positional = {tuple(keys[i : i + 10]) for i in range(0, 600, 10)}
    shifted = [*keys[:300], new_key, *keys[300:]]
    assert len({tuple(shifted[i : i + 10]) for i in range(0, 601, 10)} - positional) > 25


def test_block_memo_stores_frames_as_arrow_and_counts_as_pickles(tmp_path):
    memo = eng.BlockMemo(tmp_path, "a" * 64)
    frame = pd.DataFrame(
        {"doc_id": pd.array(["d1", "d2"], dtype="str"), "n": [1, 2], "share": [0.5, np.nan]}, index=[5, 6]
    )
    tally = Counter({("window", "France", ""): 3, ("window", "", ""): 10})
    key_f = memo.block_key("kwic", "width=60", ["k1", "k2"])
    key_t = memo.block_key("cooccurrence", "w=10", ["k1", "k2"])
    assert key_f != key_t != memo.block_key("cooccurrence", "w=4", ["k1", "k2"])
    assert key_t != memo.block_key("cooccurrence", "w=10", ["k2", "k1"])  # the articles, in order
    assert memo.get("kwic", key_f) is None and memo.misses == 1
    memo.put("kwic", key_f, frame)
    memo.put("cooccurrence", key_t, tally)
    assert (memo.root / "kwic" / f"{key_f}.arrow").is_file()
    assert (memo.root / "cooccurrence" / f"{key_t}.pkl.lz4").is_file()
    pd.testing.assert_frame_equal(memo.get("kwic", key_f), frame)
    assert memo.get("cooccurrence", key_t) == tally and memo.hits == 2
    # a truncated file is a miss (computed again), not an error
    path = memo.root / "kwic" / f"{key_f}.arrow"
    path.write_bytes(path.read_bytes()[:20])
    assert memo.get("kwic", key_f) is None and memo.misses == 2
    # another configuration's memo is removed when this one is first written
    other = eng.BlockMemo(tmp_path, "b" * 64)
    other.put("kwic", key_f, frame)
    assert other.root.is_dir() and not memo.root.exists()


def test_block_memo_that_cannot_write_only_loses_the_memo(tmp_path, monkeypatch):
    memo = eng.BlockMemo(tmp_path, "c" * 64)

    def full(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(eng.tempfile, "mkstemp", full)
    memo.put("kwic", "k" * 32, Counter({"a": 1}))
    assert memo.get("kwic", "k" * 32) is None
    assert not [p for p in memo.root.rglob("*") if p.is_file()]


def test_block_memo_sweep_keeps_the_used_results_and_the_most_recent_others(tmp_path):
    memo = eng.BlockMemo(tmp_path, "d" * 64)
    for i in range(12):
        memo.put("kwic", f"{i:032d}", Counter({i: 1}))
        os.utime(memo.root / "kwic" / f"{i:032d}.pkl.lz4", (1000 + i, 1000 + i))  # result i used at time 1000 + i
    (memo.root / "kwic" / ".tmp-old.pkl").write_bytes(b"x")
    os.utime(memo.root / "kwic" / ".tmp-old.pkl", (0, 0))
    (memo.root / "kwic" / ".tmp-now.pkl").write_bytes(b"x")
    used = {f"{0:032d}", f"{1:032d}"}  # the oldest two, used by this run
    gone = memo.sweep("kwic", used, now=10**6)
    left = sorted(p.name for p in (memo.root / "kwic").iterdir())
    # MEMO_KEEP x 2 used = 8 files: the 2 used and the 6 most recent others (6..11); 2..5 and the old temporary go
    assert len(gone) == 5 and ".tmp-old.pkl" not in left and ".tmp-now.pkl" in left
    assert [n for n in left if not n.startswith(".")] == [f"{i:032d}.pkl.lz4" for i in (0, 1, 6, 7, 8, 9, 10, 11)]


def test_block_terms_recoded_for_the_corpus_by_hand():
    """Two articles: "mali france mali" and "russia mali". Sorted vocabulary: france 0, mali 1, russia 2."""
    terms = pd.DataFrame(
        {
            "doc_id": ["a", "a", "a", "b", "b"],
            "sentence_id": [0, 0, 0, 0, 0],
            "term": ["mali", "france", "mali", "russia", "mali"],
        }
    )
    vocab, docs = pd.Index(["france", "mali", "russia"], dtype=object), pd.Index(["a", "b"])
    whole = fq._corpus_pairs(fq.block_terms(terms, [1, 2]), vocab, 3, docs)
    assert [a.tolist() for a in whole[1]] == [[0, 1, 1, 2], [0, 0, 1, 1], [1, 2, 1, 1]]
    # bigrams: france_mali = 0 * 3 + 1, mali_france = 1 * 3 + 0, russia_mali = 2 * 3 + 1
    assert [a.tolist() for a in whole[2]] == [[1, 3, 7], [0, 0, 1], [1, 1, 1]]
    # article b alone has its own vocabulary (mali 0, russia 1): recoded, its pairs are the whole table's
    b = fq.block_terms(terms.iloc[3:], [1, 2])
    assert b.vocab.tolist() == ["mali", "russia"] and b.pairs[2][0].tolist() == [1 * 2 + 0]
    alone = fq._corpus_pairs(b, vocab, 3, docs)
    assert [a.tolist() for a in alone[2]] == [[7], [1], [1]]
    # rows of b before a: recoded and re-sorted by key, then article
    swapped = fq._corpus_pairs(fq.block_terms(pd.concat([terms.iloc[3:], terms.iloc[:3]]), [1, 2]), vocab, 3, docs)
    for n in (1, 2):
        assert [a.tolist() for a in swapped[n]] == [a.tolist() for a in whole[n]]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _run(corpus: Path, cache: Path | None, out: Path) -> pl.Analysis:
    an = pl.run(corpus, workers=1, cache_dir=cache)
    out.mkdir()
    pl.analysis_tables_write(an, out, workers=1)
    return an


def _blocks(keys: list[str]) -> list[tuple[str, ...]]:
    edges = [*eng.content_edges(keys, pl.BLOCK_ARTICLES), len(keys)]
    return [tuple(keys[a:b]) for a, b in zip(edges, edges[1:])]


def test_memo_tables_are_the_tables_without_it_and_an_added_article_recounts_its_block(tmp_path, monkeypatch):
    from benchmarks.generate import add_article, generate

    monkeypatch.setattr(pl, "BLOCK_ARTICLES", 8)
    corpus = generate(90, tmp_path / "corpus", target_bytes=400)
    cache = tmp_path / "cache"
    plain = _run(corpus, None, tmp_path / "plain")
    assert plain.memo is None
    cold = _run(corpus, cache, tmp_path / "cold")
    n_blocks = len(_blocks(cold.block_keys))
    assert 5 < n_blocks < 30  # several blocks of about 8 articles
    assert cold.memo.hits == 0 and cold.memo.misses == 5 * n_blocks  # each block computed once, read never
    warm = _run(corpus, cache, tmp_path / "warm")
    assert warm.memo.misses == 0 and warm.memo.hits == GETS_PER_BLOCK * n_blocks
    assert _files(tmp_path / "cold") == _files(tmp_path / "plain") == _files(tmp_path / "warm")
    # every block in the memo: the frames are not even cut into blocks
    cuts = []
    real_cut = pl._article_block_ranges
    monkeypatch.setattr(
        pl, "_article_block_ranges", lambda an, frames, size=None: cuts.append(frames) or real_cut(an, frames, size)
    )
    from_memo = warm.frequency(ngram=[1, 2, 3])
    assert cuts == []
    pd.testing.assert_frame_equal(from_memo, plain.frequency(ngram=[1, 2, 3]), check_exact=True)
    assert cuts  # (without a memo they are)
    # frequency holds the stored blocks from its vocabulary pass only when they all fit: beyond that it reads
    # them again for the keys, and for the sums and Juilland's D (nothing kept), with the same table
    stored = sum(
        a.nbytes
        for bt in pl.memo_blocks(warm, "frequency", "[1, 2, 3]", ("docs", "terms"), lambda b: None)
        for arrays in bt.pairs.values()
        for a in arrays
    )
    for keep, reads in ((0, 4), (stored - 1, 4), (stored, 1), (fq.PAIRS_KEEP_BYTES, 1)):
        monkeypatch.setattr(fq, "PAIRS_KEEP_BYTES", keep)
        hits = warm.memo.hits
        pd.testing.assert_frame_equal(warm.frequency(ngram=[1, 2, 3]), from_memo, check_exact=True)
        assert warm.memo.hits - hits == reads * n_blocks
    assert sorted(p.name for p in cold.memo.root.iterdir()) == sorted(MEMOIZED)
    # other parameters are other results: a window of 4 is counted, not read from the window of 10
    pd.testing.assert_frame_equal(warm.cooccurrence(window=4), plain.cooccurrence(window=4))
    assert not warm.cooccurrence(window=4).equals(warm.cooccurrence())
    # an analysis with other frames does not use the memo of the run that made the originals
    first_half = warm.mentions[warm.mentions["doc_id"].isin(warm.docs["doc_id"].iloc[:45])]
    hits = warm.memo.hits
    edited = dataclasses.replace(warm, mentions=first_half)
    pd.testing.assert_frame_equal(edited.cooccurrence(), dataclasses.replace(plain, mentions=first_half).cooccurrence())
    assert warm.memo.hits == hits and not edited.cooccurrence().equals(warm.cooccurrence())

    add_article(corpus, 90)
    plus = _run(corpus, cache, tmp_path / "plus")
    changed = set(_blocks(plus.block_keys)) - set(_blocks(warm.block_keys))
    assert 1 <= len(changed) <= 2
    assert plus.memo.misses == len(MEMOIZED) * len(changed)
    _run(corpus, None, tmp_path / "plus_plain")
    assert _files(tmp_path / "plus") == _files(tmp_path / "plus_plain")


def test_memo_is_beside_the_per_article_cache_and_survives_a_lost_result(corpus_copy, tmp_path):
    cache = tmp_path / "cache"
    first = _run(corpus_copy, cache, tmp_path / "first")
    assert first.memo.root.parent == cache and first.memo.root.name.startswith("tables-")
    for f in first.memo.root.rglob("*.*"):
        f.unlink() if f.name.endswith(".lz4") else f.write_bytes(b"")  # lost and truncated results
    again = _run(corpus_copy, cache, tmp_path / "again")
    assert again.memo.misses > 0
    assert _files(tmp_path / "again") == _files(tmp_path / "first")
    shutil.rmtree(cache)
