"""Frequency, keyness, co-occurrence and collocates: hand-computed values, NLTK and brute force.

Every statistic is checked three ways: against 2x2 tables worked out by hand (the
arithmetic is in the comments), against NLTK's association measures, and against
plain nested-loop recomputations of the documented definitions on the seed corpus
and on a random corpus assembled from shuffled seed sentences.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nltk.metrics.association import BigramAssocMeasures
from scipy.stats import chi2 as scipy_chi2

from mali_partners import actors, pipeline, stats
from mali_partners import cooccurrence as cooc
from mali_partners import frequency as fq
from mali_partners.errors import InputError
from mali_partners.gazetteer import gazetteer_load
from mali_partners.text import corpus_sentences, normalise_token, sentences_tokens, word_tokenizer

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
FOCAL = "Mali"


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def an(request):
    """The seed analysis: the shared session fixture when conftest.py provides it, else our own run."""
    try:
        return request.getfixturevalue("analysis")
    except pytest.FixtureLookupError:
        return pipeline.run(SEEDS)


@pytest.fixture(scope="module")
def gaz():
    return gazetteer_load()


@pytest.fixture(scope="module")
def random_corpus(an, gaz):
    """Eight articles of seed sentences drawn at random (fixed seed), one sentence per line."""
    rng = random.Random(20240607)
    pool = list(an.sentences["text"])
    rng.shuffle(pool)
    texts = []
    for _ in range(8):
        k = rng.randint(3, 25)
        picked = pool[: k // 2] + rng.sample(pool, k - k // 2)  # some sentences repeat across articles
        rng.shuffle(picked)
        pool = pool[k // 2 :] + pool[: k // 2]
        texts.append("\n".join(picked))
    docs = pd.DataFrame({"doc_id": [f"r{i:02d}" for i in range(len(texts))], "text": texts})
    sentences = corpus_sentences(docs)
    tokens = sentences_tokens(sentences)
    mentions = actors.mentions_find(sentences, gaz)
    return docs, sentences, tokens, mentions


# ----------------------------------------------------------------------------- own formulas


def my_g2(o11, r1, c1, n):
    """2 * sum O ln(O/E) over the four cells, 0 ln 0 = 0, in plain Python."""
    cells = [o11, r1 - o11, c1 - o11, n - r1 - c1 + o11]
    exp = [r1 * c1 / n, r1 * (n - c1) / n, (n - r1) * c1 / n, (n - r1) * (n - c1) / n]
    return 2 * sum(o * math.log(o / e) for o, e in zip(cells, exp) if o > 0)


def my_measures(o, na, nb, n):
    e = na * nb / n
    pmi = math.log2(o / e)
    npmi = 1.0 if o == n else pmi / -math.log2(o / n)
    dice = 2 * o / (na + nb)
    return {
        "expected": e,
        "pmi": pmi,
        "npmi": npmi,
        "g2": my_g2(o, na, nb, n),
        "dice": dice,
        "log_dice": 14 + math.log2(dice),
    }


# ============================================================================= 1. stats, by hand


def test_expected_by_hand():
    # E11 = r1 * c1 / n = 20 * 30 / 100 = 6
    assert float(stats.expected(20, 30, 100)) == pytest.approx(6.0)
    # vectorised: 4*8/64 = 0.5, 5*5/20 = 1.25
    assert stats.expected(np.array([4, 5]), np.array([8, 5]), np.array([64, 20])) == pytest.approx([0.5, 1.25])


@pytest.mark.parametrize(
    ("o11", "r1", "c1", "n", "want"),
    [
        (10, 20, 25, 100, 1.0),  # E = 20*25/100 = 5; log2(10/5) = 1
        (2, 4, 8, 64, 2.0),  # E = 4*8/64 = 0.5; log2(2/0.5) = log2 4 = 2
        (1, 4, 4, 8, -1.0),  # E = 4*4/8 = 2; log2(1/2) = -1
        (5, 10, 10, 20, 0.0),  # E = 10*10/20 = 5 = O: independence, log2 1 = 0
    ],
)
def test_pmi_by_hand(o11, r1, c1, n, want):
    assert float(stats.pmi(o11, r1, c1, n)) == pytest.approx(want, abs=1e-12)


def test_npmi_by_hand():
    # PMI = 1 (above); normaliser -log2(10/100) = log2 10; NPMI = 1 / log2 10 = log10 2 = 0.30103
    assert float(stats.npmi(10, 20, 25, 100)) == pytest.approx(math.log10(2))
    # perfect association below n: O = r1 = c1 = 5, n = 20: PMI = log2(5 / (5*5/20)) = log2 4 = 2;
    # normaliser -log2(5/20) = 2; NPMI = 1
    assert float(stats.npmi(5, 5, 5, 20)) == pytest.approx(1.0)
    # independence: PMI 0 -> NPMI 0
    assert float(stats.npmi(5, 10, 10, 20)) == pytest.approx(0.0, abs=1e-12)
    # O = 1, r1 = c1 = 4, n = 64: E = 0.25, PMI = 2; -log2(1/64) = 6; NPMI = 1/3
    assert float(stats.npmi(1, 4, 4, 64)) == pytest.approx(1 / 3)


def test_npmi_o11_equals_n_is_one():
    # O = r1 = c1 = n: PMI = log2(50 / (50*50/50)) = 0 and the normaliser -log2(50/50) = 0: defined as 1
    assert float(stats.npmi(50, 50, 50, 50)) == 1.0
    # in an array next to an ordinary cell: [O = n -> 1, independence -> 0]
    out = stats.npmi(np.array([50, 5]), np.array([50, 10]), np.array([50, 10]), np.array([50, 20]))
    assert out == pytest.approx([1.0, 0.0], abs=1e-12)
    assert not np.isnan(out).any()


def test_npmi_stays_in_range():
    rng = np.random.default_rng(7)
    n = rng.integers(50, 500, 200)
    r1 = (n * rng.uniform(0.05, 1, 200)).astype(int) + 1
    c1 = (n * rng.uniform(0.05, 1, 200)).astype(int) + 1
    r1, c1 = np.minimum(r1, n), np.minimum(c1, n)
    lo = np.maximum(1, r1 + c1 - n)  # the smallest possible joint count (>= 1)
    o11 = lo + ((np.minimum(r1, c1) - lo) * rng.uniform(0, 1, 200)).astype(int)
    v = stats.npmi(o11, r1, c1, n)
    assert np.all(v >= -1 - 1e-12) and np.all(v <= 1 + 1e-12)


def test_g2_by_hand():
    # O11=10, r1=20, c1=30, n=100 -> cells 10, 10 (20-10), 20 (30-10), 60 (100-20-30+10)
    # E = 20*30/100=6, 20*70/100=14, 80*30/100=24, 80*70/100=56
    # G2 = 2 (10 ln 10/6 + 10 ln 10/14 + 20 ln 20/24 + 60 ln 60/56)
    #    = 2 (5.10826 - 3.36472 - 3.64643 + 4.13963) = 2 * 2.23674 = 4.47335
    want = 2 * (10 * math.log(10 / 6) + 10 * math.log(10 / 14) + 20 * math.log(20 / 24) + 60 * math.log(60 / 56))
    assert float(stats.g2(10, 20, 30, 100)) == pytest.approx(want)
    assert float(stats.g2(10, 20, 30, 100)) == pytest.approx(4.47335, abs=1e-5)
    # independence: O = E = 5 (r1 = c1 = 10, n = 20) -> every cell O = E -> G2 = 0
    assert float(stats.g2(5, 10, 10, 20)) == pytest.approx(0.0, abs=1e-12)
    # symmetric in the two marginals
    assert float(stats.g2(3, 7, 19, 50)) == pytest.approx(float(stats.g2(3, 19, 7, 50)))


def test_g2_zero_cells():
    # O11=5, r1=5, c1=5, n=10 -> cells 5, 0, 0, 5; every E = 5*5/10 = 2.5
    # G2 = 2 (5 ln 2 + 0 + 0 + 5 ln 2) = 20 ln 2 = 13.8629 (0 ln 0 taken as 0)
    assert float(stats.g2(5, 5, 5, 10)) == pytest.approx(20 * math.log(2))
    # O11 = 0: cells 0, 4, 6, 10 with E 1.2, 2.8, 4.8, 11.2 (r1=4, c1=6, n=20)
    want = 2 * (4 * math.log(4 / 2.8) + 6 * math.log(6 / 4.8) + 10 * math.log(10 / 11.2))
    got = stats.g2(np.array([0.0]), np.array([4.0]), np.array([6.0]), np.array([20.0]))
    assert got == pytest.approx([want])
    assert np.isfinite(got).all()


def test_dice_and_log_dice_by_hand():
    # Dice = 2*10 / (20+30) = 0.4; logDice = 14 + log2 0.4 = 14 - 1.321928 = 12.678072
    assert float(stats.dice(10, 20, 30)) == pytest.approx(0.4)
    assert float(stats.log_dice(10, 20, 30)) == pytest.approx(12.678072, abs=1e-6)
    # O = r1 = c1: Dice 1, logDice at its maximum 14
    assert float(stats.dice(5, 5, 5)) == 1.0
    assert float(stats.log_dice(5, 5, 5)) == pytest.approx(14.0)
    # 2*1/(1+7) = 0.25 -> 14 + log2 0.25 = 12
    assert float(stats.log_dice(1, 1, 7)) == pytest.approx(12.0)


def test_log_ratio_by_hand():
    # (8/1000) / (2/1000) = 4 -> log2 4 = 2
    assert float(stats.log_ratio(8, 1000, 2, 1000)) == pytest.approx(2.0)
    # a zero count becomes 0.5: (0.5/100) / (4/200) = 0.005/0.02 = 0.25 -> -2
    assert float(stats.log_ratio(0, 100, 4, 200)) == pytest.approx(-2.0)
    # (3/100) / (0.5/100) = 6 -> log2 6
    assert float(stats.log_ratio(3, 100, 0, 100)) == pytest.approx(math.log2(6))
    # different corpus sizes: (10/1000) / (10/4000) = 4 -> 2
    assert float(stats.log_ratio(10, 1000, 10, 4000)) == pytest.approx(2.0)


def test_chi2_p_by_hand():
    # p = erfc(sqrt(G2/2)): G2=0 -> erfc 0 = 1; 3.841459 and 6.634897 are the 5 % and 1 % critical values of chi2(1)
    assert float(stats.chi2_p(0.0)) == pytest.approx(1.0)
    assert float(stats.chi2_p(3.841458820694124)) == pytest.approx(0.05, abs=1e-9)
    assert float(stats.chi2_p(6.634896601021214)) == pytest.approx(0.01, abs=1e-9)
    # G2 = 2 -> erfc(1) = 0.157299
    assert float(stats.chi2_p(2.0)) == pytest.approx(math.erfc(1.0))
    # negative round-off is clipped to 0 -> p = 1
    assert float(stats.chi2_p(-1e-12)) == pytest.approx(1.0)
    xs = np.array([0.0, 0.5, 1.0, 4.47335, 10.0, 50.0])
    assert stats.chi2_p(xs) == pytest.approx(scipy_chi2.sf(xs, 1), rel=1e-9, abs=1e-300)


def test_chi2_p_empty_array():
    assert stats.chi2_p(np.array([])).shape == (0,)


def test_contingency_cells():
    # r1=20, c1=30, n=100, O11=10 -> (10, 10, 20, 60), summing to n
    cells = [float(x) for x in stats.contingency(10, 20, 30, 100)]
    assert cells == [10.0, 10.0, 20.0, 60.0]
    assert sum(cells) == 100.0


def test_g2_docstring_example_is_right():
    value = round(float(stats.g2(10, 20, 30, 100)), 4)
    assert f">>> round(float(g2(10, 20, 30, 100)), 4)\n    {value}" in stats.g2.__doc__


# ============================================================================= 2. NLTK agreement

TABLES = [
    (10, 20, 30, 100),
    (1, 1, 1, 2716),
    (3, 9, 11, 117),
    (41, 386, 363, 2716),
    (4, 5, 4, 5),  # one actor in every unit: o21 = o22 = 0
    (7, 7, 300, 1000),
    (120, 400, 350, 5000),
    (1, 32, 9, 117),  # PMI < 0
    (5, 5, 5, 10),  # two zero cells
]


@pytest.mark.parametrize(("o11", "r1", "c1", "n"), TABLES)
def test_pmi_matches_nltk(o11, r1, c1, n):
    want = BigramAssocMeasures.pmi(o11, (r1, c1), n)
    assert float(stats.pmi(o11, r1, c1, n)) == pytest.approx(want, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("o11", "r1", "c1", "n"), TABLES)
def test_g2_matches_nltk(o11, r1, c1, n):
    want = BigramAssocMeasures.likelihood_ratio(o11, (r1, c1), n)
    assert float(stats.g2(o11, r1, c1, n)) == pytest.approx(want, rel=1e-9, abs=1e-9)
    assert float(stats.g2(o11, r1, c1, n)) == pytest.approx(my_g2(o11, r1, c1, n), rel=1e-12, abs=1e-12)


def test_vectorised_matches_nltk():
    o, r, c, n = (np.array(col, dtype=float) for col in zip(*TABLES))
    assert stats.pmi(o, r, c, n) == pytest.approx([BigramAssocMeasures.pmi(*t[:1], t[1:3], t[3]) for t in TABLES])
    assert stats.g2(o, r, c, n) == pytest.approx(
        [BigramAssocMeasures.likelihood_ratio(t[0], t[1:3], t[3]) for t in TABLES], abs=1e-9
    )


# ============================================================================= 3. keyness

# target: peace x6, war x2, aid x2 (n1 = 10); reference: peace x2, war x6, aid x1, oil x1 (n2 = 10)
TARGET = pd.DataFrame({"term": ["peace"] * 6 + ["war"] * 2 + ["aid"] * 2})
REFERENCE = pd.DataFrame({"term": ["peace"] * 2 + ["war"] * 6 + ["aid", "oil"]})


def test_keyness_by_hand():
    k = fq.textstat_keyness(TARGET, REFERENCE, min_freq=3, target_label="T", reference_label="R")
    # oil: 0 + 1 < 3 -> filtered out
    assert list(k["term"]) == ["peace", "aid", "war"]  # sorted by signed G2: T-key first, R-key last
    row = k.set_index("term")
    # peace: O11=6 (target), r1 = 6+2 = 8 (term total), c1 = n1 = 10, n = 20
    # cells 6, 2, 4, 8; E = 8*10/20 = 4, 4, 12*10/20 = 6, 6
    # G2 = 2 (6 ln 6/4 + 2 ln 2/4 + 4 ln 4/6 + 8 ln 8/6) = 2 (2.43279 - 1.38629 - 1.62186 + 2.30146) = 3.45219
    g_peace = 2 * (6 * math.log(6 / 4) + 2 * math.log(2 / 4) + 4 * math.log(4 / 6) + 8 * math.log(8 / 6))
    assert row.loc["peace", "g2"] == pytest.approx(g_peace)
    assert row.loc["peace", "g2"] == pytest.approx(3.45219, abs=1e-5)
    # war is the mirror image: same G2, opposite direction
    assert row.loc["war", "g2"] == pytest.approx(g_peace)
    # log ratio: log2((6/10) / (2/10)) = log2 3
    assert row.loc["peace", "log_ratio"] == pytest.approx(math.log2(3))
    assert row.loc["war", "log_ratio"] == pytest.approx(-math.log2(3))
    # aid: O11=2, r1=3, c1=10, n=20 -> cells 2, 1, 8, 9; E 1.5, 1.5, 8.5, 8.5
    g_aid = 2 * (2 * math.log(2 / 1.5) + 1 * math.log(1 / 1.5) + 8 * math.log(8 / 8.5) + 9 * math.log(9 / 8.5))
    assert row.loc["aid", "g2"] == pytest.approx(g_aid)
    assert row.loc["aid", "log_ratio"] == pytest.approx(1.0)  # log2((2/10)/(1/10))
    assert row.loc["peace", "key_for"] == "T" and row.loc["aid", "key_for"] == "T" and row.loc["war", "key_for"] == "R"
    assert set(k["key_for"]) == {"T", "R"}  # both directions present
    # counts and rates: per 1,000 terms of each side
    assert row.loc["peace", "n_target"] == 6 and row.loc["peace", "n_reference"] == 2
    assert row.loc["peace", "per_1000_target"] == pytest.approx(600.0)
    assert row.loc["war", "per_1000_reference"] == pytest.approx(600.0)
    assert row.loc["peace", "p"] == pytest.approx(math.erfc(math.sqrt(g_peace / 2)))
    assert k.attrs["n_target_terms"] == 10 and k.attrs["n_reference_terms"] == 10
    assert not k[["g2", "p", "log_ratio"]].isna().any().any()


def test_keyness_min_freq_one_keeps_zero_cell_terms():
    k = fq.textstat_keyness(TARGET, REFERENCE, min_freq=1)
    row = k.set_index("term")
    assert set(k["term"]) == {"peace", "war", "aid", "oil"}
    # oil: 0 in target -> 0.5 added: log2((0.5/10) / (1/10)) = -1
    assert row.loc["oil", "log_ratio"] == pytest.approx(-1.0)
    assert row.loc["oil", "n_target"] == 0 and row.loc["oil", "key_for"] == "reference"
    # oil: O11=0, r1=1, c1=10, n=20 -> cells 0, 1, 10, 9; E 0.5, 0.5, 9.5, 9.5
    g_oil = 2 * (1 * math.log(1 / 0.5) + 10 * math.log(10 / 9.5) + 9 * math.log(9 / 9.5))
    assert row.loc["oil", "g2"] == pytest.approx(g_oil)
    assert not k[["g2", "p", "log_ratio", "per_1000_target", "per_1000_reference"]].isna().any().any()
    # signed G2 order: peace (+), aid (+), oil (-small), war (-big)
    assert list(k["term"]) == ["peace", "aid", "oil", "war"]
    # a higher threshold filters more
    assert set(fq.textstat_keyness(TARGET, REFERENCE, min_freq=8)["term"]) == {"peace", "war"}


@pytest.mark.parametrize("side", ["target", "reference", "both"])
def test_keyness_empty_side_raises_input_error(side):
    empty = pd.DataFrame({"term": pd.Series([], dtype=object)})
    t = empty if side in ("target", "both") else TARGET
    r = empty if side in ("reference", "both") else REFERENCE
    with pytest.raises(InputError) as exc:
        fq.textstat_keyness(t, r)
    assert len(exc.value.problems) == (2 if side == "both" else 1)
    assert "no terms" in str(exc.value)


def test_keyness_min_freq_below_one_raises():
    with pytest.raises(InputError):
        fq.textstat_keyness(TARGET, REFERENCE, min_freq=0)


def test_keyness_actor_without_sentences_raises_input_error(an):
    # China is in the gazetteer but not in the seeds: an empty side, reported, not a ZeroDivisionError or NaN
    assert not an.mentions["actor"].eq("China").any()
    with pytest.raises(InputError) as exc:
        an.keyness("China", "Russia")
    assert "China" in str(exc.value)


def _alias_terms(gaz, names):
    tok = word_tokenizer()
    out = set()
    for name in names:
        for member in [name, *gaz.descendants(name)]:
            for al in gaz.actors[member].aliases:
                out.add(" ".join(normalise_token(t) for t in tok.tokenize(al.alias)))
    return out


@pytest.mark.parametrize("min_freq", [1, 3])
def test_keyness_actors_brute_force(an, min_freq):
    gz = an.gazetteer
    fam_t = {"France", *gz.descendants("France")}
    fam_r = {"Russia", *gz.descendants("Russia")}
    assert {"Barkhane", "Serval"} <= fam_t and "Wagner" in fam_r
    st = {
        (d, s) for d, s, a in zip(an.mentions["doc_id"], an.mentions["sentence_id"], an.mentions["actor"]) if a in fam_t
    }
    sr = {
        (d, s) for d, s, a in zip(an.mentions["doc_id"], an.mentions["sentence_id"], an.mentions["actor"]) if a in fam_r
    }
    both = st & sr
    assert both, "the seeds should have sentences naming both, or the exclusion is not exercised"
    names = _alias_terms(gz, ["France", "Russia"])
    ct, cr = Counter(), Counter()
    for d, s, term in zip(an.terms["doc_id"], an.terms["sentence_id"], an.terms["term"]):
        if term in names:
            continue
        if (d, s) in st and (d, s) not in sr:
            ct[term] += 1
        elif (d, s) in sr and (d, s) not in st:
            cr[term] += 1
    k = an.keyness(min_freq=min_freq)
    assert k.attrs["n_target_sentences"] == len(st - sr)
    assert k.attrs["n_reference_sentences"] == len(sr - st)
    assert k.attrs["n_target_terms"] == sum(ct.values())
    assert k.attrs["n_reference_terms"] == sum(cr.values())
    want = {t: (ct[t], cr[t]) for t in set(ct) | set(cr) if ct[t] + cr[t] >= min_freq}
    got = {t: (a, b) for t, a, b in zip(k["term"], k["n_target"], k["n_reference"])}
    assert got == want
    # the actors' own names (and their children's) never appear
    for name in ("france", "french", "paris", "macron", "barkhane", "russia", "russian", "moscow", "wagner", "putin"):
        assert name not in got
    assert not (set(k["term"]) & names)
    # G2 and log ratio recomputed from the counts
    n1, n2 = sum(ct.values()), sum(cr.values())
    for a, b, g, lr, kf in zip(k["n_target"], k["n_reference"], k["g2"], k["log_ratio"], k["key_for"]):
        assert g == pytest.approx(my_g2(a, a + b, n1, n1 + n2), abs=1e-9)
        assert lr == pytest.approx(math.log2((max(a, 0.5) / n1) / (max(b, 0.5) / n2)))
        assert kf == ("France" if a / n1 >= b / n2 else "Russia")
    assert set(k["key_for"]) == {"France", "Russia"}
    signed = np.where(k["key_for"] == "France", k["g2"], -k["g2"])
    assert np.all(np.diff(signed) <= 1e-12)
    assert not k[["g2", "p", "log_ratio"]].isna().any().any()


def test_keyness_actors_overlap_both_counts_shared_sentences(an):
    ex = fq.keyness_actors(an.terms, an.mentions, an.gazetteer, min_freq=1)
    bo = fq.keyness_actors(an.terms, an.mentions, an.gazetteer, min_freq=1, overlap="both")
    assert bo.attrs["n_target_sentences"] > ex.attrs["n_target_sentences"]
    assert bo.attrs["n_reference_sentences"] > ex.attrs["n_reference_sentences"]
    with pytest.raises(InputError):
        fq.keyness_actors(an.terms, an.mentions, an.gazetteer, overlap="neither")


def test_keyness_keeps_names_when_asked(an):
    kept = fq.keyness_actors(an.terms, an.mentions, an.gazetteer, min_freq=1, drop_actor_terms=False)
    assert "france" in set(kept["term"]) or "russia" in set(kept["term"])


@pytest.mark.parametrize(
    ("target", "reference", "close"), [("Frnace", "Russia", "France"), ("France", "Rusia", "Russia")]
)
def test_keyness_unknown_actor_names_close_matches(an, target, reference, close):
    with pytest.raises(InputError) as exc:
        an.keyness(target, reference)
    msg = str(exc.value)
    assert "is not an actor" in msg and close in msg and "did you mean" in msg


# ============================================================================= 4. term frequency

# A: "France and Russia met." (4 tokens) / "The European Union watched France." (5 tokens) -> 9
# B: "Russia sent troops to Mali." (5) / "Troops left." (2) -> 7
# C: "France sent troops." (3) -> 19 word tokens in all, stopwords (and, the, to) included
TINY = pd.DataFrame(
    {
        "doc_id": ["A", "B", "C"],
        "text": [
            "France and Russia met. The European Union watched France.",
            "Russia sent troops to Mali. Troops left.",
            "France sent troops.",
        ],
    }
)


@pytest.fixture(scope="module")
def tiny(gaz):
    sentences = corpus_sentences(TINY)
    tokens = sentences_tokens(sentences)
    terms = fq.tokens_terms(tokens, gaz)
    sizes = tokens.groupby("doc_id").size()
    table = fq.textstat_frequency(terms, sizes, ngram=[1, 2, 3])
    return sentences, tokens, terms, sizes, table.set_index("term")


def test_tiny_tokens_and_terms(tiny):
    sentences, tokens, terms, sizes, _ = tiny
    assert len(sentences) == 5
    assert sizes.to_dict() == {"A": 9, "B": 7, "C": 3}
    # stopwords gone, "European Union" one term
    assert list(terms.loc[terms["doc_id"] == "A", "term"]) == [
        "france",
        "russia",
        "met",
        "european union",
        "watched",
        "france",
    ]
    assert not ({"and", "the", "to"} & set(terms["term"]))
    assert not ({"european", "union"} & set(terms["term"]))


def test_frequency_counts_rates_idf(tiny):
    *_, t = tiny
    # france: A 2, C 1 -> n 3, per_1000 = 3/19*1000 (denominator: all 19 tokens), doc_freq 2
    assert t.loc["france", "n"] == 3
    assert t.loc["france", "per_1000"] == pytest.approx(3 / 19 * 1000)
    assert t.loc["france", "doc_freq"] == 2
    # idf = ln(3 articles / 2) = 0.405465; tfidf = 3 * 0.405465 = 1.216395
    assert t.loc["france", "idf"] == pytest.approx(math.log(3 / 2))
    assert t.loc["france", "tfidf"] == pytest.approx(3 * math.log(1.5))
    # troops: B 2 ("troops", "Troops"), C 1; sent: B 1, C 1
    assert (t.loc["troops", "n"], t.loc["troops", "doc_freq"]) == (3, 2)
    assert (t.loc["sent", "n"], t.loc["sent", "doc_freq"]) == (2, 2)
    # a term in one article: idf = ln 3
    assert t.loc["watched", "idf"] == pytest.approx(math.log(3))
    assert t.loc["watched", "top_doc"] == "A" and t.loc["watched", "top_doc_share"] == 1.0
    assert t.loc["france", "top_doc"] == "A" and t.loc["france", "top_doc_share"] == pytest.approx(2 / 3)
    assert t.loc["european union", "n"] == 1 and t.loc["european union", "ngram"] == 1


def test_juilland_d_by_hand(tiny):
    *_, t = tiny
    # france: relative frequencies p = [2/9, 0/7, 1/3]; mean = (6/27 + 0 + 9/27)/3 = 5/27
    # deviations 1/27, -5/27, 4/27 -> population variance (1 + 25 + 16)/729/3 = 14/729 -> sd = sqrt(14)/27
    # V = sd/mean = sqrt(14)/5; D = 1 - V/sqrt(3-1) = 1 - sqrt(7)/5 = 0.470850
    assert t.loc["france", "juilland_d"] == pytest.approx(1 - math.sqrt(7) / 5)
    assert t.loc["france", "juilland_d"] == pytest.approx(0.470850, abs=1e-6)
    # a term in one article only: V = sqrt(k-1) exactly -> D = 0
    assert t.loc["watched", "juilland_d"] == pytest.approx(0.0, abs=1e-12)


def test_ngrams_never_cross_sentences(tiny):
    *_, t = tiny
    bigrams = set(t.index[t["ngram"] == 2])
    trigrams = set(t.index[t["ngram"] == 3])
    assert bigrams == {
        "france_russia",
        "russia_met",
        "european union_watched",
        "watched_france",
        "russia_sent",
        "sent_troops",
        "troops_mali",
        "troops_left",
        "france_sent",
    }
    assert trigrams == {
        "france_russia_met",
        "european union_watched_france",
        "russia_sent_troops",
        "sent_troops_mali",
        "france_sent_troops",
    }
    # the sentence breaks: "met | The European Union", "Mali. | Troops"
    assert "met_european union" not in bigrams and "mali_troops" not in bigrams
    assert t.loc["sent_troops", "n"] == 2 and t.loc["sent_troops", "doc_freq"] == 2


def test_ngrams_on_seeds_brute_force(an):
    table = an.frequency(ngram=[2, 3])
    by_sentence: dict = {}
    for d, s, p, term in zip(an.terms["doc_id"], an.terms["sentence_id"], an.terms["position"], an.terms["term"]):
        by_sentence.setdefault((d, s), []).append((p, term))
    for n in (2, 3):
        want: Counter = Counter()
        for seq in by_sentence.values():
            words = [w for _, w in sorted(seq)]
            for i in range(len(words) - n + 1):
                want["_".join(words[i : i + n])] += 1
        got = table[table["ngram"] == n]
        assert dict(zip(got["term"], got["n"])) == dict(want)
    # the per-1,000 denominator is every word token, stopwords included
    assert table["per_1000"].to_numpy() == pytest.approx(table["n"].to_numpy() / len(an.tokens) * 1000)


def test_multiword_actor_names_one_term(gaz):
    docs = pd.DataFrame(
        {
            "doc_id": ["x"],
            "text": [
                "The European Union and the Russian Federation met the United States. European leaders left the West. The European Union's envoy."
            ],
        }
    )
    tokens = sentences_tokens(corpus_sentences(docs))
    terms = fq.tokens_terms(tokens, gaz)
    got = list(terms["term"])
    assert got[:4] == ["european union", "russian federation", "met", "united states"]
    assert "european" in got  # alone it stays a word (alias of Europe)
    assert "the west" in got  # a multiword alias keeps its stopword
    assert got.count("european union") == 2  # the possessive ("European Union's") is dropped before merging
    # without a gazetteer the words stay apart
    plain = set(fq.tokens_terms(tokens)["term"])
    assert {"european", "union", "russian", "federation"} <= plain and "european union" not in plain


def test_terms_compact_hand_computed(gaz):
    """Without stemming the compact terms lose only ``surface`` (the term itself) and take int32 numbers."""
    docs = pd.DataFrame({"doc_id": ["x"], "text": ["The European Union met Mali. Russia left."]})
    terms = fq.tokens_terms(sentences_tokens(corpus_sentences(docs)), gaz)
    assert (terms["surface"] == terms["term"]).all()
    small = fq.terms_compact(terms)
    assert list(small.columns) == ["doc_id", "sentence_id", "position", "term"]
    assert [str(t) for t in small.dtypes[["sentence_id", "position"]]] == ["int32", "int32"]
    assert list(small.itertuples(index=False, name=None)) == [
        ("x", 0, 0, "european union"),
        ("x", 0, 1, "met"),
        ("x", 0, 2, "mali"),
        ("x", 1, 0, "russia"),
        ("x", 1, 1, "left"),
    ]


def test_stemming_shows_most_frequent_surface(gaz):
    docs = pd.DataFrame(
        {
            "doc_id": ["s1", "s2"],
            "text": [
                "Sanctions hurt. The sanctions stayed. The United States imposed a sanction.",
                "Bamako sanctioned traders. Talks and talk resumed.",
            ],
        }
    )
    tokens = sentences_tokens(corpus_sentences(docs))
    terms = fq.tokens_terms(tokens, gaz, stem=True)
    surfaces = fq.stem_surfaces(terms)
    table = fq.textstat_frequency(terms, tokens.groupby("doc_id").size(), stem_surfaces=surfaces).set_index("term")
    # sanctions x2, sanction x1, sanctioned x1 all stem to "sanction"; the most frequent surface is "sanctions"
    assert table.loc["sanction", "n"] == 4
    assert table.loc["sanction", "surface"] == "sanctions"
    # a tie (talks x1, talk x1) goes to the alphabetically first surface
    assert table.loc["talk", "n"] == 2 and table.loc["talk", "surface"] == "talk"
    # multiword actor names are not stemmed ("united states" would become "united st")
    assert "united states" in table.index and table.loc["united states", "surface"] == "united states"
    # unstemmed, the variants stay apart
    plain = fq.textstat_frequency(fq.tokens_terms(tokens, gaz), tokens.groupby("doc_id").size()).set_index("term")
    assert plain.loc["sanctions", "n"] == 2 and "sanction" in plain.index and "sanctioned" in plain.index


def test_frequency_without_any_ngram_returns_empty_table(tiny):
    _, _, terms, sizes, _ = tiny
    # the longest sentence of TINY has 4 terms: there is no 5-gram
    out = fq.textstat_frequency(terms, sizes, ngram=5)
    assert out.empty
    assert {"term", "ngram", "n", "doc_freq", "surface"} <= set(out.columns)


def test_stemmed_ngrams_have_a_surface(gaz):
    docs = pd.DataFrame(
        {"doc_id": ["a", "b"], "text": ["Sanctions hurt traders. Troops left.", "Talks resumed quickly today."]}
    )
    tokens = sentences_tokens(corpus_sentences(docs))
    terms = fq.tokens_terms(tokens, gaz, stem=True)
    out = fq.textstat_frequency(
        terms, tokens.groupby("doc_id").size(), ngram=[1, 2], stem_surfaces=fq.stem_surfaces(terms)
    )
    assert (out["ngram"] == 2).any()
    assert out["surface"].notna().all()


def test_frequency_on_seeds_consistent(an):
    t = an.frequency()
    assert t["n"].sum() == len(an.terms)
    n_docs = len(an.docs)
    assert t["idf"].to_numpy() == pytest.approx(np.log(n_docs / t["doc_freq"].to_numpy()))
    assert t["tfidf"].to_numpy() == pytest.approx(t["n"].to_numpy() * t["idf"].to_numpy())
    assert t["juilland_d"].between(0, 1).all()
    # brute-force document frequency of the top term
    top = t.iloc[0]
    assert top["doc_freq"] == an.terms.loc[an.terms["term"] == top["term"], "doc_id"].nunique()


@pytest.mark.parametrize("packed", [True, False])
@pytest.mark.parametrize("ngram", [1, 2, 3])
def test_frequency_sparse_matches_dense_brute_force(an, ngram, packed, monkeypatch):
    """The sparse per-term statistics equal a dense terms x articles matrix with juilland_d() per row.

    ``packed=False`` takes the two-key sort used when (n-gram, article) pairs do not fit one int64.
    """
    if not packed:
        monkeypatch.setattr(fq, "_PACKED_KEY_LIMIT", 0)
    sizes = an.doc_sizes
    t = an.frequency(ngram=ngram).set_index("term")
    rows: dict[str, list[int]] = {}
    order = {d: i for i, d in enumerate(sizes.index)}
    by_sentence: dict = {}
    for d, s, term in zip(an.terms["doc_id"], an.terms["sentence_id"], an.terms["term"]):
        by_sentence.setdefault((d, s), []).append(term)
    for (d, _), terms in by_sentence.items():
        for i in range(len(terms) - ngram + 1):
            rows.setdefault("_".join(terms[i : i + ngram]), [0] * len(sizes))[order[d]] += 1
    assert set(rows) == set(t.index)
    size_arr = sizes.to_numpy(dtype=float)
    for term, counts in rows.items():
        c = np.array(counts)
        got = t.loc[term]
        assert got["n"] == c.sum() and got["doc_freq"] == (c > 0).sum()
        assert got["juilland_d"] == pytest.approx(fq.juilland_d(c, size_arr), abs=1e-12)
        assert got["top_doc"] == sizes.index[int(np.argmax(c))]  # argmax: the first article on ties
        assert got["top_doc_share"] == pytest.approx(c.max() / c.sum())


# ============================================================================= 5. co-occurrence


def brute_units(mentions, level, focal=FOCAL, include_focal=False, root=None):
    """Pairs and per-actor unit counts by plain loops over the mentions."""
    units: dict = {}
    for d, s, a in zip(mentions["doc_id"], mentions["sentence_id"], mentions["actor"]):
        if root is not None:
            a = root(a)
        if a == focal and not include_focal:
            continue
        key = (d, s) if level == "sentence" else d
        units.setdefault(key, set()).add(a)
    n_a: dict = {}
    pairs: dict = {}
    for present in units.values():
        for a in present:
            n_a[a] = n_a.get(a, 0) + 1
        for a in present:
            for b in present:
                if a < b:
                    pairs[(a, b)] = pairs.get((a, b), 0) + 1
    return pairs, n_a


def start_token(doc_tokens, pos):
    """The token holding character ``pos``, else the next token (else the last)."""
    for j, (s, e) in enumerate(doc_tokens):
        if s <= pos < e:
            return j
    for j, (s, _) in enumerate(doc_tokens):
        if s >= pos:
            return j
    return len(doc_tokens) - 1


def brute_windows(mentions, tokens, k, focal=FOCAL):
    """The docstring's definition: a window of k+1 tokens starts at every token of an article."""
    doc_tokens: dict = {}
    for d, tid, s, e in zip(tokens["doc_id"], tokens["token_id"], tokens["start"], tokens["end"]):
        doc_tokens.setdefault(d, []).append((tid, s, e))
    doc_tokens = {d: [(s, e) for _, s, e in sorted(v)] for d, v in doc_tokens.items()}
    where: dict = {}
    for d, a, s in zip(mentions["doc_id"], mentions["actor"], mentions["start"]):
        if a != focal:
            where.setdefault(d, []).append((a, start_token(doc_tokens[d], s)))
    n_a: dict = {}
    pairs: dict = {}
    for d, toks in doc_tokens.items():
        ms = where.get(d, [])
        for t in range(len(toks)):  # the window [t, t + k]
            inside = {a for a, i in ms if t <= i <= t + k}
            for a in inside:
                n_a[a] = n_a.get(a, 0) + 1
            for a in inside:
                for b in inside:
                    if a < b:
                        pairs[(a, b)] = pairs.get((a, b), 0) + 1
    return pairs, n_a, len(tokens)


