"""Association measures on a 2x2 contingency table, shared by keyness, co-occurrence and collocates.

Notation (Evert 2005): ``o11`` joint frequency, ``r1`` and ``c1`` the two marginals,
``n`` the sample size. ``E11 = r1 * c1 / n``. All functions accept scalars or numpy
arrays and never divide by zero silently: callers filter ``o11 >= 1`` first.
"""

from __future__ import annotations

import math

import numpy as np


def _xlogx_ratio(o: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``o * ln(o / e)`` with the convention 0 * ln 0 = 0."""
    o = np.asarray(o, dtype=float)
    e = np.asarray(e, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(o > 0, o * np.log(np.where(o > 0, o, 1.0) / np.where(e > 0, e, 1.0)), 0.0)
    return out


def contingency(o11, r1, c1, n):
    """The four observed cells (o11, o12, o21, o22) of the table with marginals r1, c1 and total n."""
    o11, r1, c1, n = (np.asarray(x, dtype=float) for x in (o11, r1, c1, n))
    return o11, r1 - o11, c1 - o11, n - r1 - c1 + o11


def g2(o11, r1, c1, n) -> np.ndarray:
    """Dunning's log-likelihood ratio G2 = 2 * sum O ln(O/E) over the four cells.

    >>> round(float(g2(10, 20, 30, 100)), 4)
    4.4734
    """
    cells = contingency(o11, r1, c1, n)
    r1, c1, n = (np.asarray(x, dtype=float) for x in (r1, c1, n))
    r2, c2 = n - r1, n - c1
    expected = (r1 * c1 / n, r1 * c2 / n, r2 * c1 / n, r2 * c2 / n)
    return 2 * sum(_xlogx_ratio(o, e) for o, e in zip(cells, expected))


def chi2_p(g2_value) -> np.ndarray:
    """p-value of G2 under chi-squared with one degree of freedom: ``erfc(sqrt(G2 / 2))``."""
    v = np.maximum(np.asarray(g2_value, dtype=float), 0.0)
    if v.ndim == 0:
        return np.float64(math.erfc(math.sqrt(float(v) / 2)))
    return np.vectorize(lambda x: math.erfc(math.sqrt(x / 2)), otypes=[float])(v)


def expected(r1, c1, n) -> np.ndarray:
    """Expected joint frequency under independence."""
    return np.asarray(r1, dtype=float) * np.asarray(c1, dtype=float) / np.asarray(n, dtype=float)


def pmi(o11, r1, c1, n) -> np.ndarray:
    """Pointwise mutual information log2(O / E).

    >>> float(pmi(10, 20, 25, 100))
    1.0
    """
    return np.log2(np.asarray(o11, dtype=float) / expected(r1, c1, n))


def npmi(o11, r1, c1, n) -> np.ndarray:
    """Normalised PMI (Bouma 2009): PMI / -log2(O / n), in [-1, 1]; 1 when the two always co-occur.

    Where O = n the normaliser is 0 and NPMI is defined as 1.
    """
    p11 = np.asarray(o11, dtype=float) / np.asarray(n, dtype=float)
    denom = -np.log2(p11)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, pmi(o11, r1, c1, n) / np.where(denom > 0, denom, 1.0), 1.0)


def dice(o11, r1, c1) -> np.ndarray:
    """Dice coefficient 2 O / (r1 + c1), in [0, 1]."""
    return 2 * np.asarray(o11, dtype=float) / (np.asarray(r1, dtype=float) + np.asarray(c1, dtype=float))


def log_dice(o11, r1, c1) -> np.ndarray:
    """logDice (Rychlý 2008): 14 + log2(Dice); at most 14, independent of corpus size."""
    return 14 + np.log2(dice(o11, r1, c1))


def log_ratio(a, n1, b, n2) -> np.ndarray:
    """Hardie's log ratio: log2 of the ratio of relative frequencies, 0.5 added to a zero count.

    >>> float(log_ratio(8, 1000, 2, 1000))
    2.0
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a = np.where(a == 0, 0.5, a)
    b = np.where(b == 0, 0.5, b)
    return np.log2((a / np.asarray(n1, dtype=float)) / (b / np.asarray(n2, dtype=float)))


def association(o11, r1, c1, n) -> dict[str, np.ndarray]:
    """Every measure of the 2x2 table at once: expected, pmi, npmi, g2, dice, log_dice."""
    return {
        "expected": expected(r1, c1, n),
        "pmi": pmi(o11, r1, c1, n),
        "npmi": npmi(o11, r1, c1, n),
        "g2": g2(o11, r1, c1, n),
        "dice": dice(o11, r1, c1),
        "log_dice": log_dice(o11, r1, c1),
    }
