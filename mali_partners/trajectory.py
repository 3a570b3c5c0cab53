"""Trajectories: dated, scored partner mentions, and the series and events they make.

The chain is: each partner mention gets a date (:mod:`mali_partners.dating`); each
sentence gets the relation cues of the lexicon, with negation and modality; each cue
is attributed to the nearest partner mention in its clause; a sentence-partner *unit*
gets the sum of its cues (clipped to [-1, 1]). Series aggregate units and mentions per
partner and period, with a bootstrap confidence interval and the evidence count, and
keep the sentences behind every point.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .dating import Resolved, date_mention, resolve
from .errors import InputError, Problem, utf8_problem
from .frames import ColumnTaker, array_take, frame_take
from .gazetteer import Gazetteer, yaml_parse, yaml_problem, yaml_value
from .text import sentence_lookup, sentence_rows

PERIODS = {"year": "Y", "quarter": "Q", "month": "M"}
MIN_EVIDENCE = 3  # scored units below which a period's score is flagged low_evidence
CUE_TYPES = ("verbal", "material")
LEXICON_KEYS = {"cue", "pattern", "weight", "type", "plover", "event", "note"}
_CLAUSE_BREAK = re.compile(
    r"[;:()]|,\s+(?:but|while|whereas|although|though|however|despite|which|who|claiming|saying)\b|\s(?:but|while|whereas|although)\s",
    re.I,
)
_COORD = re.compile(
    r"^(?:\s*,\s*|\s*,?\s+(?:and|or)\s+|\s*,\s*(?:and|or)\s+)(?:the\s+)?$"
    r"|^(?:\s+(?:and\s+)?\w+){0,3}\s+(?:partners?|allies|countries|states|powers)\s*[,\u2014\u2013-]\s*(?:especially|including|notably|mainly|particularly|most notably|such as)\s+(?:the\s+)?$"
    r"|^\s*[,\u2014\u2013-]\s*(?:especially|including|notably|mainly|particularly|most notably|such as)\s+(?:the\s+)?$",
    re.I,
)
HIT_FIELDS = ("cue", "surface", "weight", "type", "plover", "event", "negated", "modal", "conceded", "effective")
DESCRIPTOR_CUES = frozenset({"alliance", "partnership"})  # status words that can describe a partner ("Western allies")
_CONCESSIVE = re.compile(
    r"\b(?:despite|in spite of|notwithstanding)\b[^,;:]*$", re.I
)  # "Despite X, ...": X is conceded
_POSTING = re.compile(
    r"\b(?:ambassador|embassy|envoy)\b[^.;]{0,30}\b(?:in|to|at)\s+(?:the\s+)?$", re.I
)  # "ambassador in Paris" is a relation with France
_CONCESSIVE_WORDS = ("despite", "spite", "notwithstanding")  # a sentence without one of them concedes nothing
_VENUE = re.compile(r"\b(?:in|at|from|to)\s+(?:the\s+)?$", re.I)
_WORD_START = re.compile(r"\w")
_SCOPE_END = re.compile(r"[,;:\u201c\u201d\"]")  # a negator's or modal's scope ends at this punctuation
_WORD = re.compile(r"\w+(?:[’'-]\w+)*")


@dataclass
class Cue:
    """One lexicon entry, compiled."""

    cue: str
    pattern: re.Pattern[str]
    weight: float
    type: str
    plover: str
    event: bool
    line: int


def _literal_prefixes(pattern: str) -> tuple[str, ...]:
    """The lower-cased literal start of each top-level alternative of ``\\b(?:a|b|...)\\b``.

    Every match of the pattern contains one of them, so they are a safe, cheap pre-test.
    An alternative with no literal start gives "", which every text contains.

    >>> _literal_prefixes(r"\\b(?:favou?red partner|defen[cs]e pact|coup)\\b")
    ('favo', 'defen', 'coup')
    """
    inner = pattern[5:-3] if pattern.startswith("\\b(?:") and pattern.endswith(")\\b") else ""
    alts, depth, cur = [], 0, ""
    for ch in inner:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "|" and depth == 0:
            alts.append(cur)
            cur = ""
        else:
            cur += ch
    alts.append(cur)
    out = []
    for alt in alts:
        pre = ""
        for i, ch in enumerate(alt):
            if ch in "\\[(.^$|*+?{)":
                break
            if i + 1 < len(alt) and alt[i + 1] in "?*{":
                break
            pre += ch
        out.append(pre.lower())
    return tuple(out)


def _fewest_prefixes(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """The prefixes that contain no other one, in order: a text holds one of ``prefixes``
    exactly when it holds one of these (every text holding "withdrawn" holds "withdraw"),
    and the pre-test of each sentence runs fewer substring searches.

    >>> _fewest_prefixes(("withdraw", "withdraws", "pull out", "withdrawn", "pull out"))
    ('withdraw', 'pull out')
    """
    out: list[str] = []
    for i, p in enumerate(prefixes):
        if p in out or any(q in p for j, q in enumerate(prefixes) if j != i and q != p):
            continue
        out.append(p)
    return tuple(out)


@dataclass
class Lexicon:
    """The relation lexicon and its scope settings."""

    cues: list[Cue]
    negators: list[str]
    modals: list[str]
    negation_window: int
    attribution_window: int
    object_window: int
    negation_factor: float
    modal_factor: float
    concessive_factor: float
    descriptor_factor: float
    threshold: float
    version: str
    sha: str
    path: str
    _neg: re.Pattern[str] = field(init=False, repr=False)
    _mod: re.Pattern[str] = field(init=False, repr=False)
    _triggers: list[tuple[Cue, tuple[str, ...] | None]] = field(init=False, repr=False)
    _gates: tuple | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self._neg = re.compile(
            r"\b(?:" + "|".join(re.escape(n) for n in sorted(self.negators, key=len, reverse=True)) + r")\b", re.I
        )
        self._mod = re.compile(
            r"\b(?:" + "|".join(re.escape(n) for n in sorted(self.modals, key=len, reverse=True)) + r")\b", re.I
        )
        # Longest pattern first (a longer cue wins an overlap), each with the literal prefixes its
        # matches must contain (lower-cased): a cue whose prefixes are all absent from a sentence
        # cannot match, and its regex is not run.
        self._triggers = []
        for c in sorted(self.cues, key=lambda c: -len(c.pattern.pattern)):
            pre = _literal_prefixes(c.pattern.pattern)
            self._triggers.append((c, None if "" in pre else _fewest_prefixes(pre)))  # None: always run the cue

    def gates(self) -> tuple[re.Pattern[str] | None, dict[str, tuple[int, ...]], tuple[int, ...]]:
        """Where cues can start: one pattern for every prefix, the triggers each found prefix opens, and the rest.

        A cue's match starts where a word starts (its pattern opens with ``\\b``), so a
        trigger whose prefixes all start with a word character can only match where a
        word of the sentence starts with one of them. One pass of a trie pattern
        (:func:`actors.trie_alternation`, tried at word starts only) finds the longest
        prefix at each; every shorter prefix of it is there too. Triggers with no prefix,
        or a prefix of another kind, are always run. Rebuilt when ``_triggers`` is replaced.
        """
        if self._gates is None or self._gates[0] is not self._triggers:
            from .actors import trie_alternation

            prefixes = {p for _, pre in self._triggers if pre for p in pre if p.isascii() and _WORD_START.match(p)}
            opens: dict[str, list[int]] = {}
            always: list[int] = []
            for i, (_, pre) in enumerate(self._triggers):
                if pre is None or not all(p in prefixes for p in pre):
                    always.append(i)
                    continue
                for p in prefixes:
                    if any(p.startswith(q) for q in pre):  # p found: its prefix q is there too
                        opens.setdefault(p, []).append(i)
            pattern = re.compile(r"(?<!\w)(?=(" + trie_alternation(sorted(prefixes)) + "))") if prefixes else None
            self._gates = (self._triggers, pattern, {p: tuple(v) for p, v in opens.items()}, tuple(always))
        return self._gates[1], self._gates[2], self._gates[3]

    def frame(self) -> pd.DataFrame:
        """One row per cue: cue, pattern, weight, type, plover, event."""
        return pd.DataFrame(
            [
                {
                    "cue": c.cue,
                    "pattern": c.pattern.pattern[3:-3],
                    "weight": c.weight,
                    "type": c.type,
                    "plover": c.plover,
                    "event": c.event,
                }
                for c in self.cues
            ]
        )


def lexicon_default_path() -> str:
    """Path of the packaged lexicon."""
    return str(resources.files("mali_partners").joinpath("data", "lexicon.yaml"))


def lexicon_load(path: str | os.PathLike[str] | None = None) -> Lexicon:
    """Load and check a relation lexicon; raise :class:`InputError` listing every problem."""
    name = str(path or lexicon_default_path())
    p = Path(name)
    if not p.is_file():
        raise InputError(
            [Problem(name, "the lexicon file does not exist", "give the path of a lexicon YAML file")], "lexicon"
        )
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
        root = yaml_parse(text)
        doc = yaml_value(root)
    except yaml.YAMLError as exc:
        raise InputError([yaml_problem(name, exc, "fix the quoting or indentation there")], "lexicon") from None
    except UnicodeDecodeError as exc:
        raise InputError([utf8_problem(name, data, exc.start)], "lexicon") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cues"), list):
        raise InputError([Problem(name, "no `cues:` list", "start from the packaged lexicon.yaml")], "lexicon")
    lines = []
    for node_k, node_v in root.value:
        if node_k.value == "cues":
            lines = [n.start_mark.line + 1 for n in node_v.value]
    problems: list[Problem] = []
    cues: list[Cue] = []
    seen_names: dict[str, int] = {}
    seen_forms: dict[str, tuple[str, int]] = {}
    for i, entry in enumerate(doc["cues"]):
        line = lines[i] if i < len(lines) else 0
        where = f"line {line}"
        if not isinstance(entry, dict):
            problems.append(
                Problem(
                    name,
                    "a cue must be a mapping with cue, pattern, weight, type",
                    "see the header of lexicon.yaml",
                    where,
                )
            )
            continue
        cname = str(entry.get("cue", "")).strip()
        where += f" (cue {cname})" if cname else ""
        for k in entry:
            if k not in LEXICON_KEYS:
                problems.append(
                    Problem(name, f"unknown field {k!r}", f"allowed: {', '.join(sorted(LEXICON_KEYS))}", where)
                )
        if not cname:
            problems.append(Problem(name, "a cue has no name", "add `cue:`", where))
        elif cname in seen_names:
            problems.append(
                Problem(
                    name,
                    f"cue {cname!r} is defined twice (also line {seen_names[cname]})",
                    "merge the two entries",
                    where,
                )
            )
        else:
            seen_names[cname] = line
        weight = entry.get("weight")
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not -1 <= float(weight) <= 1:
            problems.append(
                Problem(
                    name,
                    f"weight {weight!r} is out of range",
                    "use a number from -1 (most conflictual) to 1 (most cooperative)",
                    where,
                )
            )
            weight = 0.0
        ctype = entry.get("type")
        if ctype not in CUE_TYPES:
            problems.append(
                Problem(name, f"type {ctype!r} is not allowed", f"use one of: {', '.join(CUE_TYPES)}", where)
            )
        pattern = str(entry.get("pattern", "")).strip()
        if not pattern:
            problems.append(
                Problem(name, "the pattern is empty", "give the word forms, e.g. expel|expelled|expulsion", where)
            )
            continue
        for form in pattern.split("|"):
            key = form.strip().lower()
            if key in seen_forms and seen_forms[key][0] != cname:
                problems.append(
                    Problem(
                        name,
                        f"the form {form!r} is also in cue {seen_forms[key][0]!r} (line {seen_forms[key][1]})",
                        "keep each word form in one cue only",
                        where,
                    )
                )
            seen_forms.setdefault(key, (cname, line))
        try:
            compiled = re.compile(r"\b(?:" + pattern + r")\b", re.I)
        except re.error as exc:
            problems.append(
                Problem(name, f"the pattern is not a valid regular expression: {exc}", "fix the pattern", where)
            )
            continue
        cues.append(
            Cue(
                cname,
                compiled,
                float(weight),
                str(ctype),
                str(entry.get("plover", "")),
                bool(entry.get("event", False)),
                line,
            )
        )
    for key, lo, hi in (("negation_factor", -1, 1), ("modal_factor", 0, 1), ("threshold", 0, 1)):
        v = doc.get(key)
        if not isinstance(v, (int, float)) or not lo <= v <= hi:
            problems.append(Problem(name, f"{key} {v!r} is out of range", f"use a number from {lo} to {hi}"))
    nw = doc.get("negation_window")
    if not isinstance(nw, int) or nw < 1:
        problems.append(Problem(name, f"negation_window {nw!r} must be a whole number >= 1", "use e.g. 4"))
    if problems:
        raise InputError(problems, f"lexicon {name}")
    return Lexicon(
        cues,
        list(doc.get("negators", [])),
        list(doc.get("modals", [])),
        int(nw),
        int(doc.get("attribution_window", 10)),
        int(doc.get("object_window", 6)),
        float(doc["negation_factor"]),
        float(doc["modal_factor"]),
        float(doc.get("concessive_factor", 0.0)),
        float(doc.get("descriptor_factor", 0.5)),
        float(doc["threshold"]),
        str(doc.get("version", "")),
        hashlib.sha256(data).hexdigest()[:12],
        name,
    )


# ----------------------------------------------------------------------------- dating


DATE_COLUMNS = [
    "date_earliest",
    "date_latest",
    "date_point",
    "date_precision",
    "date_source",
    "date_expression",
    "date_note",
]


def _date_row(d: Resolved) -> tuple:
    """The :data:`DATE_COLUMNS` of one dated mention."""
    source = "publication" if d.precision == "publication" else "in-text"
    return (d.earliest, d.latest, d.point, d.precision, source, d.expression, d.note)


def mentions_date(mentions: pd.DataFrame, sentences: pd.DataFrame, docs: pd.DataFrame) -> pd.DataFrame:
    """Add the date of each mention: date_earliest, date_latest, date_point (Timestamps),
    date_precision (day, month, year, range, publication), date_source (in-text or
    publication), date_expression and date_note.
    """
    sent = sentence_lookup(sentences)
    pub = {d: (lo.date(), hi.date()) for d, lo, hi in zip(docs["doc_id"], docs["date_earliest"], docs["date_latest"])}
    cache: dict[tuple[str, int], list] = {}
    # most sentences hold no time expression: their mentions all take the article's publication
    # date, one row per publication interval
    undated: dict[tuple, tuple] = {}
    rows = []
    for doc_id, sid, start, end in zip(
        mentions["doc_id"].tolist(),
        mentions["sentence_id"].tolist(),
        mentions["start"].tolist(),
        mentions["end"].tolist(),
    ):
        lo, hi = pub[doc_id]
        key = (doc_id, sid)
        found = cache.get(key)
        if found is None:
            text, s0 = sent[key]
            found = cache[key] = resolve(text, lo, hi)
        if not found:
            row = undated.get((lo, hi))
            if row is None:
                row = undated[(lo, hi)] = _date_row(date_mention(found, 0, 0, lo, hi))
            rows.append(row)
            continue
        s0 = sent[key][1]
        rows.append(_date_row(date_mention(found, int(start) - int(s0), int(end) - int(s0), lo, hi)))
    extra = pd.DataFrame(rows, columns=DATE_COLUMNS, index=mentions.index)
    for c in ("date_earliest", "date_latest", "date_point"):
        extra[c] = pd.to_datetime(extra[c]) if len(extra) else pd.Series(dtype="datetime64[ns]")
    out = pd.concat([mentions, extra], axis=1)
    out.attrs.update(mentions.attrs)
    return out


# ----------------------------------------------------------------------------- cues


def sentence_cues(text: str, lex: Lexicon) -> list[dict]:
    """The cues of one sentence, left to right, with negation and modality applied.

    Each: cue, start, end, surface, weight, type, plover, event, negated, modal, effective.
    A negator or modal counts only between the previous cue and this one, within
    ``negation_window`` words, so "unlikely to reject Russian support" negates
    "reject" and not "support".
    """
    hits = []
    taken: list[tuple[int, int]] = []
    # re.I also lets "ı", "ſ", "K" and "İ" match ASCII i, s, k, i: lower() gives k for "K", the
    # replacements give the others ("İ".lower() is "i" and a combining dot above, which goes)
    low = text.lower() if text.isascii() else text.lower().replace("ı", "i").replace("ſ", "s")
    triggers = lex._triggers
    if len(low) == len(text):
        # same offsets, and lower() keeps every character a word character or not (tested
        # over all of Unicode): the words of ``low`` start where those of ``text`` do
        starts, opens, always = lex.gates()
        pick = set(always)
        if starts is not None:
            for p in set(starts.findall(low)):
                pick.update(opens[p])
        candidates = [triggers[i] for i in sorted(pick)]  # in trigger order, as the loop below needs
    else:
        low = low.replace("\u0307", "")
        candidates = triggers
    present = []
    for c, pre in candidates:  # a loop with break: twice as fast as any() over a generator
        if pre is None:
            present.append(c)
            continue
        for p in pre:
            if p in low:
                present.append(c)
                break
    for c in present:
        for m in c.pattern.finditer(text):
            s, e = m.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            taken.append((s, e))
            hits.append((s, e, c))
    hits.sort(key=lambda h: h[0])
    out = []
    prev_start = prev_end = 0
    # the same lower-cased pre-test as the cues': without one of these words _CONCESSIVE cannot match
    concessive = any(w in low for w in _CONCESSIVE_WORDS)
    for s, e, c in hits:
        before = _SCOPE_END.split(text[prev_end:s])[-1]  # scope ends at punctuation
        window = " ".join(_WORD.findall(before)[-lex.negation_window :])
        negated = bool(lex._neg.search(window))
        # a modal may be the previous cue itself ("threatened to withdraw")
        before_modal = _SCOPE_END.split(text[prev_start:s])[-1]
        modal = bool(lex._mod.search(" ".join(_WORD.findall(before_modal)[-(lex.negation_window + 2) :])))
        if (
            modal
            and out
            and prev_end > prev_start
            and lex._mod.search(text[prev_start:prev_end] + text[prev_end:s])
            and not lex._mod.search(text[prev_end:s])
        ):
            # the previous cue is itself the modal ("threatened to withdraw"): it frames this cue, it is not an act of its own
            out[-1]["effective"] = 0.0
            out[-1]["modal"] = True
        conceded = concessive and bool(_CONCESSIVE.search(text[:s]))
        eff = (
            c.weight
            * (lex.negation_factor if negated else 1.0)
            * (lex.modal_factor if modal else 1.0)
            * (lex.concessive_factor if conceded else 1.0)
        )
        out.append(
            {
                "cue": c.cue,
                "start": s,
                "end": e,
                "surface": text[s:e],
                "weight": c.weight,
                "type": c.type,
                "plover": c.plover,
                "event": c.event,
                "negated": negated,
                "modal": modal,
                "conceded": conceded,
                "effective": eff,
            }
        )
        prev_start, prev_end = s, e
    return out


def _clauses(text: str) -> list[tuple[int, int]]:
    cuts = [0, *[m.start() for m in _CLAUSE_BREAK.finditer(text)], len(text)]
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _clause_of(pos: int, clauses: list[tuple[int, int]]) -> int:
    for i, (a, b) in enumerate(clauses):
        if a <= pos < b:
            return i
    return len(clauses) - 1


def _word_gap(text: str, a: tuple[int, int], b: tuple[int, int]) -> int:
    lo, hi = (a[1], b[0]) if a[0] <= b[0] else (b[1], a[0])
    return len(_WORD.findall(text[lo:hi])) if hi > lo else 0


def attribute_cue(
    text: str,
    span: tuple[int, int],
    cands: list[tuple[int, int, str, bool]],
    clauses: list[tuple[int, int]],
    max_gap: int,
    object_gap: int,
) -> tuple[list[str], str]:
    """Which partner(s) a cue speaks of, and why.

    Candidates are (start, end, partner, is_venue) within the sentence. Venues are
    skipped and only the cue's own clause is searched. A partner
    right after the cue (within ``object_gap`` words: "expelled the French", "ties with
    Russia") is its object and wins; otherwise the nearest partner within ``max_gap``
    words. Partners listed together with the winner ("Belgium, the Netherlands and
    Germany") share the cue.
    """
    pool = [c for c in cands if not c[3]]
    if not pool:
        return [], "no partner in the sentence other than as a venue"
    ci = _clause_of(span[0], clauses)
    pool = [c for c in pool if _clause_of(c[0], clauses) == ci]
    where = "clause"
    if not pool:
        return [], "no partner in the cue's clause"
    gaps = [_word_gap(text, span, (c[0], c[1])) for c in pool]  # each counted once
    after = [c for c, g in zip(pool, gaps) if c[0] >= span[1] and g <= object_gap]
    if after:
        best = min(after, key=lambda c: c[0])
        how = f"object: the first partner after the cue in the {where}"
    else:
        i = min(range(len(pool)), key=lambda i: (gaps[i], pool[i][0]))  # the first of the nearest, as min(pool) gives
        best, gap = pool[i], gaps[i]
        if gap > max_gap:
            return [], f"no partner within {max_gap} words"
        how = f"nearest partner in the {where} ({gap} words away)"
    group = _coordinated(text, best, pool)
    return sorted({c[2] for c in group}), how


def _coordinated(
    text: str, seed: tuple[int, int, str, bool], pool: list[tuple[int, int, str, bool]]
) -> list[tuple[int, int, str, bool]]:
    """The seed mention and every mention joined to it by commas, "and" or "or" only."""
    ordered = sorted(pool, key=lambda c: c[0])
    i = ordered.index(seed)
    group = [seed]
    j = i
    while j > 0 and _COORD.match(text[ordered[j - 1][1] : ordered[j][0]]):
        j -= 1
        group.append(ordered[j])
    j = i
    while j < len(ordered) - 1 and _COORD.match(text[ordered[j][1] : ordered[j + 1][0]]):
        j += 1
        group.append(ordered[j])
    return group


def score_label(score: float, threshold: float, between: str = "neutral") -> str:
    """A score's label: "cooperative" above ``threshold``, "conflictual" below ``-threshold``, else ``between``.

    The one rule behind each unit's label and the book's words for an average score.

    >>> [score_label(x, 0.15) for x in (0.2, 0.15, -0.15, -0.3)]
    ['cooperative', 'neutral', 'neutral', 'conflictual']
    """
    return "cooperative" if score > threshold else "conflictual" if score < -threshold else between


def relations_score(
    mentions: pd.DataFrame, sentences: pd.DataFrame, gaz: Gazetteer, lex: Lexicon, rollup: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every sentence-partner unit; return (units, cue_hits).

    ``units``: doc_id, sentence_id, partner, n_mentions, first_start, score, label,
    n_cues, cues (``cue:effective`` list), plus the date columns of the partner's first
    mention in the sentence when ``mentions`` carries them.
    ``cue_hits``: one row per cue occurrence with the partner it was attributed to
    (empty when no partner was near enough) and why.
    Partners are the gazetteer roots when ``rollup`` (Wagner counts for Russia), the
    focal actor is never a partner, and capitals used as venues take no cues.
    """
    keep = ~mentions["root" if rollup else "actor"].eq(gaz.focal) & ~mentions["actor"].eq(gaz.focal)
    m = mentions[keep]
    partner_col = m["root"] if rollup else m["actor"]
    alias_note = {al.alias: al.note for a in gaz.actors.values() for al in a.aliases}
    sent = sentence_lookup(sentences)
    date_cols = [c for c in DATE_COLUMNS if c in m.columns]
    # plain Python over tuples: per-row pandas access dominated the run time, and dicts per row cost
    # a fifth of it; a mention is (start, end, alias, partner, row), its dates taken by row at the end
    groups: dict[tuple[str, int], list[tuple]] = {}
    columns = [m[c].tolist() for c in ("start", "end", "alias")] + [partner_col.tolist(), range(len(m))]
    for key, rec in zip(zip(m["doc_id"].tolist(), m["sentence_id"].tolist()), zip(*columns)):
        groups.setdefault(key, []).append(rec)
    unit_rows, hit_rows = [], []
    first_rows: list[int] = []
    for (doc_id, sid), grp in groups.items():  # corpus order: articles as given, then sentences
        text, s0 = sent[(doc_id, sid)]
        clauses: list[tuple[int, int]] | None = None  # cut only when a cue needs them
        cands = []
        for start, end, alias, partner, *_ in grp:
            a, b = int(start) - s0, int(end) - s0
            note = alias_note.get(alias, "")
            venue = bool(
                ("capital" in note or "seat" in note)
                and _VENUE.search(text[max(0, a - 12) : a])
                and not _POSTING.search(text[max(0, a - 60) : a])
            )
            cands.append((a, b, partner, venue))
        scores: dict[str, list[tuple[str, float]]] = {r[3]: [] for r in grp}
        spans = [(c[0], c[1]) for c in cands]
        for h in sentence_cues(text, lex):
            if any(a <= h["start"] and h["end"] <= b for a, b in spans):
                continue  # part of a partner's own name ("Alliance of Sahel States")
            if h["cue"] in DESCRIPTOR_CUES and any(re.fullmatch(r"\s*", text[b : h["start"]]) for _, b in spans):
                h = {**h, "effective": h["effective"] * lex.descriptor_factor}
            if clauses is None:
                clauses = _clauses(text)
            target, how = attribute_cue(
                text, (h["start"], h["end"]), cands, clauses, lex.attribution_window, lex.object_window
            )
            for p in target:
                scores[p].append((h["cue"], h["effective"]))
            hit_rows.append((doc_id, sid, *[h[k] for k in HIT_FIELDS], "; ".join(target), how))
        for partner in sorted(scores):
            pg = [r for r in grp if r[3] == partner]
            fired = scores[partner]
            score = float(min(1.0, max(-1.0, sum(w for _, w in fired))))
            label = score_label(score, lex.threshold)
            first = min(pg, key=lambda r: r[0])
            unit_rows.append(
                (
                    doc_id,
                    sid,
                    partner,
                    len(pg),
                    int(first[0]),
                    score,
                    label,
                    sum(1 for _, w in fired if w != 0),
                    "; ".join(f"{c}:{w:+.2f}" for c, w in fired),
                )
            )
            first_rows.append(first[4])  # the dates of the partner's first mention
    unit_cols = [
        "doc_id",
        "sentence_id",
        "partner",
        "n_mentions",
        "first_start",
        "score",
        "label",
        "n_cues",
        "cues",
        *date_cols,
    ]
    units = pd.DataFrame(unit_rows, columns=unit_cols[: len(unit_cols) - len(date_cols)])
    if not unit_rows:  # as it always was: an empty frame of untyped columns
        units = pd.DataFrame([], columns=unit_cols)
    elif date_cols:
        dates = frame_take(m[date_cols], np.asarray(first_rows, dtype=np.int64))
        for c in date_cols:
            units[c] = dates[c].array
    hits = pd.DataFrame(hit_rows, columns=["doc_id", "sentence_id", *HIT_FIELDS, "partner", "attribution"])
    return units, hits


# ----------------------------------------------------------------------------- series


def _check_period(period: str) -> str:
    if period not in PERIODS:
        raise InputError(
            [Problem("period", f"unknown period {period!r}", f"use one of: {', '.join(PERIODS)}")], "request"
        )
    return PERIODS[period]


def bootstrap_ci(values: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; NaN when fewer than two values.

    A resample of n values drawn with replacement is, in distribution, a vector of counts
    over the k distinct values ~ Multinomial(n, frequency / n). When values repeat (k at
    most n / 4: relation scores take a few dozen values), the counts are drawn instead of
    the n values, so the cost is n_boot x k instead of n_boot x n and does not grow with
    the corpus; otherwise the values are resampled directly. Same bootstrap either way.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    distinct, freq = np.unique(values, return_counts=True)
    if len(distinct) * 4 <= n:
        means = rng.multinomial(n, freq / n, size=n_boot) @ distinct / n
    else:
        means = rng.choice(values, size=(n_boot, n), replace=True).mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def _scores_by_group(partner: pd.Series, ordinal: np.ndarray, score: pd.Series) -> dict[tuple[str, int], np.ndarray]:
    """Each (partner, period ordinal)'s scores, in the rows' order (a new float array per group).

    One stable sort by the pair, then a slice per group: the same arrays as appending
    row by row to a list per key, which took most of the series' time at 10k articles.
    """
    codes, names = pd.factorize(partner)
    ordinal = np.asarray(ordinal, dtype=np.int64)
    order = np.lexsort((ordinal, codes))  # stable: ties keep the rows' order
    c, o, v = codes[order], ordinal[order], score.to_numpy(dtype=float)[order]
    starts = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (o[1:] != o[:-1])]) if len(c) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(c)]
    return {(names[c[a]], int(o[a])): v[a:b].copy() for a, b in zip(starts.tolist(), ends.tolist()) if c[a] >= 0}