def table_of(cooc_df, level):
    d = cooc_df[cooc_df["level"] == level]
    return {
        (a, b): (o, na, nb, n)
        for a, b, o, na, nb, n in zip(d["actor_a"], d["actor_b"], d["observed"], d["n_a"], d["n_b"], d["n"])
    }


def want_of(pairs, n_a, n):
    return {(a, b): (o, n_a[a], n_a[b], n) for (a, b), o in pairs.items()}


def test_cooccurrence_sentence_document_seeds_brute_force(an):
    got = an.cooccurrence(levels=("sentence", "document"))
    for level, n in (("sentence", len(an.sentences)), ("document", len(an.docs))):
        pairs, n_a = brute_units(an.mentions, level)
        assert pairs, level
        assert table_of(got, level) == want_of(pairs, n_a, n)
    assert FOCAL not in set(got["actor_a"]) | set(got["actor_b"])
    assert (got["actor_a"] < got["actor_b"]).all()


def test_cooccurrence_sentence_document_random_brute_force(random_corpus, gaz):
    docs, sentences, tokens, mentions = random_corpus
    assert mentions["actor"].nunique() > 10 and mentions["doc_id"].nunique() == len(docs)
    got = cooc.textstat_cooccurrence(mentions, tokens, gaz, levels=("sentence", "document"))
    # defaults: n counts the sentences and articles of the token table
    for level, n in (("sentence", len(sentences)), ("document", len(docs))):
        pairs, n_a = brute_units(mentions, level)
        assert table_of(got, level) == want_of(pairs, n_a, n)


