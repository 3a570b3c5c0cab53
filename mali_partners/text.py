"""Text layer: sentences and word tokens with NLTK, fully offline.

No NLTK data is downloaded or needed: sentences come from a
``PunktSentenceTokenizer`` built from the repository's abbreviation list
(``data/abbreviations.txt``), run line by line because a line break in these
articles ends a headline, a bullet or a paragraph. Words come from a
``RegexpTokenizer`` with character spans. Every sentence and token keeps its
offsets into the cleaned document text, so every count can be traced back.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ._nltk import PunktLanguageVars, PunktParameters, PunktSentenceTokenizer, PunktToken, RegexpTokenizer
from .frames import str_array

# Acronyms with periods (U.S.), numbers (150, 1,000, 2.5), words with inner hyphens or
# apostrophes (Mali-Russia, d’état, France's).
TOKEN_PATTERN = r"(?:[A-Z]\.){2,}|\d+(?:[.,]\d+)*|\w+(?:[-‐’']\w+)*"
_POSSESSIVE = re.compile(r"[’']s$")
# RegexpTokenizer's own flags: the compiled pattern gives the same spans without its per-token wrapper.
_TOKEN_RE = re.compile(TOKEN_PATTERN, re.UNICODE | re.MULTILINE | re.DOTALL)


def read_list(name: str) -> list[str]:
    """Read a one-item-per-line data file shipped in ``mali_partners/data``, skipping # comments."""
    text = resources.files("mali_partners").joinpath("data", name).read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _unwrapped(pattern: Any) -> Any:
    """The compiled pattern inside NLTK's time-limited wrapper (``nltk.redos``), or the pattern itself."""
    return getattr(pattern, "_rx", pattern)


class UnwrappedLanguageVars(PunktLanguageVars):
    """Punkt's language variables with its patterns run directly, not through NLTK's time-limited wrapper.

    Punkt's own fixed patterns (the candidate breaks, the realignment of closing quotes,
    its word tokens) are linear, so the wrapper's time limit guards nothing here, while its
    per-call and per-match cost was a quarter of sentence splitting (the same matches, by
    the same ``regex`` engine).
    """

    re_boundary_realignment = _unwrapped(PunktLanguageVars.re_boundary_realignment)

    def period_context_re(self) -> Any:
        return _unwrapped(super().period_context_re())

    def _word_tokenizer_re(self) -> Any:
        return _unwrapped(super()._word_tokenizer_re())


class AbbreviationPunkt(PunktSentenceTokenizer):
    """NLTK's Punkt for parameters that hold abbreviations only (no collocations, sentence
    starters or orthographic statistics), deciding each candidate break without building
    Punkt's token objects.

    Punkt asks, at every ".", "?" or "!", whether the few words around it hold a sentence
    break (:meth:`text_contains_sentbreak`): two annotation passes over ``PunktToken``
    objects, most of the time Punkt spends here. With nothing learned but abbreviations,
    those passes reduce to the rules of :meth:`_breaks_before`, applied to the same word
    tokens with Punkt's own regular expressions. Any other parameters go through NLTK's
    code unchanged. Tested against NLTK's tokenizer on every seed line and on random text.
    NLTK wraps its patterns to stop a runaway match after a time limit; Punkt's own are
    linear, so they run directly (the wrapper cost as much as the matching): the three
    below, and those of :class:`UnwrappedLanguageVars`, the default language variables.
    """

    def __init__(
        self, train_text: Any = None, verbose: bool = False, lang_vars: Any = None, token_cls: Any = PunktToken
    ) -> None:
        super().__init__(train_text, verbose, lang_vars or UnwrappedLanguageVars(), token_cls)

    _ELLIPSIS, _NUMERIC, _INITIAL = (
        _unwrapped(getattr(PunktToken, n)) for n in ("_RE_ELLIPSIS", "_RE_NUMERIC", "_RE_INITIAL")
    )

    def text_contains_sentbreak(self, text: str) -> bool:
        """True when a word other than the last ends a sentence (NLTK's rule, NLTK's result)."""
        params = self._params
        if params.collocations or params.sent_starters or any(params.ortho_context.values()):
            return super().text_contains_sentbreak(text)
        findall = _unwrapped(self._lang_vars._word_tokenizer_re()).findall  # what word_tokenize runs
        words = [w for line in text.split("\n") if line.strip() for w in findall(line)]
        return any(self._breaks_before(words[i], words[i + 1]) for i in range(len(words) - 1))

    def _breaks_before(self, tok: str, nxt: str) -> bool:
        """Whether Punkt's two passes mark ``tok``, followed by ``nxt``, as a sentence break.

        First pass: ".", "?" and "!" break; a word ending in one period breaks unless it
        is a known abbreviation. Second pass (words ending in a period), with no learned
        orthography: an initial or a number does not break before punctuation or a
        lower-case word, and an initial does not break before an upper-case word.
        """
        if tok in self._lang_vars.sent_end_chars:
            brk = True
        elif self._ELLIPSIS.match(tok):
            brk = False
        elif tok.endswith(".") and not tok.endswith(".."):
            low = tok[:-1].lower()
            abbrev = self._params.abbrev_types
            brk = not (low in abbrev or low.split("-")[-1] in abbrev)
        else:
            brk = False
        if not tok.endswith("."):
            return brk
        typ = self._NUMERIC.sub("##number##", tok.lower())
        if len(typ) > 1 and typ[-1] == ".":
            typ = typ[:-1]
        initial = bool(self._INITIAL.match(tok))
        if initial or typ == "##number##":
            if nxt in self.PUNCTUATION or nxt[0].islower():  # the orthographic heuristic says "not a starter"
                return False
            if initial and nxt[0].isupper():
                return False
        return brk