def textstat_trajectory(
    mentions: pd.DataFrame,
    units: pd.DataFrame,
    gaz: Gazetteer,
    partners: list[str] | None = None,
    period: str = "year",
    rollup: bool = True,
    min_evidence: int = MIN_EVIDENCE,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per partner and period: mentions, salience, mean relation score with a bootstrap CI, evidence.

    Columns: partner, period, period_start, mentions, salience (share of all partner
    mentions in the period: media attention, not a count of events), score (mean of the
    units that carry at least one cue), ci_low, ci_high, n_evidence (those units),
    low_evidence (fewer than ``min_evidence``). Periods with no mention of a partner are
    absent (gaps, never zeros); a period with mentions but no scored unit has a NaN score.
    ``mentions`` must carry ``date_point`` (see :func:`mentions_date`), ``units`` come
    from :func:`relations_score` with the same ``rollup``.
    """
    freq = _check_period(period)
    if min_evidence < 1:
        raise InputError(
            [Problem("min_evidence", f"min_evidence must be >= 1, not {min_evidence}", "use e.g. 3")], "request"
        )
    partners = partners or ["France", "Russia"]
    for p in partners:
        gaz.check_actor(p)
    col = "root" if rollup else "actor"
    # only the columns used, before the rows are selected (selecting every column copied the mentions' text)
    pm = mentions[list(dict.fromkeys([col, "actor", "date_point"]))]
    pm = pm[~pm[col].eq(gaz.focal) & ~pm["actor"].eq(gaz.focal)].copy()
    named = set(pm[col].unique().tolist())  # one pass, not one comparison of every mention per partner
    absent = [p for p in partners if p not in named]
    if absent:
        raise InputError(
            [
                Problem(
                    "partners",
                    f"{p!r} is never mentioned in this corpus{'' if rollup else ' (children not rolled up)'}",
                    "choose a partner the corpus names (see actor_counts.csv)",
                )
                for p in absent
            ],
            "trajectory request",
        )
    pm["period"] = pm["date_point"].dt.to_period(freq)
    totals = pm.groupby("period").size()
    rows = []
    scored = units[["partner", "date_point", "score", "n_cues"]]
    scored = scored[scored["n_cues"] > 0]
    values = _scores_by_group(scored["partner"], scored["date_point"].dt.to_period(freq).array.asi8, scored["score"])
    counts = pm.groupby([col, "period"]).size()
    for p in partners:
        if p not in counts.index.get_level_values(0):
            continue
        for per, n in counts.loc[p].sort_index().items():
            vals = values.get((p, per.ordinal), np.zeros(0))
            lo, hi = bootstrap_ci(vals, n_boot=n_boot, seed=seed)
            rows.append(
                {
                    "partner": p,
                    "period": str(per),
                    "period_start": per.start_time,
                    "mentions": int(n),
                    "salience": int(n) / totals[per],
                    "score": float(vals.mean()) if len(vals) else float("nan"),
                    "ci_low": lo,
                    "ci_high": hi,
                    "n_evidence": len(vals),
                    "low_evidence": len(vals) < min_evidence,
                }
            )
    out = pd.DataFrame(
        rows,
        columns=[
            "partner",
            "period",
            "period_start",
            "mentions",
            "salience",
            "score",
            "ci_low",
            "ci_high",
            "n_evidence",
            "low_evidence",
        ],
    )
    out.attrs.update({"period": period, "rollup": rollup, "min_evidence": min_evidence, "n_boot": n_boot, "seed": seed})
    return out


def trajectory_evidence(
    units: pd.DataFrame,
    sentences: pd.DataFrame,
    docs: pd.DataFrame,
    period: str = "year",
    partners: list[str] | None = None,
) -> pd.DataFrame:
    """The sentences behind every point: partner, period, doc_id, sentence_id, title, published,
    date, date_source, date_precision, date_expression, score, label, cues, sentence.
    """
    parts = list(trajectory_evidence_parts(units, sentences, docs, period, partners))
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


EVIDENCE_UNIT_COLUMNS = (
    "partner",
    "doc_id",
    "sentence_id",
    "date_point",
    "date_source",
    "date_precision",
    "date_expression",
    "score",
    "label",
    "n_cues",
    "cues",
)


def trajectory_evidence_parts(
    units: pd.DataFrame,
    sentences: pd.DataFrame,
    docs: pd.DataFrame,
    period: str = "year",
    partners: list[str] | None = None,
    rows: int | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`trajectory_evidence` in consecutive parts of ``rows`` rows (default: one part), in its order.

    Only the sort keys are sorted for the whole table; each part's columns (titles,
    sentences) are made for its rows alone, so a writer holds one part at a time.
    """
    freq = _check_period(period)
    # only the columns the table shows, before the rows are selected (a selection copies every column it keeps)
    u = units[[*EVIDENCE_UNIT_COLUMNS]]
    u = u if partners is None else u[u["partner"].isin(partners)]
    d = docs.set_index("doc_id")
    # period and date labels formatted once per distinct day (a corpus has far fewer days than units)
    days = pd.DatetimeIndex(u["date_point"].dropna().unique())
    period_of = pd.Series(days.to_period(freq).astype(str), index=days)
    date_of = pd.Series(days.date.astype(str), index=days)
    # every column coded once where it is a stored string column: a part then takes codes, not rows from
    # every stored chunk (parts x chunks takes); titles, publication and labels once per distinct value
    take = {name: ColumnTaker(u[name]) for name in EVIDENCE_UNIT_COLUMNS if name not in ("doc_id", "date_point")}
    take["doc_id"] = ColumnTaker(u["doc_id"], code=True)
    take["title"] = take["doc_id"].mapped(lambda s: s.map(d["title"]))
    take["published"] = take["doc_id"].mapped(lambda s: s.map(d["published"]))
    point = ColumnTaker(u["date_point"], code=True)
    take["period"] = point.mapped(lambda s: s.map(period_of).astype(str))
    take["date"] = point.mapped(lambda s: s.map(date_of).astype(str))
    keys = pd.DataFrame(
        {
            "partner": u["partner"],
            "period": take["period"](np.arange(len(u))),
            "doc_id": u["doc_id"],
            "sentence_id": u["sentence_id"],
        }
    ).reset_index(drop=True)
    order = keys.sort_values(["partner", "period", "doc_id", "sentence_id"]).index.to_numpy()
    del keys
    # each unit's sentence row, looked up once (a lookup per part indexed every sentence of the corpus again)
    sentence_of = sentence_rows(sentences, u["doc_id"], u["sentence_id"]) if len(u) else np.zeros(0, dtype=np.int64)
    columns = ("partner", "period", "doc_id", "sentence_id", "title", "published", "date", "date_source")
    columns += ("date_precision", "date_expression", "score", "label", "n_cues", "cues")
    step = max(1, rows or len(order))
    for start in range(0, max(len(order), 1), step):
        in_part = order[start : start + step]
        part = {name: take[name](in_part) for name in columns}
        # taken in Arrow by row position: no Python string per unit
        part["sentence"] = array_take(sentences["text"], sentence_of[in_part]) if len(in_part) else []
        yield pd.DataFrame(part)


def trajectory_events(
    units: pd.DataFrame, sentences: pd.DataFrame, hits: pd.DataFrame, partners: list[str] | None = None
) -> pd.DataFrame:
    """Dated events named by the corpus: units with an in-text date and an event cue attributed to the partner.

    Columns: partner, date (the point), date_earliest, date_latest, date_precision,
    date_expression, event (the strongest event cue), score, doc_id, sentence_id, sentence.
    One row per partner, date and event (the first sentence that names it).
    """
    cols = ["partner", "date", "date_earliest", "date_latest", "date_precision", "date_expression", "event", "score"]
    cols += ["doc_id", "sentence_id", "sentence"]
    ev = hits[["doc_id", "sentence_id", "weight", "cue", "partner", "event"]]
    ev = ev[ev["event"].astype(bool) & ev["partner"].fillna("").ne("")]  # a missing partner names nobody
    # each event cue once per partner it is attributed to, in the hits' order; each distinct "A; B" split once
    codes, joined = pd.factorize(ev["partner"])
    names = [str(j).split("; ") for j in joined]
    first = np.cumsum([0, *map(len, names)])  # where each distinct value's names start in `flat`
    flat = np.array([n for ns in names for n in ns], dtype=object)
    per_row = np.diff(first)[codes]
    row = np.repeat(np.arange(len(ev)), per_row)
    nth = np.arange(len(row)) - np.repeat(np.cumsum(per_row) - per_row, per_row)  # each name's place in its row
    ev = pd.DataFrame(
        {
            "doc_id": ev["doc_id"].array.take(row),
            "sentence_id": ev["sentence_id"].to_numpy()[row],
            "strength": ev["weight"].abs().to_numpy()[row],
            "event": ev["cue"].array.take(row),
            "partner": flat[first[codes[row]] + nth],
            "order": row,
        }
    )
    # per sentence and partner, the first of the strongest cues (as max() over the hits in order gives)
    best = ev.sort_values(["strength", "order"], ascending=[False, True], kind="stable").drop_duplicates(
        ["doc_id", "sentence_id", "partner"]
    )
    fields = ["partner", "date_point", "date_earliest", "date_latest", "date_precision", "date_expression", "score"]
    u = units[["doc_id", "sentence_id", *fields, "date_source"]]
    u = u[u["date_source"].eq("in-text")]
    if partners:
        u = u[u["partner"].isin(partners)]
    out = u[["doc_id", "sentence_id", *fields]].merge(
        best[["doc_id", "sentence_id", "partner", "event"]], on=["doc_id", "sentence_id", "partner"], how="inner"
    )  # the units' order (an inner merge keeps the left keys' order)
    if not len(out):
        return pd.DataFrame(columns=cols)
    out["sentence"] = array_take(sentences["text"], sentence_rows(sentences, out["doc_id"], out["sentence_id"]))
    out = out.rename(columns={"date_point": "date"})[cols]
    out = out.sort_values(["partner", "date", "doc_id", "sentence_id"]).drop_duplicates(
        ["partner", "date_earliest", "date_latest", "event"]
    )
    return out.reset_index(drop=True)


def trajectory_crossover(
    series: pd.DataFrame, a: str = "France", b: str = "Russia", value: str = "salience"
) -> pd.DataFrame:
    """Period by period, ``b`` minus ``a`` on one measure, and the first period where ``b`` leads.

    Columns: period, period_start, <a>, <b>, difference, b_leads. ``attrs['first_lead']``
    is the first period where ``b`` is ahead after a period where it was not (or None).
    """
    wide = series.pivot_table(index=["period", "period_start"], columns="partner", values=value).reset_index()
    for p in (a, b):
        if p not in wide.columns:
            wide[p] = np.nan
    wide = wide.sort_values("period_start")
    wide["difference"] = wide[b] - wide[a]
    wide["b_leads"] = wide["difference"] > 0
    first = None
    leads = list(wide["b_leads"])
    for i in range(1, len(leads)):
        if leads[i] and not leads[i - 1]:
            first = wide["period"].iloc[i]
            break
    out = wide[["period", "period_start", a, b, "difference", "b_leads"]].reset_index(drop=True)
    out.attrs["first_lead"] = first
    return out


def trajectory_leave_one_out(
    mentions: pd.DataFrame,
    units: pd.DataFrame,
    docs: pd.DataFrame,
    gaz: Gazetteer,
    partners: list[str] | None = None,
    period: str = "year",
    by: str = "source",
) -> pd.DataFrame:
    """Robustness: recompute the series leaving out one source (or article) at a time.

    Columns: left_out, partner, period, score_full, score_without, sign_holds (True when
    the sign of the mean score is unchanged, NaN when the period loses all its evidence).
    """
    if by not in ("source", "doc_id"):
        raise InputError([Problem("by", f"unknown grouping {by!r}", "use 'source' or 'doc_id'")], "request")
    full = textstat_trajectory(mentions, units, gaz, partners, period, n_boot=10)
    full_idx = full.set_index(["partner", "period"])["score"]
    rows = []
    for key in sorted(docs[by].unique()):
        keep = set(docs.loc[docs[by] != key, "doc_id"])
        part = textstat_trajectory(
            mentions[mentions["doc_id"].isin(keep)], units[units["doc_id"].isin(keep)], gaz, partners, period, n_boot=10
        )
        pidx = part.set_index(["partner", "period"])["score"]
        for (p, per), s_full in full_idx.items():
            s_wo = pidx.get((p, per), np.nan)
            holds = np.nan if (np.isnan(s_full) or np.isnan(s_wo)) else bool(np.sign(s_full) == np.sign(s_wo))
            rows.append(
                {
                    "left_out": key,
                    "partner": p,
                    "period": per,
                    "score_full": s_full,
                    "score_without": s_wo,
                    "sign_holds": holds,
                }
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- evaluation


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa between two label sequences: (p_o - p_e) / (1 - p_e).

    >>> cohen_kappa(["x", "y", "x", "y"], ["x", "y", "y", "y"])
    0.5
    """
    if len(a) != len(b) or not a:
        raise ValueError("two non-empty label lists of the same length are needed")
    labels = sorted(set(a) | set(b))
    n = len(a)
    po = sum(x == y for x, y in zip(a, b)) / n
    pe = sum((a.count(lab) / n) * (b.count(lab) / n) for lab in labels)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def gold_rows_present(gold: pd.DataFrame, corpus_rows: pd.DataFrame) -> pd.DataFrame:
    """The gold rows of the articles in ``corpus_rows`` (any frame with ``doc_id``): the gold
    annotates the seed articles, and a corpus grown from them, or another corpus, may hold
    some, all or none of them."""
    return gold[gold["doc_id"].isin(set(corpus_rows["doc_id"]))].reset_index(drop=True)


def evaluate_relations(units: pd.DataFrame, gold: pd.DataFrame, sentences: pd.DataFrame) -> dict:
    """Agreement of the scorer with the gold labels: accuracy, kappa, confusion matrix, joined rows.

    Gold rows are matched on (doc_id, sentence text, partner); a gold pair the scorer
    has no unit for counts as "neutral" predicted (the partner was not found). No gold
    row: n 0, accuracy and kappa NaN, a confusion matrix of zeros. Gold rows of articles
    not in the corpus are left out (:func:`gold_rows_present`).
    """
    gold = gold_rows_present(gold, sentences)
    units = units[units["doc_id"].isin(set(gold["doc_id"]))]  # the gold's articles only: same keys, fewer lookups
    s = sentences.set_index(["doc_id", "sentence_id"])["text"]
    pred = {
        (d, s[(d, i)], p): lab
        for d, i, p, lab in zip(units["doc_id"], units["sentence_id"], units["partner"], units["label"])
    }
    g = gold.copy()
    g["predicted"] = [pred.get((d, t, p), "neutral") for d, t, p in zip(g["doc_id"], g["text"], g["partner"])]
    g["found"] = [(d, t, p) in pred for d, t, p in zip(g["doc_id"], g["text"], g["partner"])]
    labels = ["cooperative", "neutral", "conflictual"]
    conf = pd.crosstab(
        pd.Categorical(g["label"], labels),
        pd.Categorical(g["predicted"], labels),
        rownames=["gold"],
        colnames=["predicted"],
        dropna=False,
    )
    acc = float((g["label"] == g["predicted"]).mean()) if len(g) else float("nan")
    return {
        "n": len(g),
        "accuracy": acc,
        "kappa": cohen_kappa(list(g["label"]), list(g["predicted"])) if len(g) else float("nan"),
        "confusion": conf,
        "rows": g,
    }


def evaluate_dating(units: pd.DataFrame, gold: pd.DataFrame, sentences: pd.DataFrame) -> dict:
    """Dating accuracy against the gold dates: share in the right year, share exact to the stated precision.

    "Right year": the year of our date point lies within the years of the gold interval.
    "Exact": our interval equals the gold interval (earliest and latest day).
    Reported for all gold rows and for those whose gold date is in-text (not the publication).
    """
    from .corpus import parse_published

    gold = gold_rows_present(gold, sentences)  # as in evaluate_relations
    units = units[units["doc_id"].isin(set(gold["doc_id"]))]  # the gold's articles only: same keys, fewer lookups
    s = sentences.set_index(["doc_id", "sentence_id"])["text"]
    ours = {
        (d, s[(d, i)], p): (e, la, pt)
        for d, i, p, e, la, pt in zip(
            units["doc_id"],
            units["sentence_id"],
            units["partner"],
            units["date_earliest"],
            units["date_latest"],
            units["date_point"],
        )
    }
    rows = []
    for r in gold.itertuples(index=False):
        key = (r.doc_id, r.text, r.partner)
        if key not in ours:
            continue
        spec = parse_published(str(r.event_date))
        e, la, pt = ours[key]
        rows.append(
            {
                "doc_id": r.doc_id,
                "partner": r.partner,
                "gold": r.event_date,
                "gold_precision": r.event_precision,
                "ours": f"{e.date()}/{la.date()}",
                "right_year": spec.earliest.year <= pt.year <= spec.latest.year,
                "exact": (e.date() == spec.earliest and la.date() == spec.latest),
                "in_text": r.event_precision != "publication",
            }
        )
    cols = ["doc_id", "partner", "gold", "gold_precision", "ours", "right_year", "exact", "in_text"]
    df = pd.DataFrame(rows, columns=cols)
    dated = df[df["in_text"].astype(bool)]
    return {
        "n": len(df),
        "right_year": float(df["right_year"].mean()) if len(df) else float("nan"),
        "exact": float(df["exact"].mean()) if len(df) else float("nan"),
        "n_in_text": len(dated),
        "right_year_in_text": float(dated["right_year"].mean()) if len(dated) else float("nan"),
        "exact_in_text": float(dated["exact"].mean()) if len(dated) else float("nan"),
        "rows": df,
    }