@pytest.mark.parametrize("k", [3, 10])
def test_cooccurrence_window_seeds_brute_force(an, k):
    got = an.cooccurrence(levels=("window",), window=k)
    pairs, n_a, n = brute_windows(an.mentions, an.tokens, k)
    assert pairs
    assert table_of(got, "window") == want_of(pairs, n_a, n)
    assert got.attrs["window"] == k


@pytest.mark.parametrize("k", [3, 10])
def test_cooccurrence_window_random_brute_force(random_corpus, gaz, k):
    _, _, tokens, mentions = random_corpus
    got = cooc.textstat_cooccurrence(mentions, tokens, gaz, levels=("window",), window=k)
    pairs, n_a, n = brute_windows(mentions, tokens, k)
    assert pairs
    assert table_of(got, "window") == want_of(pairs, n_a, n)


def test_article_chunks_cut_only_between_articles():
    codes = np.array([0, 0, 1, 1, 1, 2])
    assert cooc._article_chunks(codes, 2) == [slice(0, 2), slice(2, 5), slice(5, 6)]
    assert cooc._article_chunks(codes, 100) == [slice(0, 6)]
    assert cooc._article_chunks(codes[:0], 2) == [slice(0, 0)]


@pytest.mark.parametrize("chunk", [1, 13])
def test_cooccurrence_in_article_chunks_brute_force(random_corpus, gaz, monkeypatch, chunk):
    """Counted in chunks of whole articles (for memory), from mentions in any order: the brute-force counts."""
    _, sentences, tokens, mentions = random_corpus
    monkeypatch.setattr(cooc, "COOC_CHUNK", chunk)
    got = cooc.textstat_cooccurrence(mentions.sample(frac=1, random_state=0), tokens, gaz, window=3)
    for level, n in (("sentence", len(sentences)), ("document", tokens["doc_id"].nunique())):
        assert table_of(got, level) == want_of(*brute_units(mentions, level), n)
    assert table_of(got, "window") == want_of(*brute_windows(mentions, tokens, 3))