@lru_cache(maxsize=1)
def sentence_tokenizer() -> PunktSentenceTokenizer:
    """Punkt with the repository's abbreviations; needs no NLTK data."""
    params = PunktParameters()
    params.abbrev_types = set(read_list("abbreviations.txt"))
    return AbbreviationPunkt(params)


@lru_cache(maxsize=1)
def word_tokenizer() -> RegexpTokenizer:
    """The word tokenizer: a regular expression, so spans are exact and no data is needed."""
    return RegexpTokenizer(TOKEN_PATTERN)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The repository's stopword list (``data/stopwords.txt``; source noted there)."""
    return frozenset(read_list("stopwords.txt"))


def is_stop(norm: str, stops: frozenset[str]) -> bool:
    """Whether a normalised token is left out of the terms: a stopword, or no letter at all (numbers, punctuation).

    >>> is_stop("the", stopwords()), is_stop("2022", stopwords()), is_stop("mali", stopwords())
    (True, True, False)
    """
    return norm in stops or not any(c.isalpha() for c in norm)


def fold(text: str) -> str:
    """Strip accents one character for one character (``Goïta`` -> ``Goita``), so offsets are kept.

    >>> fold("Sergueï Goïta Côte d’Ivoire")
    'Serguei Goita Cote d’Ivoire'
    """
    return "".join(unicodedata.normalize("NFD", ch)[0] for ch in text)