def test_window_grows_with_k(an):
    small = table_of(an.cooccurrence(levels=("window",), window=3), "window")
    large = table_of(an.cooccurrence(levels=("window",), window=10), "window")
    assert set(small) <= set(large)
    for pair, (o, na, nb, _) in small.items():
        assert large[pair][0] >= o and large[pair][1] >= na and large[pair][2] >= nb


@pytest.mark.parametrize("source", ["seeds", "random"])
def test_cooccurrence_measures_from_counts(an, random_corpus, gaz, source):
    if source == "seeds":
        got = an.cooccurrence()
    else:
        _, _, tokens, mentions = random_corpus
        got = cooc.textstat_cooccurrence(mentions, tokens, gaz, window=5)
    assert set(got["level"]) == {"sentence", "window", "document"}
    for row in got.itertuples(index=False):
        want = my_measures(row.observed, row.n_a, row.n_b, row.n)
        for name, value in want.items():
            assert getattr(row, name) == pytest.approx(value, rel=1e-9, abs=1e-9), (
                row.actor_a,
                row.actor_b,
                row.level,
                name,
            )
    assert not got[["expected", "pmi", "npmi", "g2", "dice", "log_dice"]].isna().any().any()
    assert got["npmi"].between(-1 - 1e-12, 1 + 1e-12).all() and got["dice"].between(0, 1).all()


def test_cooccurrence_include_focal_adds_mali_pairs(an):
    base = an.cooccurrence()
    with_mali = an.cooccurrence(include_focal=True)
    involved = with_mali["actor_a"].eq(FOCAL) | with_mali["actor_b"].eq(FOCAL)
    assert involved.any()
    assert set(with_mali.loc[involved, "level"]) == {"sentence", "window", "document"}
    # the other pairs are untouched
    cols = ["actor_a", "actor_b", "level", "observed", "n_a", "n_b", "n"]
    rest = with_mali.loc[~involved, cols].sort_values(cols[:3]).reset_index(drop=True)
    assert rest.equals(base[cols].sort_values(cols[:3]).reset_index(drop=True))
    for level, n in (("sentence", len(an.sentences)), ("document", len(an.docs))):
        pairs, n_a = brute_units(an.mentions, level, include_focal=True)
        assert table_of(with_mali, level) == want_of(pairs, n_a, n)
    # e.g. France with Mali at sentence level
    fm = with_mali[
        (with_mali["level"] == "sentence") & (with_mali["actor_a"] == "France") & (with_mali["actor_b"] == FOCAL)
    ]
    assert len(fm) == 1 and fm["observed"].iloc[0] > 0


def test_cooccurrence_rollup_merges_children(an):
    gz = an.gazetteer
    rolled = an.cooccurrence(rollup=True)
    names = set(rolled["actor_a"]) | set(rolled["actor_b"])
    assert not ({"Wagner", "Barkhane", "Takuba", "EUTM Mali", "EUCAP Sahel Mali"} & names)
    assert {"Wagner", "Barkhane"} <= set(an.mentions["actor"])  # so the roll-up had something to do
    for level, n in (("sentence", len(an.sentences)), ("document", len(an.docs))):
        pairs, n_a = brute_units(an.mentions, level, root=gz.root)
        assert table_of(rolled, level) == want_of(pairs, n_a, n)
    # Russia's sentences now include Wagner's
    m = an.mentions
    sent_russia = set(
        zip(
            m.loc[m["actor"].isin(["Russia", "Wagner"]), "doc_id"],
            m.loc[m["actor"].isin(["Russia", "Wagner"]), "sentence_id"],
        )
    )
    sent_france = set(
        zip(
            m.loc[m["actor"].isin(["France", "Barkhane", "Serval"]), "doc_id"],
            m.loc[m["actor"].isin(["France", "Barkhane", "Serval"]), "sentence_id"],
        )
    )
    fr = rolled[
        (rolled["level"] == "sentence") & (rolled["actor_a"] == "France") & (rolled["actor_b"] == "Russia")
    ].iloc[0]
    assert (fr["n_a"], fr["n_b"], fr["observed"]) == (
        len(sent_france),
        len(sent_russia),
        len(sent_france & sent_russia),
    )
    # at window level Wagner's and Barkhane's windows add to Russia's and France's
    base = an.cooccurrence()
    sel = (base["level"] == "window") & (base["actor_a"] == "France") & (base["actor_b"] == "Russia")
    fr0 = base[sel].iloc[0]
    fr1 = rolled[
        (rolled["level"] == "window") & (rolled["actor_a"] == "France") & (rolled["actor_b"] == "Russia")
    ].iloc[0]
    assert fr1["n_a"] > fr0["n_a"] and fr1["n_b"] > fr0["n_b"]
    # the window level rolls up too
    rolled_m = actors.mentions_rollup(an.mentions, gz)
    pairs, n_a, n = brute_windows(rolled_m, an.tokens, an.window)
    assert table_of(rolled, "window") == want_of(pairs, n_a, n)