def normalise_token(token: str) -> str:
    """Lower-case, unify apostrophes and drop a possessive: ``France’s`` -> ``france``.

    >>> normalise_token("France’s"), normalise_token("d’État")
    ('france', "d'état")
    """
    t = token.lower().replace("’", "'").replace("‐", "-")
    return _POSSESSIVE.sub("", t)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of one cleaned text (line breaks always end a sentence)."""
    tok = sentence_tokenizer()
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            for s, e in tok.span_tokenize(line):
                seg = line[s:e]
                lead = len(seg) - len(seg.lstrip())
                trail = len(seg) - len(seg.rstrip())
                if e - trail > s + lead:
                    spans.append((pos + s + lead, pos + e - trail))
        pos += len(line) + 1
    return spans


def corpus_sentences(docs: pd.DataFrame) -> pd.DataFrame:
    """One row per sentence: doc_id, sentence_id (from 0 in each article), start, end, text.

    ``start``/``end`` are offsets into the article's cleaned ``text``.
    """
    rows = []
    for doc_id, text in zip(docs["doc_id"].tolist(), docs["text"].tolist()):
        for i, (s, e) in enumerate(sentence_spans(text)):
            rows.append((doc_id, i, s, e, text[s:e]))
    out = pd.DataFrame(rows, columns=["doc_id", "sentence_id", "start", "end", "text"])
    out.attrs.update(docs.attrs)
    return out


def sentence_lookup(sentences: pd.DataFrame) -> dict[tuple[str, int], tuple[str, int]]:
    """``(doc_id, sentence_id) -> (text, start)`` for every sentence: the O(1) lookup the per-row steps use."""
    keys = zip(sentences["doc_id"].tolist(), sentences["sentence_id"].tolist())
    return dict(zip(keys, zip(sentences["text"].tolist(), [int(x) for x in sentences["start"].tolist()])))


def sentence_rows(sentences: pd.DataFrame, doc_id: pd.Series, sentence_id: pd.Series) -> np.ndarray:
    """Row position in ``sentences`` of each (doc_id, sentence_id) pair, for taking sentence columns in bulk.

    Per-row tables take texts by position (in Arrow) instead of a Python string per row.
    """
    index = pd.MultiIndex.from_arrays([sentences["doc_id"], sentences["sentence_id"]])
    rows = index.get_indexer(pd.MultiIndex.from_arrays([doc_id, sentence_id]))
    if (rows < 0).any():
        i = int(np.flatnonzero(rows < 0)[0])
        raise KeyError(f"no sentence {sentence_id.iloc[i]} in article {doc_id.iloc[i]!r}")
    return rows


def sentences_tokens(sentences: pd.DataFrame) -> pd.DataFrame:
    """One row per word token: doc_id, sentence_id, token_id (from 0 in each article), start, end, token, norm, is_stop.

    ``norm`` is the lower-cased token without a possessive; ``is_stop`` marks the
    repository's stopwords and tokens with no letter (numbers, punctuation).
    Built column by column: Python touches each token once (its start and surface),
    the rest is numpy and Arrow, and each distinct token is normalised once.
    """
    cols = ["doc_id", "sentence_id", "token_id", "start", "end", "token", "norm", "is_stop"]
    finditer, start_of, group_of = _TOKEN_RE.finditer, re.Match.start, re.Match.group
    starts: list[int] = []
    surfaces: list[str] = []
    counts: list[int] = []
    for text in sentences["text"].tolist():
        found = list(finditer(text))
        counts.append(len(found))
        starts += map(start_of, found)
        surfaces += map(group_of, found)
    if not surfaces:  # as before: an empty frame of untyped columns
        out = pd.DataFrame([], columns=cols)
        out.attrs.update(sentences.attrs)
        return out
    import pyarrow as pa
    import pyarrow.compute as pc

    sent_of = np.repeat(np.arange(len(counts)), counts)  # each token's sentence (row)
    doc_code = pd.factorize(sentences["doc_id"])[0][sent_of]
    token_id = pd.Series(doc_code).groupby(doc_code, sort=False).cumcount().to_numpy()  # numbered in each article
    start = np.asarray(starts, dtype=np.int64) + sentences["start"].to_numpy(dtype=np.int64)[sent_of]
    token = pa.array(surfaces, type=pa.large_string())
    coded = pc.dictionary_encode(token)  # each distinct token normalised once
    stops = stopwords()
    norms = [normalise_token(t) for t in coded.dictionary.to_pylist()]
    stop = np.array([is_stop(n, stops) for n in norms], dtype=bool)
    out = pd.DataFrame(
        {
            "doc_id": str_array(pa.array(sentences["doc_id"]).take(pa.array(sent_of))),
            "sentence_id": sentences["sentence_id"].to_numpy()[sent_of],
            "token_id": token_id,
            "start": start,
            "end": start + pc.utf8_length(token).to_numpy().astype(np.int64),
            "token": str_array(token),
            "norm": str_array(pa.array(norms, type=pa.large_string()).take(coded.indices)),
            "is_stop": stop[coded.indices.to_numpy()],
        },
        copy=False,
    )
    out.attrs.update(sentences.attrs)
    return out


CORPUS_TOKEN_COLUMNS = ("doc_id", "sentence_id", "token_id", "start", "end", "norm", "is_stop")


def tokens_compact(tokens: pd.DataFrame) -> pd.DataFrame:
    """The token columns the corpus-level steps read (:data:`CORPUS_TOKEN_COLUMNS`), positions as int32.

    The per-article step keeps one row per word token for the whole corpus (the largest
    frame): without the surface form (``text[start:end]``) and with 32-bit numbers, it
    takes about 40% less memory and cache space.
    """
    small = {"sentence_id": "int32", "token_id": "int32", "start": "int32", "end": "int32"}
    out = tokens[list(CORPUS_TOKEN_COLUMNS)].astype(small)
    out.attrs.update(tokens.attrs)
    return out