def test_mentions_rollup(an):
    r = actors.mentions_rollup(an.mentions, an.gazetteer)
    assert set(r.loc[r["actor_own"] == "Wagner", "actor"]) == {"Russia"}
    assert set(r.loc[r["actor_own"] == "Barkhane", "actor"]) == {"France"}
    assert (r["actor_own"] == an.mentions["actor"]).all()
    assert r["parent"].eq("").all()
    assert len(r) == len(an.mentions)


@pytest.mark.parametrize("window", [0, -1, -10, 2.5, 10.0, "10", True, None])
def test_cooccurrence_bad_window_raises(an, window):
    with pytest.raises(InputError) as exc:
        an.cooccurrence(window=window)
    assert "window" in str(exc.value)


@pytest.mark.parametrize("levels", [("paragraph",), ("sentence", "windows"), ("Sentence",)])
def test_cooccurrence_unknown_level_raises(an, levels):
    with pytest.raises(InputError) as exc:
        an.cooccurrence(levels=levels)
    assert "unknown level" in str(exc.value)


def test_mention_token_index_matches_naive(an, random_corpus):
    for tokens, mentions in ((an.tokens, an.mentions), random_corpus[2:]):
        got = cooc.mention_token_index(mentions, tokens)
        doc_tokens: dict = {}
        for d, s, e in zip(tokens["doc_id"], tokens["start"], tokens["end"]):
            doc_tokens.setdefault(d, []).append((s, e))
        want = [start_token(doc_tokens[d], s) for d, s in zip(mentions["doc_id"], mentions["start"])]
        assert list(got) == want


# ============================================================================= 6. collocates


def brute_collocates(tokens, mentions, gz, actor, k):
    """Documented definition: content tokens (not stopwords, not part of any mention) within k tokens of the actor's mentions."""
    doc_tokens: dict = {}
    for d, tid, s, e, norm, stop in zip(
        tokens["doc_id"], tokens["token_id"], tokens["start"], tokens["end"], tokens["norm"], tokens["is_stop"]
    ):
        doc_tokens.setdefault(d, []).append((tid, s, e, norm, stop))
    doc_tokens = {d: sorted(v) for d, v in doc_tokens.items()}
    family = {actor, *gz.descendants(actor)}
    in_mention: set = set()
    near: set = set()
    for d, a, ms, me in zip(mentions["doc_id"], mentions["actor"], mentions["start"], mentions["end"]):
        toks = doc_tokens[d]
        covered = [j for j, (_, s, e, _, _) in enumerate(toks) if s < me and e > ms]  # tokens overlapping the mention
        for j in covered:
            in_mention.add((d, j))
        if a in family:
            for j in range(len(toks)):
                if covered[0] - k <= j <= covered[-1] + k:
                    near.add((d, j))
    observed: Counter = Counter()
    term_freq: Counter = Counter()
    for d, toks in doc_tokens.items():
        for j, (_, _, _, norm, stop) in enumerate(toks):
            if stop or (d, j) in in_mention:
                continue
            term_freq[norm] += 1
            if (d, j) in near:
                observed[norm] += 1
    return observed, term_freq, len(near)


@pytest.mark.parametrize("actor", ["France", "Russia"])
@pytest.mark.parametrize("k", [3, 10])
def test_collocates_brute_force(an, actor, k):
    got = an.collocates([actor], window=k, min_freq=1, top=None)
    observed, term_freq, r1 = brute_collocates(an.tokens, an.mentions, an.gazetteer, actor, k)
    assert set(got["actor"]) == {actor}
    assert dict(zip(got["term"], got["observed"])) == dict(observed)
    assert dict(zip(got["term"], got["term_freq"])) == {t: term_freq[t] for t in observed}
    n = len(an.tokens)
    for row in got.itertuples(index=False):
        want = my_measures(row.observed, r1, row.term_freq, n)
        for name, value in want.items():
            assert getattr(row, name) == pytest.approx(value, rel=1e-9, abs=1e-9), (row.term, name)
    # ranked by G2 (the default), rank 1..n
    assert list(got["rank"]) == list(range(1, len(got) + 1))
    assert np.all(np.diff(got["g2"].to_numpy()) <= 1e-12)
    # the actor's own names are never collocates
    assert actor.lower() not in set(got["term"])


def test_collocates_one_term_by_hand(an):
    # France, window 10: "ambassador" is the top collocate on the seeds; count it token by token
    got = an.collocates(["France"], window=10, min_freq=1, top=None).set_index("term")
    observed, term_freq, _ = brute_collocates(an.tokens, an.mentions, an.gazetteer, "France", 10)
    assert observed["ambassador"] >= 2
    assert got.loc["ambassador", "observed"] == observed["ambassador"]
    assert got.loc["ambassador", "term_freq"] == term_freq["ambassador"]
    assert got.loc["ambassador", "term_freq"] == int(
        ((an.tokens["norm"] == "ambassador") & ~an.tokens["is_stop"]).sum()
    )


def test_collocates_min_freq_top_and_measure(an):
    full = an.collocates(["France", "Russia"], min_freq=1, top=None)
    assert set(full["actor"]) == {"France", "Russia"}
    two = an.collocates(["France", "Russia"], min_freq=2, top=None)
    assert (two["observed"] >= 2).all()
    assert len(two) == int((full["observed"] >= 2).sum())
    top5 = an.collocates(["France"], min_freq=1, top=5)
    assert len(top5) == 5 and list(top5["rank"]) == [1, 2, 3, 4, 5]
    by_pmi = an.collocates(["France"], min_freq=2, top=None, measure="pmi")
    assert np.all(np.diff(by_pmi["pmi"].to_numpy()) <= 1e-12)
    assert by_pmi.attrs["measure"] == "pmi"


@pytest.mark.parametrize("measure", ["t-score", "G2", "chi2", ""])
def test_collocates_invalid_measure_raises(an, measure):
    with pytest.raises(InputError) as exc:
        an.collocates(["France"], measure=measure)
    assert "unknown measure" in str(exc.value)


def test_collocates_unknown_actor_raises(an):
    with pytest.raises(InputError) as exc:
        an.collocates(["France", "Rusia"])
    assert "Russia" in str(exc.value) and "'Rusia'" in str(exc.value)


@pytest.mark.parametrize("window", [0, -3, 1.5])
def test_collocates_bad_window_raises(an, window):
    with pytest.raises(InputError):
        an.collocates(["France"], window=window)


def test_tallies_of_article_blocks_add_up_to_the_corpus_tables(an, monkeypatch):
    """Counted one article at a time and summed (as the table jobs count a large corpus): the whole-corpus tables."""
    whole_cooc = cooc.textstat_cooccurrence(
        an.mentions, an.tokens, an.gazetteer, window=4, n_sentences=len(an.sentences), n_docs=len(an.docs)
    )
    whole_coll = cooc.textstat_collocates(
        an.mentions, an.tokens, an.gazetteer, ["France", "Russia"], window=4, top=None
    )
    monkeypatch.setattr(pipeline, "BLOCK_ARTICLES", 1)
    assert len(list(pipeline.article_blocks(an, ("docs", "mentions", "tokens")))) == len(an.docs) > 1
    pd.testing.assert_frame_equal(an.cooccurrence(window=4), whole_cooc)
    pd.testing.assert_frame_equal(an.collocates(["France", "Russia"], window=4, top=None), whole_coll)
    # and by hand: the tallies of the first article and of the others add up to the corpus's
    first = an.docs["doc_id"].iloc[0]
    parts = [(an.mentions["doc_id"].eq(first), an.tokens["doc_id"].eq(first))]
    parts.append((~parts[0][0], ~parts[0][1]))
    summed = cooc.Tally()
    for m_rows, t_rows in parts:
        summed += cooc.cooccurrence_tally(an.mentions[m_rows], an.tokens[t_rows], an.gazetteer)
    assert summed == cooc.cooccurrence_tally(an.mentions, an.tokens, an.gazetteer)
    assert summed[("window", "", "")] == len(an.tokens)


def test_frequency_of_article_blocks_is_the_whole_table_bit_for_bit(an, monkeypatch):
    """Counted one article at a time (sums made in article order): every value equal, floats to the last bit."""
    whole = fq.textstat_frequency(an.terms, an.doc_sizes, ngram=[1, 2, 3])
    key = fq.keyness_actors(an.terms, an.mentions, an.gazetteer, "France", "Russia", min_freq=2)
    monkeypatch.setattr(pipeline, "BLOCK_ARTICLES", 1)
    pd.testing.assert_frame_equal(an.keyness(min_freq=2), key, check_exact=True)
    assert key.attrs == an.keyness(min_freq=2).attrs and len(key) > 10
    assert len(list(pipeline.article_blocks(an, ("docs", "terms")))) == len(an.docs) > 1
    pd.testing.assert_frame_equal(an.frequency(ngram=[1, 2, 3]), whole, check_exact=True)
    assert (whole["juilland_d"].between(0, 1) | whole["juilland_d"].isna()).all() and len(whole) > 100
    # the recoded pairs kept between passes: all of them when they fit, else none (not the first blocks): the same table
    made: list[int] = []  # the bytes of each block's recoded pairs, as made
    real = fq._corpus_pairs

    def counted(*a):
        pairs = real(*a)
        made.append(sum(x.nbytes for arrays in pairs.values() for x in arrays))
        return pairs

    monkeypatch.setattr(fq, "_corpus_pairs", counted)
    an.frequency(ngram=[1, 2, 3])
    everything = sum(made)
    for keep, passes in ((0, 3), (made[0] + made[1], 3), (everything - 1, 3), (everything, 1), (1 << 40, 1)):
        made.clear()
        monkeypatch.setattr(fq, "PAIRS_KEEP_BYTES", keep)
        pd.testing.assert_frame_equal(an.frequency(ngram=[1, 2, 3]), whole, check_exact=True)
        assert len(made) == passes * len(an.docs), keep  # one block per article here
    # the budget is also at most an eighth of the memory available, which the analysis reads from the system
    monkeypatch.setattr(fq, "PAIRS_KEEP_BYTES", 1 << 40)
    for have, passes in ((fq.PAIRS_KEEP_SHARE * everything - 1, 3), (fq.PAIRS_KEEP_SHARE * everything, 1)):
        made.clear()
        blocks = an._blocks_of("terms")
        got = fq.textstat_frequency_blocks(blocks, an.doc_sizes, ngram=[1, 2, 3], available=have)
        pd.testing.assert_frame_equal(got, whole, check_exact=True)
        assert len(made) == passes * len(an.docs), have
        made.clear()
        monkeypatch.setattr(pipeline, "available_memory", lambda have=have: have)
        pd.testing.assert_frame_equal(an.frequency(ngram=[1, 2, 3]), whole, check_exact=True)
        assert len(made) == passes * len(an.docs), have


def test_doc_sizes_from_token_runs_are_the_tokens_per_article(an):
    want = an.tokens.groupby("doc_id").size().reindex(an.docs["doc_id"], fill_value=0)
    pd.testing.assert_series_equal(an.doc_sizes, want)
    extra = pd.DataFrame({"doc_id": ["new"], "text": [""]})
    silent = dataclasses.replace(an, docs=pd.concat([an.docs, extra], ignore_index=True))
    assert silent.doc_sizes["new"] == 0 and silent.doc_sizes.drop("new").equals(want)


def test_terms_by_columns_match_the_sentence_loop(gaz):
    """Cross-check: the column-built terms equal the sentence-by-sentence MWETokenizer loop, tokens in any order."""
    docs = pd.DataFrame(
        {
            "doc_id": ["x", "y"],
            "text": [
                "The European Union met Mali. Russia left the West and the United States. 2022 was long.",
                "European leaders and the Alliance of Sahel States. Nothing here. ECOWAS, the European Union.",
            ],
        }
    )
    tokens = sentences_tokens(corpus_sentences(docs))
    shuffled = tokens.sample(frac=1, random_state=3).reset_index(drop=True)  # sentences interleaved
    for frame in (tokens, shuffled, tokens[tokens["doc_id"].eq("y")]):
        for g in (gaz, None):
            mwe = fq.mwe_tokenizer(g) if g is not None else None
            fast = fq.tokens_terms(frame, g)
            pd.testing.assert_frame_equal(fast, fq._tokens_terms_loop(frame, mwe, stem=False), check_exact=True)
    got = fq.tokens_terms(tokens, gaz)
    assert got[got["doc_id"].eq("y")]["term"].tolist()[:4] == [
        "european",
        "leaders",
        "alliance of sahel states",
        "nothing",
    ]
    assert got["position"].tolist()[:3] == [0, 1, 2]
    # random runs of the words of multiword names: nested, cut short, across sentence ends
    rng = random.Random(5)
    mwe = fq.mwe_tokenizer(gaz)
    parts = ["the", "of", "and", "mali", "2022", "west", "european", "union", "alliance", "sahel", "states", "united"]
    rows = [(f"d{sid // 40}", sid % 40, rng.choice(parts)) for sid in range(400) for _ in range(rng.randint(0, 12))]
    norms = pd.DataFrame(rows, columns=["doc_id", "sentence_id", "norm"])
    fast = fq.tokens_terms(norms, gaz)
    pd.testing.assert_frame_equal(fast, fq._tokens_terms_loop(norms, mwe, stem=False), check_exact=True)
    assert fast["term"].str.contains(" ").sum() > 20  # names were merged
