"""Tests of the trajectory layer: dating, the relation lexicon, cue scope, series, events and gold agreement.

Uses the session fixtures ``analysis`` (the pipeline run once on the seeds) and
``seeds_dir`` from ``conftest.py``. Hand-made sentences go through the same
functions as the corpus: corpus_sentences -> mentions_find -> mentions_date ->
relations_score.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mali_partners import actors
from mali_partners import trajectory as T
from mali_partners.cli import main as cli_main
from mali_partners.dating import MAX_RANGE_DAYS, date_mention, resolve
from mali_partners.errors import InputError
from mali_partners.text import corpus_sentences

GOLD = Path(__file__).resolve().parent / "gold" / "relations.csv"
D = dt.date


# ----------------------------------------------------------------------------- helpers


def _pub(analysis, doc_id: str) -> tuple[dt.date, dt.date]:
    row = analysis.docs.set_index("doc_id").loc[doc_id]
    return row["date_earliest"].date(), row["date_latest"].date()


def _sentence(analysis, doc_id: str, sid: int) -> str:
    return analysis.sentences.set_index(["doc_id", "sentence_id"]).loc[(doc_id, sid), "text"]


def _sentence_with(analysis, doc_id: str, needle: str) -> tuple[int, str]:
    s = analysis.sentences[
        (analysis.sentences["doc_id"] == doc_id) & analysis.sentences["text"].str.contains(needle, regex=False)
    ]
    assert len(s) == 1, f"expected one sentence of {doc_id} with {needle!r}, found {len(s)}"
    return int(s["sentence_id"].iloc[0]), s["text"].iloc[0]


def _mentions_in(analysis, doc_id: str, sid: int, root: str | None = None) -> pd.DataFrame:
    m = analysis.mentions
    sel = m[(m["doc_id"] == doc_id) & (m["sentence_id"] == sid)]
    if root is not None:
        sel = sel[sel["root"] == root]
    assert not sel.empty, f"no mention in {doc_id}/{sid} for {root}"
    return sel


def _ts(d: dt.date) -> pd.Timestamp:
    return pd.Timestamp(d)


def _resolve_one(text: str, lo: dt.date, hi: dt.date, expression: str):
    found = [r for r in resolve(text, lo, hi) if r.expression == expression]
    assert len(found) == 1, f"{expression!r} not resolved once in {text!r}: {resolve(text, lo, hi)}"
    return found[0]


def _date_for(text: str, partner_word: str, lo: dt.date, hi: dt.date):
    s = text.index(partner_word)
    return date_mention(resolve(text, lo, hi), s, s + len(partner_word), lo, hi)


@pytest.fixture(scope="module")
def lex():
    return T.lexicon_load()


@pytest.fixture(scope="module")
def score(analysis, lex):
    """Score hand-made sentences through the package: returns (units, cue_hits) for one text."""

    def _score(text: str, published: str = "2022-03-01") -> tuple[pd.DataFrame, pd.DataFrame]:
        docs = pd.DataFrame(
            {
                "doc_id": ["900"],
                "text": [text],
                "title": ["hand-made"],
                "published": [published],
                "date_earliest": [pd.Timestamp(published)],
                "date_latest": [pd.Timestamp(published)],
            }
        )
        sentences = corpus_sentences(docs)
        assert len(sentences) == 1, "hand-made texts are one sentence"
        mentions = actors.mentions_find(sentences, analysis.gazetteer)
        mentions = T.mentions_date(mentions, sentences, docs)
        return T.relations_score(mentions, sentences, analysis.gazetteer, lex)

    return _score


def _unit(units: pd.DataFrame, partner: str) -> pd.Series:
    sel = units[units["partner"] == partner]
    assert len(sel) == 1, f"no single unit for {partner}: {units[['partner', 'cues']].to_dict('records')}"
    return sel.iloc[0]


def _hits_for(hits: pd.DataFrame, cue: str) -> pd.Series:
    sel = hits[hits["cue"] == cue]
    assert len(sel) == 1, f"cue {cue} fired {len(sel)} times: {hits[['cue', 'surface']].to_dict('records')}"
    return sel.iloc[0]


def _attributed(h: pd.Series) -> set[str]:
    return {p for p in str(h["partner"]).split("; ") if p}


# ============================================================================= 1. dating


def test_month_year_in_text(analysis):
    # "the May 2021 coup" (002/9) -> the month May 2021
    sid, text = _sentence_with(analysis, "002", "After the May 2021 coup")
    m = _mentions_in(analysis, "002", sid, "Russia").iloc[0]
    assert (m["date_earliest"], m["date_latest"]) == (_ts(D(2021, 5, 1)), _ts(D(2021, 5, 31)))
    assert m["date_precision"] == "month" and m["date_source"] == "in-text"
    assert m["date_expression"] == "May 2021"
    # "in May 2021" on its own (hand-made, 002's publication interval) -> the same month
    lo, hi = _pub(analysis, "002")
    r = _date_for("Mali chose Russia in May 2021.", "Russia", lo, hi)
    assert (r.earliest, r.latest, r.precision) == (D(2021, 5, 1), D(2021, 5, 31), "month")


def test_since_month_year_in_seed(analysis):
    # 002/1 "Since the coup d'état in May 2021" -> May 2021 to the latest publication date, onset as point
    sid, _ = _sentence_with(analysis, "002", "Since the coup")
    lo, hi = _pub(analysis, "002")
    m = _mentions_in(analysis, "002", sid, "Russia").iloc[0]
    assert (m["date_earliest"], m["date_latest"]) == (_ts(D(2021, 5, 1)), _ts(hi))
    assert m["date_point"] == _ts(D(2021, 5, 1))
    assert m["date_precision"] == "range"


def test_day_month_without_year_in_003(analysis):
    sid, text = _sentence_with(analysis, "003", "on 31 January")
    assert _pub(analysis, "003") == (D(2022, 1, 31), D(2022, 2, 17))
    m = _mentions_in(analysis, "003", sid, "France").iloc[0]
    assert (m["date_earliest"], m["date_latest"]) == (_ts(D(2022, 1, 31)), _ts(D(2022, 1, 31)))
    assert m["date_precision"] == "day" and m["date_expression"] == "31 January"


def test_weekday_month_day_in_004(analysis):
    sid, _ = _sentence_with(analysis, "004", "Monday February 6")
    m = _mentions_in(analysis, "004", sid, "Russia").iloc[0]
    assert (m["date_earliest"], m["date_latest"]) == (_ts(D(2023, 2, 6)), _ts(D(2023, 2, 6)))
    assert m["date_precision"] == "day" and m["date_expression"] == "Monday February 6"
    assert D(2023, 2, 6).weekday() == calendar.MONDAY


def test_two_month_years_give_a_range(analysis):
    sid, _ = _sentence_with(analysis, "004", "in August 2020 and May 2021")
    m = _mentions_in(analysis, "004", sid, "France").iloc[0]
    assert (m["date_earliest"], m["date_latest"]) == (_ts(D(2020, 8, 1)), _ts(D(2021, 5, 31)))
    assert m["date_precision"] == "range" and m["date_expression"] == "August 2020 and May 2021"


def test_since_year_range_ends_at_latest_publication(analysis):
    sid, text = _sentence_with(analysis, "002", "since 2013")
    lo, hi = _pub(analysis, "002")
    m = _mentions_in(analysis, "002", sid).iloc[0]  # only Mali ("Malian") is named
    assert m["date_earliest"] == _ts(D(2013, 1, 1))
    assert m["date_latest"] == _ts(hi) == _ts(D(2023, 6, 16))
    assert m["date_point"] == m["date_earliest"], "the point of 'since X' is the onset"
    assert m["date_precision"] == "range"
    r = _resolve_one(text, lo, hi, "2013")
    assert r.since and r.point == D(2013, 1, 1)


def test_years_ago_in_003(analysis):
    sid, text = _sentence_with(analysis, "003", "two years ago")
    m = _mentions_in(analysis, "003", sid, "France").iloc[0]
    assert m["date_point"].year == 2020 and m["date_earliest"].year == 2020
    # the expression itself (without the "since" of the sentence) is the year 2020
    lo, hi = _pub(analysis, "003")
    r = _resolve_one("The ambassador was recalled two years ago.", lo, hi, "two years ago")
    assert r.earliest.year == r.latest.year == 2020
    assert r.precision == "year"


def test_last_weekday_in_003(analysis):
    sid, _ = _sentence_with(analysis, "003", "last Wednesday")
    lo, hi = _pub(analysis, "003")
    m = _mentions_in(analysis, "003", sid, "France").iloc[0]
    e, la = m["date_earliest"].date(), m["date_latest"].date()
    assert (e, la) == (D(2022, 1, 26), D(2022, 2, 16))
    assert e.weekday() == la.weekday() == calendar.WEDNESDAY
    assert e < lo and la < hi, "'last Wednesday' is strictly before publication"
    assert m["date_precision"] == "range"


def test_in_recent_months_ends_at_publication(analysis):
    sid, text = _sentence_with(analysis, "002", "in recent months")
    lo, hi = _pub(analysis, "002")
    m = _mentions_in(analysis, "002", sid).iloc[0]
    assert m["date_latest"] == _ts(hi)
    assert m["date_earliest"] < _ts(lo)
    assert m["date_precision"] == "range" and m["date_expression"] == "in recent months"


@pytest.mark.parametrize("phrase", ["the past ten years", "over the past ten years"])
def test_past_ten_years(analysis, phrase):
    lo, hi = _pub(analysis, "002")
    seed = _sentence(analysis, "002", _sentence_with(analysis, "002", "over the past ten years")[0])
    for text in (seed, f"Relations with France have worsened {phrase}."):
        r = [x for x in resolve(text, lo, hi) if x.kind == "past_period"]
        assert len(r) == 1
        r = r[0]
        assert (r.earliest, r.latest) == (D(lo.year - 10, lo.month, lo.day), hi)
        assert r.precision == "range"


def test_month_of_that_year(analysis):
    sid, text = _sentence_with(analysis, "002", "January of that year")
    m = _mentions_in(analysis, "002", sid)
    on_mali = m[m["date_expression"] == "January of that year"]
    assert not on_mali.empty
    for r in on_mali.itertuples():
        assert (r.date_earliest, r.date_latest) == (_ts(D(2022, 1, 1)), _ts(D(2022, 1, 31)))
        assert r.date_precision == "month"
    # the year comes from "July 2022" earlier in the sentence
    lo, hi = _pub(analysis, "002")
    r = _resolve_one(
        "Sanctions eased in July 2022 had been imposed in January of that year.", lo, hi, "January of that year"
    )
    assert (r.earliest, r.latest) == (D(2022, 1, 1), D(2022, 1, 31))


def test_month_day_until_in_001(analysis):
    sid, _ = _sentence_with(analysis, "001", "May 24")
    m = _mentions_in(analysis, "001", sid, "EU").iloc[0]
    assert (m["date_earliest"], m["date_latest"]) == (_ts(D(2024, 5, 24)), _ts(D(2024, 5, 24)))
    assert m["date_precision"] == "day"


def test_retrospective_year_in_later_article():
    lo, hi = D(2022, 1, 31), D(2022, 2, 17)
    r = _date_for("France recalled the 2013 Serval operation as a success.", "France", lo, hi)
    assert (r.earliest, r.latest, r.precision) == (D(2013, 1, 1), D(2013, 12, 31), "year")


def test_unsafe_date_after_latest_publication_falls_back(analysis):
    lo, hi = _pub(analysis, "004")
    r = _date_for("Russia will deliver helicopters in March 2025.", "Russia", lo, hi)
    assert (r.earliest, r.latest) == (lo, hi)
    assert r.precision == "publication"
    assert "unsafe" in r.note and "March 2025" in r.note


def test_weekday_date_that_fits_no_year_falls_back():
    # 6 February is no Monday in 2019, 2020 or 2021
    lo, hi = D(2020, 3, 1), D(2020, 3, 10)
    r = _date_for("Lavrov visits Bamako from Monday February 6.", "Lavrov", lo, hi)
    assert r.precision == "publication" and (r.earliest, r.latest) == (lo, hi)
    assert "unresolved" in r.note


def test_day_month_ambiguous_across_two_years_falls_back():
    # published some time between March 2022 and March 2023: "15 September" is nearest
    # to 2021-09-15 for an early publication day and to 2022-09-15 for a late one
    lo, hi = D(2022, 3, 1), D(2023, 3, 1)
    r = _date_for("Mali expelled the French ambassador on 15 September.", "French", lo, hi)
    assert r.precision == "publication"
    assert (r.earliest, r.latest) == (lo, hi)
    assert "unresolved" in r.note


def test_day_month_takes_the_occurrence_nearest_to_publication():
    # published between December 2022 and February 2023: every possible publication day
    # is nearest to 15 January 2023, so the year is not ambiguous
    lo, hi = D(2022, 12, 1), D(2023, 2, 1)
    r = _date_for("Mali expelled the French ambassador on 15 January.", "French", lo, hi)
    assert (r.precision, r.earliest) == ("day", D(2023, 1, 15))


def test_month_year_range_in_reverse_order_is_well_formed():
    lo, hi = D(2023, 1, 23), D(2023, 2, 6)
    r = _date_for("Relations with France soured after coups in May 2021 and August 2020.", "France", lo, hi)
    assert r.earliest <= r.latest


def test_since_the_publication_year_ends_at_latest_publication():
    lo, hi = D(2023, 1, 23), D(2023, 2, 6)
    r = _date_for("Russia has supplied aircraft since 2023.", "Russia", lo, hi)
    assert r.since
    assert (r.earliest, r.latest) == (D(2023, 1, 1), hi)


# ---- property: no date after the article's latest possible date

_MONTHS = [m for m in calendar.month_name if m]
_WEEKDAYS = list(calendar.day_name)
_NUMBERS = ["two", "three", "ten", "a few", "several", "5"]


@st.composite
def _dated_sentence(draw):
    lo = draw(st.dates(D(1995, 1, 1), D(2040, 12, 31)))
    hi = lo + dt.timedelta(days=draw(st.integers(0, 800)))
    year = st.integers(max(1940, lo.year - 15), min(2049, hi.year + 3))
    month, weekday, day = st.sampled_from(_MONTHS), st.sampled_from(_WEEKDAYS), st.integers(1, 31)
    form = st.one_of(
        st.builds("in {} {}".format, month, year),
        st.builds("the {} {} coup".format, month, year),
        st.builds("on {} {}".format, day, month),
        st.builds("until {} {}".format, month, day),
        st.builds("{} {} {}".format, weekday, month, day),
        st.builds(lambda a, b, c, d: f"in {a} {b} and {c} {d}", month, year, month, year),
        st.builds("since {}".format, year),
        st.builds("since the coup in {} {}".format, month, year),
        st.builds("{} years ago".format, st.sampled_from(_NUMBERS)),
        st.builds("last {}".format, weekday),
        st.just("in recent months"),
        st.builds("over the past {} years".format, st.sampled_from(_NUMBERS)),
        st.builds("in {} of that year".format, month),
        st.builds("the {} Serval operation".format, year),
    )
    parts = draw(st.lists(form, min_size=1, max_size=3))
    cut = draw(st.integers(0, len(parts)))
    head = " ".join(parts[:cut])
    text = (head + ", " if head else "") + "France acted " + " ".join(parts[cut:]) + "."
    start = len(head) + 2 if head else 0
    return text, start, start + len("France"), lo, hi


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_dated_sentence())
def test_no_mention_date_after_latest_publication(case):
    text, s, e, lo, hi = case
    assert text[s:e] == "France"
    r = date_mention(resolve(text, lo, hi), s, e, lo, hi)
    assert r.earliest <= hi, f"{text!r} dated {r.earliest}..{r.latest}, after the latest publication date {hi}"
    if r.precision == "publication":
        assert (r.earliest, r.latest) == (lo, hi)
        assert r.note
    else:
        assert r.expression and r.expression in text
        assert (r.latest - r.earliest).days <= MAX_RANGE_DAYS


def test_seed_mentions_not_after_their_article(analysis):
    m = analysis.mentions.merge(
        analysis.docs[["doc_id", "date_latest"]].rename(columns={"date_latest": "pub_hi"}), on="doc_id"
    )
    assert (m["date_earliest"] <= m["pub_hi"]).all()
    assert (m["date_earliest"] <= m["date_latest"]).all()


def test_fallback_share_is_consistent(analysis):
    m = analysis.mentions
    assert set(m["date_source"]) == {"in-text", "publication"}
    assert ((m["date_source"] == "publication") == (m["date_precision"] == "publication")).all()
    share = float((m["date_source"] == "publication").mean())
    counts = m["date_source"].value_counts()
    shares = m["date_source"].value_counts(normalize=True)
    assert 0 < share < 1
    assert counts.sum() == len(m)
    assert shares["publication"] == pytest.approx(share)
    assert counts["publication"] / len(m) == pytest.approx(share)
    assert shares.sum() == pytest.approx(1.0)
    print(f"\nmentions dated by publication fallback: {counts['publication']}/{len(m)} = {share:.3f}")
    # fallback rows carry exactly the article's interval and say why
    pub = m[m["date_source"] == "publication"].merge(
        analysis.docs[["doc_id", "date_earliest", "date_latest"]], on="doc_id", suffixes=("", "_doc")
    )
    assert (pub["date_earliest"] == pub["date_earliest_doc"]).all()
    assert (pub["date_latest"] == pub["date_latest_doc"]).all()
    assert (pub["date_note"].str.len() > 0).all()


# ============================================================================= 2. lexicon loading errors

_LEXICON_LINES = [
    "version: 1",  # 1
    "negation_window: 4",  # 2
    "negation_factor: -0.5",  # 3
    "modal_factor: 0.5",  # 4
    "threshold: 0.15",  # 5
    'negators: ["not"]',  # 6
    'modals: ["may"]',  # 7
    "cues:",  # 8
    '  - {cue: expel, pattern: "expel|expelled", weight: -1.0, type: material}',  # 9
    '  - {cue: visit, pattern: "visit|visited", weight: 0.5, type: material}',  # 10
    '  - {cue: talks, pattern: "talks|dialogue", weight: 0.3, type: verbal}',  # 11
]


def _lexicon_file(tmp_path: Path, replace: dict[int, str] | None = None) -> Path:
    lines = list(_LEXICON_LINES)
    for n, text in (replace or {}).items():
        lines[n - 1] = text
    p = tmp_path / "lexicon.yaml"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _load_problems(path: Path) -> InputError:
    with pytest.raises(InputError) as err:
        T.lexicon_load(path)
    return err.value


def test_valid_small_lexicon_loads(tmp_path):
    lex = T.lexicon_load(_lexicon_file(tmp_path))
    assert [c.cue for c in lex.cues] == ["expel", "visit", "talks"]
    assert [c.line for c in lex.cues] == [9, 10, 11]
    assert lex.cues[0].pattern.search("They expelled him") and not lex.cues[0].pattern.search("expellees")


@pytest.mark.parametrize(
    ("line", "text", "needle"),
    [
        (10, '  - {cue: visit, pattern: "visit|visited", weight: 1.5, type: material}', "weight 1.5 is out of range"),
        (
            10,
            '  - {cue: expel, pattern: "visit|visited", weight: 0.5, type: material}',
            "'expel' is defined twice (also line 9)",
        ),
        (
            10,
            '  - {cue: visit, pattern: "visit|Expelled", weight: 0.5, type: material}',
            "'Expelled' is also in cue 'expel' (line 9)",
        ),
        (
            10,
            '  - {cue: visit, pattern: "visit(|visited", weight: 0.5, type: material}',
            "not a valid regular expression",
        ),
        (
            11,
            '  - {cue: talks, pattern: "talks|dialogue", weight: 0.3, type: diplomatic}',
            "type 'diplomatic' is not allowed",
        ),
    ],
    ids=["weight", "duplicate-name", "shared-form", "regex", "type"],
)
def test_lexicon_error_names_the_line(tmp_path, line, text, needle):
    err = _load_problems(_lexicon_file(tmp_path, {line: text}))
    assert len(err.problems) == 1, err.report()
    p = err.problems[0]
    assert needle in p.message
    assert p.where.startswith(f"line {line}")
    assert p.fix
    assert f"line {line}" in err.report() and needle in err.report()


def test_lexicon_not_utf8_names_the_line(tmp_path):
    path = _lexicon_file(tmp_path)
    data = path.read_bytes()
    at = data.index(b"visited")  # line 10, after '  - {cue: visit, pattern: "visit|' (33 characters)
    path.write_bytes(data[:at] + b"\xff" + data[at:])
    (p,) = _load_problems(path).problems
    assert (p.file, p.where) == (str(path), "line 10, column 34")
    assert p.message == f"not valid UTF-8: byte 0xff (byte offset {at})"


def test_lexicon_invalid_yaml_names_the_line(tmp_path):
    # line 10 is indented one space less than line 9
    err = _load_problems(
        _lexicon_file(tmp_path, {10: ' - {cue: visit, pattern: "visit|visited", weight: 0.5, type: material}'})
    )
    assert len(err.problems) == 1
    p = err.problems[0]
    assert "invalid YAML" in p.message
    assert p.where.startswith("line 10")


def test_lexicon_unclosed_quote_names_its_line(tmp_path):
    err = _load_problems(
        _lexicon_file(tmp_path, {10: '  - {cue: visit, pattern: "visit|visited, weight: 0.5, type: material}'})
    )
    assert "line 10" in err.report()


def test_lexicon_several_problems_listed_together(tmp_path):
    path = _lexicon_file(
        tmp_path,
        {
            9: '  - {cue: expel, pattern: "expel|expelled", weight: -3, type: material}',
            10: '  - {cue: expel, pattern: "visit(|visited", weight: 0.5, type: material}',
            11: '  - {cue: talks, pattern: "talks|expel", weight: 0.3, type: rhetorical}',
        },
    )
    err = _load_problems(path)
    msgs = {(p.where.split(" (")[0], m) for p in err.problems for m in [p.message]}
    wanted = [
        ("line 9", "weight -3 is out of range"),
        ("line 10", "defined twice"),
        ("line 10", "not a valid regular expression"),
        ("line 11", "'expel' is also in cue 'expel'"),
        ("line 11", "type 'rhetorical' is not allowed"),
    ]
    for where, needle in wanted:
        assert any(w == where and needle in m for w, m in msgs), f"missing {where}: {needle}\n{err.report()}"
    assert err.report().startswith(f"{len(err.problems)} problems")
    assert len(err.problems) >= len(wanted)


def test_cli_analyse_with_bad_lexicon_exits_1_and_writes_nothing(tmp_path, seeds_dir, capsys):
    lexdir = tmp_path / "lex"
    lexdir.mkdir()
    bad = _lexicon_file(lexdir, {10: '  - {cue: visit, pattern: "visit|visited", weight: 7, type: material}'})
    out = tmp_path / "work" / "out"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    status = cli_main(["analyse", str(seeds_dir), "--out", str(out), "--lexicon", str(bad)])
    captured = capsys.readouterr()
    assert status == 1
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    assert "line 10" in captured.err and "weight 7 is out of range" in captured.err and str(bad) in captured.err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "nothing may be written"


# ============================================================================= 3. cue scope


def test_negation_not_validated_in_seed(analysis):
    sid, _ = _sentence_with(analysis, "003", "not validated by the French")
    h = analysis.cue_hits
    hit = h[(h["doc_id"] == "003") & (h["sentence_id"] == sid) & (h["surface"] == "not validated")]
    assert len(hit) == 1
    hit = hit.iloc[0]
    assert hit["cue"] == "reject" and hit["effective"] < 0
    assert not hit["negated"], "'not validated' is a refusal in its own right, its 'not' is not a negator of it"
    assert "France" in _attributed(hit)
    u = analysis.units
    assert (
        u[(u["doc_id"] == "003") & (u["sentence_id"] == sid) & (u["partner"] == "France")]["label"].item()
        == "conflictual"
    )


def test_negation_without_support(analysis, score):
    sid, _ = _sentence_with(analysis, "002", "without French support")
    h = analysis.cue_hits
    hit = h[(h["doc_id"] == "002") & (h["sentence_id"] == sid) & (h["cue"] == "support")].iloc[0]
    assert hit["negated"] and hit["effective"] < 0 and "France" in _attributed(hit)
    units, hits = score("The Malian army now fights without French support.")
    assert _hits_for(hits, "support")["negated"]
    assert _unit(units, "France")["label"] == "conflictual"


def test_negation_scope_unlikely_to_reject_support(analysis, score):
    for units, hits in (
        score("Mali is unlikely to reject Russian support."),
        (
            analysis.units[
                (analysis.units["doc_id"] == "002")
                & (analysis.units["sentence_id"] == _sentence_with(analysis, "002", "unlikely to reject")[0])
            ],
            analysis.cue_hits[
                (analysis.cue_hits["doc_id"] == "002")
                & (analysis.cue_hits["sentence_id"] == _sentence_with(analysis, "002", "unlikely to reject")[0])
            ],
        ),
    ):
        reject, support = _hits_for(hits, "reject"), _hits_for(hits, "support")
        assert reject["negated"] and reject["effective"] > 0
        assert not support["negated"] and support["effective"] == support["weight"] > 0
        assert "Russia" in _attributed(reject) and "Russia" in _attributed(support)
        assert _unit(units, "Russia")["label"] == "cooperative"


def test_modality_may_sign_weighs_less_than_signing(score):
    _, hits = score("Mali may sign a defence agreement with Russia.")
    sign = _hits_for(hits, "sign")
    assert sign["modal"] and abs(sign["effective"]) < abs(sign["weight"])
    _, hits_act = score("Mali signed a defence agreement with Russia.")
    act = _hits_for(hits_act, "sign")
    assert not act["modal"] and act["effective"] == act["weight"]
    assert abs(sign["effective"]) < abs(act["effective"])


def test_modality_threatened_to_withdraw_weighs_less_than_withdrawing(score):
    units, hits = score("France threatened to withdraw its troops from Mali.")
    withdraw = _hits_for(hits, "withdraw")
    assert withdraw["modal"] and abs(withdraw["effective"]) < abs(withdraw["weight"])
    units_act, _ = score("France withdrew its troops from Mali.")
    assert abs(_unit(units, "France")["score"]) < abs(_unit(units_act, "France")["score"])


def test_two_partners_in_one_sentence_get_their_own_cues(analysis, score):
    text = "Mali has moved closer to Russia, against the background of a diplomatic row with France."
    seed_sid, seed_text = _sentence_with(analysis, "004", "moved closer to Russia")
    assert seed_text == text
    u = analysis.units[(analysis.units["doc_id"] == "004") & (analysis.units["sentence_id"] == seed_sid)]
    for units in (score(text)[0], u):
        russia, france = _unit(units, "Russia"), _unit(units, "France")
        assert russia["score"] > 0 and russia["label"] == "cooperative"
        assert france["score"] < 0 and france["label"] == "conflictual"
        assert "closer" in russia["cues"] and "row" not in russia["cues"]
        assert "row" in france["cues"] and "closer" not in france["cues"]


def test_capital_as_venue_takes_no_cue(score):
    units, hits = score("Malian officials held talks in Moscow on Libya.")
    assert _unit(units, "Russia")["n_cues"] == 0
    assert _unit(units, "Russia")["label"] == "neutral"
    talks = _hits_for(hits, "talks")
    assert _attributed(talks) == set() and "venue" in talks["attribution"]
    # the same capital as an actor does take the cue
    units2, _ = score("Bamako held talks with Moscow on Libya.")
    assert _unit(units2, "Russia")["n_cues"] == 1


def test_coordinated_partners_share_a_cue(analysis, score):
    units, hits = score("The Malian government held talks with envoys from Belgium, the Netherlands and Germany.")
    assert _attributed(_hits_for(hits, "talks")) == {"Belgium", "Netherlands", "Germany"}
    for p in ("Belgium", "Netherlands", "Germany"):
        assert _unit(units, p)["cues"] == "talks:+0.30"
    # and in the seed sentence 000/0, with Luxembourg too
    h = analysis.cue_hits
    seed = h[(h["doc_id"] == "000") & (h["sentence_id"] == 0) & (h["cue"] == "talks")].iloc[0]
    assert _attributed(seed) == {"Belgium", "Netherlands", "Luxembourg", "Germany"}


_CUE_ITEM = re.compile(r"^(?P<cue>\w+):(?P<w>[+-]\d+\.\d\d)$")


def test_every_scored_unit_keeps_its_cues(analysis):
    u, h = analysis.units, analysis.cue_hits
    names = {c.cue for c in analysis.lexicon.cues}
    scored = u[u["n_cues"] > 0]
    assert len(scored) > 20
    for r in scored.itertuples():
        items = [_CUE_ITEM.match(x) for x in r.cues.split("; ")]
        assert all(items), f"unparseable cues {r.cues!r}"
        assert {m["cue"] for m in items} <= names
        ws = [float(m["w"]) for m in items]
        assert sum(1 for w in ws if w != 0) == r.n_cues
        assert float(np.clip(sum(ws), -1, 1)) == pytest.approx(r.score, abs=0.005 * len(ws) + 1e-9)
        sent_hits = h[(h["doc_id"] == r.doc_id) & (h["sentence_id"] == r.sentence_id)]
        mine = sorted(c for c, p in zip(sent_hits["cue"], sent_hits["partner"]) if r.partner in p.split("; "))
        assert mine == sorted(m["cue"] for m in items)
    assert (u.loc[u["n_cues"] == 0, "score"] == 0).all()


def test_cue_hits_carry_type_from_lexicon(analysis, score):
    types = {c.cue: c.type for c in analysis.lexicon.cues}
    _, hand = score("France threatened to withdraw and Mali signed a defence agreement with Russia.")
    for h in (analysis.cue_hits, hand):
        assert len(h) > 0
        assert h["type"].isin(T.CUE_TYPES).all()
        assert (h["type"] == h["cue"].map(types)).all()
    assert {"verbal", "material"} <= set(analysis.cue_hits["type"])


# ============================================================================= 4. series


SERIES_COLUMNS = ["partner", "period", "mentions", "salience", "score", "ci_low", "ci_high", "n_evidence"]


@pytest.fixture(scope="module")
def series_all(analysis):
    return analysis.trajectory(partners=analysis.partners())


def test_partners_are_the_roots_by_mentions(analysis):
    """By hand, then against a count of every root but the focal actor's."""
    import dataclasses
    from collections import Counter

    roots = ["Russia", "Mali", "France", "Russia", "EU", "Russia", "France", "Mali", "Mali", "Mali"]
    small = dataclasses.replace(analysis, mentions=pd.DataFrame({"root": roots}))
    assert small.partners() == ["Russia", "France", "EU"]  # Mali is the focal actor
    assert small.partners(min_mentions=2) == ["Russia", "France"]
    want = Counter(r for r in analysis.mentions["root"] if r != analysis.gazetteer.focal)
    got = analysis.partners()
    assert len(got) > 3 and set(got) == set(want) and analysis.gazetteer.focal not in got
    assert [want[p] for p in got] == sorted(want.values(), reverse=True)  # most mentioned first
    k = want[got[2]]
    assert analysis.partners(min_mentions=k) == [p for p in got if want[p] >= k]


def _partner_mentions(analysis) -> pd.DataFrame:
    m, focal = analysis.mentions, analysis.gazetteer.focal
    pm = m[(m["root"] != focal) & (m["actor"] != focal)].copy()
    pm["period"] = pm["date_point"].dt.year.astype(str)
    return pm


def test_series_columns(analysis):
    s = analysis.trajectory()
    assert set(SERIES_COLUMNS) <= set(s.columns)
    assert set(s["partner"]) == {"France", "Russia"}
    assert not s.duplicated(["partner", "period"]).any()


def test_salience_by_hand(analysis, series_all):
    pm = _partner_mentions(analysis)
    counts = pm.groupby(["root", "period"]).size()
    totals = pm.groupby("period").size()
    assert len(series_all) == len(counts)
    for r in series_all.itertuples():
        assert r.mentions == counts[(r.partner, r.period)]
        assert r.salience == pytest.approx(counts[(r.partner, r.period)] / totals[r.period])
    sums = series_all.groupby("period")["salience"].sum()
    assert (sums <= 1 + 1e-9).all()
    assert sums.to_numpy() == pytest.approx(np.ones(len(sums)))  # all partners: shares add up to one
    focal_sums = analysis.trajectory().groupby("period")["salience"].sum()
    assert (focal_sums <= 1 + 1e-9).all()


def test_periods_without_mentions_are_absent(analysis, series_all):
    pm = _partner_mentions(analysis)
    assert (series_all["mentions"] > 0).all()
    for p, g in series_all.groupby("partner"):
        assert set(g["period"]) == set(pm.loc[pm["root"] == p, "period"])
    fr = analysis.trajectory(partners=["France"], period="month")
    fr_months = set(pm.loc[pm["root"] == "France", "date_point"].dt.to_period("M").astype(str))
    assert set(fr["period"]) == fr_months
    assert len(fr_months) < 12 * 5, "the seeds leave months without France: they must be gaps, not zero rows"


def test_n_evidence_and_score_by_hand(analysis):
    s = analysis.trajectory()
    u = analysis.units
    for r in s.itertuples():
        sel = u[(u["partner"] == r.partner) & (u["date_point"].dt.year.astype(str) == r.period) & (u["n_cues"] > 0)]
        assert r.n_evidence == len(sel)
        if len(sel):
            assert r.score == pytest.approx(sel["score"].mean())
        else:
            assert math.isnan(r.score)


def test_ci_contains_score(analysis, series_all):
    for s in (series_all, analysis.trajectory(period="quarter"), analysis.trajectory(period="month")):
        defined = s.dropna(subset=["ci_low", "ci_high"])
        assert len(defined) > 0
        assert (defined["ci_low"] <= defined["score"] + 1e-12).all()
        assert (defined["score"] <= defined["ci_high"] + 1e-12).all()
        assert s.loc[s["n_evidence"] < 2, ["ci_low", "ci_high"]].isna().all().all()
        assert s.loc[s["n_evidence"] >= 2, ["ci_low", "ci_high"]].notna().all().all()


def test_bootstrap_deterministic(analysis):
    a = analysis.trajectory(seed=11, n_boot=500)
    b = analysis.trajectory(seed=11, n_boot=500)
    pd.testing.assert_frame_equal(a, b)
    vals = np.array([0.1, -0.5, 0.9, 0.3])
    assert T.bootstrap_ci(vals, seed=3) == T.bootstrap_ci(vals, seed=3)
    assert all(math.isnan(x) for x in T.bootstrap_ci(np.array([0.4])))


def test_bootstrap_ci_by_hand():
    # 3 zeros and 5 ones: a resample's mean is Binomial(8, 5/8) / 8, so the percentile
    # interval is the binomial's 2.5% and 97.5% quantiles (CDF 0.036 at 2, 0.977 at 7)
    vals = np.array([0.0, 0, 0, 1, 1, 1, 1, 1])
    pmf = [math.comb(8, x) * 0.625**x * 0.375 ** (8 - x) for x in range(9)]
    cdf = np.cumsum(pmf)
    lo = next(x for x in range(9) if cdf[x] >= 0.025) / 8
    hi = next(x for x in range(9) if cdf[x] >= 0.975) / 8
    assert (lo, hi) == (0.25, 0.875)
    assert T.bootstrap_ci(vals, n_boot=50_000, seed=1) == (lo, hi)


def test_bootstrap_counts_match_resampling():
    # the count draw (repeated values) against resampling the values themselves, brute force
    rng = np.random.default_rng(5)
    for vals in (
        rng.choice([-1.0, -0.5, 0.25, 0.6, 1.0], 400, p=[0.5, 0.2, 0.1, 0.1, 0.1]),
        rng.choice([-0.3, 0.7], 9),
    ):
        lo, hi = T.bootstrap_ci(vals, n_boot=40_000, seed=2)
        brute = np.random.default_rng(9).choice(vals, size=(40_000, len(vals))).mean(axis=1)
        assert lo == pytest.approx(np.quantile(brute, 0.025), abs=0.02)
        assert hi == pytest.approx(np.quantile(brute, 0.975), abs=0.02)
    distinct = rng.random(50)  # every value distinct: resampled directly
    lo, hi = T.bootstrap_ci(distinct, n_boot=4_000, seed=2)
    means = np.random.default_rng(2).choice(distinct, size=(4_000, 50), replace=True).mean(axis=1)
    assert (lo, hi) == pytest.approx((np.quantile(means, 0.025), np.quantile(means, 0.975)), rel=1e-12)


def test_scores_by_group_by_hand():
    # two partners, two periods, rows interleaved: each group keeps its rows' order
    got = T._scores_by_group(
        pd.Series(["France", "Russia", "France", "France", "Russia"]),
        np.array([52, 52, 51, 52, 52]),
        pd.Series([0.5, -1.0, 0.25, -0.5, 1.0]),
    )
    assert {k: v.tolist() for k, v in got.items()} == {
        ("France", 51): [0.25],
        ("France", 52): [0.5, -0.5],
        ("Russia", 52): [-1.0, 1.0],
    }
    assert (
        T._scores_by_group(pd.Series([], dtype=object), np.zeros(0, dtype=np.int64), pd.Series([], dtype=float)) == {}
    )


def test_scores_by_group_matches_appending_row_by_row():
    """Brute force: a list per (partner, ordinal), appended to in row order (NaT's ordinal included)."""
    rng = np.random.default_rng(7)
    for n in (1, 2, 50, 3_000):
        partner = pd.Series(rng.choice(["France", "Russia", "EU", "Wagner"], n))
        ordinal = rng.choice([np.iinfo(np.int64).min, 40, 41, 55], n)
        score = pd.Series(rng.choice([-1.0, -0.25, 0.1, 0.5, 1.0], n))
        want: dict[tuple[str, int], list[float]] = {}
        for p, o, v in zip(partner, ordinal.tolist(), score):
            want.setdefault((p, o), []).append(v)
        got = T._scores_by_group(partner, ordinal, score)
        assert {k: v.tolist() for k, v in got.items()} == want


def test_series_bad_requests(analysis):
    with pytest.raises(InputError, match="unknown period 'week'"):
        analysis.trajectory(period="week")
    with pytest.raises(InputError, match="'Frnace' is not an actor"):
        analysis.trajectory(partners=["Frnace"])
    for bad in (0, -2):
        with pytest.raises(InputError, match="min_evidence must be >= 1"):
            analysis.trajectory(min_evidence=bad)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_low_evidence_flag(analysis, k):
    s = analysis.trajectory(min_evidence=k)
    assert (s["low_evidence"] == (s["n_evidence"] < k)).all()
    assert s["low_evidence"].dtype == bool


def test_direction_on_seeds(analysis):
    u = analysis.units
    scored = u[u["n_cues"] > 0]
    france = scored[scored["partner"] == "France"]["score"]
    russia = scored[(scored["partner"] == "Russia") & scored["date_point"].dt.year.between(2021, 2023)]["score"]
    assert len(france) >= 10 and len(russia) >= 10
    assert france.mean() < 0
    assert russia.mean() > 0
    s = analysis.trajectory()
    assert s.loc[s["partner"] == "France", "score"].mean() < 0  # NaN periods skipped
    ru = s[(s["partner"] == "Russia") & s["period"].isin(["2021", "2022", "2023"])]
    assert (ru["score"] > 0).all()


def test_events_have_in_text_dates(analysis):
    ev = analysis.events()
    assert len(ev) > 0
    assert set(ev["partner"]) <= {"France", "Russia"}
    assert (ev["date_precision"] != "publication").all()
    names = {c.cue for c in analysis.lexicon.cues if c.event}
    assert ev["event"].isin(names).all()
    for r in ev.itertuples():
        assert r.date_expression and r.date_expression in r.sentence
        assert r.date_earliest <= r.date <= r.date_latest
        unit = analysis.units[
            (analysis.units["doc_id"] == r.doc_id)
            & (analysis.units["sentence_id"] == r.sentence_id)
            & (analysis.units["partner"] == r.partner)
        ]
        assert unit["date_source"].item() == "in-text"


def _events_unit(doc, sid, partner, source="in-text", day="2022-01-15"):
    t = pd.Timestamp(day)
    return dict(
        doc_id=doc,
        sentence_id=sid,
        partner=partner,
        date_source=source,
        date_point=t,
        date_earliest=t,
        date_latest=t,
        date_precision="day",
        date_expression=day,
        score=-0.5,
    )


def test_events_take_the_first_of_the_strongest_cue_per_partner():
    """Hand-made: ties go to the earlier cue, a cue counts for each partner it is attributed to."""
    units = pd.DataFrame(
        [
            _events_unit("a", 0, "France"),
            _events_unit("a", 0, "Russia"),
            _events_unit("a", 1, "France", source="publication"),  # not an in-text date: no event
            _events_unit("b", 0, "France", day="2021-03-02"),  # no event cue for France there
        ]
    )
    hits = pd.DataFrame(
        {
            "doc_id": ["a", "a", "a", "a", "a", "b"],
            "sentence_id": [0, 0, 0, 0, 1, 0],
            "cue": ["expel", "sanction", "attack", "praise", "expel", "expel"],
            "weight": [-0.8, 0.8, -1.0, 2.0, -0.9, -0.7],
            "partner": ["France; Russia", "France", "Russia", "France", "France", "Russia"],
            "event": [True, True, True, False, True, True],
        }
    )
    sentences = pd.DataFrame({"doc_id": ["a", "a", "b"], "sentence_id": [0, 1, 0], "text": ["s a0", "s a1", "s b0"]})
    ev = T.trajectory_events(units, sentences, hits)
    assert ev[["partner", "event", "doc_id", "sentence_id", "sentence"]].values.tolist() == [
        ["France", "expel", "a", 0, "s a0"],  # expel and sanction are as strong: the first; praise is no event
        ["Russia", "attack", "a", 0, "s a0"],  # |-1.0| beats |-0.8|
    ]
    assert T.trajectory_events(units, sentences, hits, partners=["Russia"])["event"].tolist() == ["attack"]
    assert T.trajectory_events(units, sentences, hits.iloc[:0]).empty
    # a hit whose partner is missing names nobody, however strong
    nobody = pd.DataFrame([{**hits.iloc[0].to_dict(), "cue": "seize", "weight": -5.0, "partner": None}])
    pd.testing.assert_frame_equal(
        T.trajectory_events(units, sentences, pd.concat([nobody, hits], ignore_index=True)), ev
    )


def test_events_match_a_loop_over_units(analysis):
    """Brute force: for each in-text unit, the first of its sentence's strongest event cues for that partner."""
    hits, units = analysis.cue_hits, analysis.units
    want = []
    for u in units[units["date_source"] == "in-text"].itertuples():
        cues = [
            (abs(h.weight), h.cue)
            for h in hits[(hits["doc_id"] == u.doc_id) & (hits["sentence_id"] == u.sentence_id)].itertuples()
            if h.event and u.partner in h.partner.split("; ")
        ]
        if cues:
            best = max(cues, key=lambda c: c[0])
            want.append((u.partner, u.date_point, u.date_earliest, u.date_latest, best[1], u.doc_id, u.sentence_id))
    got = T.trajectory_events(units, analysis.sentences, hits)
    keys = ["partner", "date", "date_earliest", "date_latest", "event"]
    want_df = pd.DataFrame(want, columns=[*keys, "doc_id", "sentence_id"])
    want_df = want_df.sort_values(["partner", "date", "doc_id", "sentence_id"]).drop_duplicates(
        ["partner", "date_earliest", "date_latest", "event"]
    )
    assert len(got) > 0
    assert got[[*keys, "doc_id", "sentence_id"]].values.tolist() == want_df.values.tolist()


def test_france_expel_event_in_january_2022(analysis):
    ev = analysis.events()
    fr = ev[(ev["partner"] == "France") & (ev["event"] == "expel")]
    jan = fr[(fr["date_earliest"] >= pd.Timestamp("2022-01-01")) & (fr["date_latest"] <= pd.Timestamp("2022-01-31"))]
    assert len(jan) >= 1
    assert jan["sentence"].str.contains("expulsion").all()


def test_evidence_rows_match_units(analysis):
    ev = analysis.evidence()
    assert len(ev) == len(analysis.units)
    assert (ev["cues"].fillna("") == ev["cues"]).all()
    assert set(ev["date_source"]) <= {"in-text", "publication"}


@pytest.mark.parametrize("rows", [1, 7, 10**6])
def test_evidence_in_parts_is_the_evidence_cut_in_order(analysis, rows):
    """The parts (sorted keys, columns made per part) join into the table sorted whole."""
    whole = T.trajectory_evidence(analysis.units, analysis.sentences, analysis.docs)
    by_hand = whole.sort_values(["partner", "period", "doc_id", "sentence_id"], kind="stable")
    pd.testing.assert_frame_equal(whole, by_hand.reset_index(drop=True))
    parts = list(T.trajectory_evidence_parts(analysis.units, analysis.sentences, analysis.docs, rows=rows))
    assert [len(p) for p in parts[:-1]] == [rows] * (len(parts) - 1) and 0 < len(parts[-1]) <= rows
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    none = T.trajectory_evidence_parts(analysis.units.iloc[:0], analysis.sentences, analysis.docs, rows=rows)
    assert [len(p) for p in none] == [0]


# ============================================================================= 5. gold agreement


@pytest.fixture(scope="module")
def gold() -> pd.DataFrame:
    return pd.read_csv(GOLD, dtype={"doc_id": str, "sentence_id": int}, keep_default_na=False)


def test_gold_file_matches_sentences(analysis, gold):
    s = analysis.sentences.set_index(["doc_id", "sentence_id"])["text"]
    assert len(gold) == 129
    assert all(s[(d, i)] == t for d, i, t in zip(gold["doc_id"], gold["sentence_id"], gold["text"]))


def test_relation_agreement(analysis, gold):
    ev = T.evaluate_relations(analysis.units, gold, analysis.sentences)
    assert ev["n"] == len(gold)
    assert 0 <= ev["accuracy"] <= 1
    assert -1 <= ev["kappa"] <= 1
    conf = ev["confusion"]
    assert int(conf.to_numpy().sum()) == ev["n"]
    assert list(conf.index) == list(conf.columns) == ["cooperative", "neutral", "conflictual"]
    assert np.trace(conf.to_numpy()) / ev["n"] == pytest.approx(ev["accuracy"])
    rows = ev["rows"]
    assert ev["kappa"] == pytest.approx(T.cohen_kappa(list(rows["label"]), list(rows["predicted"])))
    print(
        f"\nrelation scorer vs gold: n={ev['n']} accuracy={ev['accuracy']:.3f} kappa={ev['kappa']:.3f} found={rows['found'].mean():.3f}"
    )
    print(conf)


def test_dating_agreement(analysis, gold):
    ev = T.evaluate_dating(analysis.units, gold, analysis.sentences)
    assert 0 < ev["n"] <= len(gold) and ev["n_in_text"] > 0
    for k in ("right_year", "exact", "right_year_in_text", "exact_in_text"):
        assert 0 <= ev[k] <= 1
    print(
        f"\ndating vs gold: n={ev['n']} right_year={ev['right_year']:.3f} exact={ev['exact']:.3f}; "
        f"in-text n={ev['n_in_text']} right_year={ev['right_year_in_text']:.3f} exact={ev['exact_in_text']:.3f}"
    )
    assert ev["right_year"] >= 0.9


def test_cohen_kappa_by_hand():
    # 4 items, 3 agree: p_o = 3/4; a has x,x,y,y (1/2, 1/2), b has x,y,y,y (1/4, 3/4);
    # p_e = 1/2*1/4 + 1/2*3/4 = 1/2 -> kappa = (3/4 - 1/2) / (1 - 1/2) = 1/2
    assert T.cohen_kappa(["x", "x", "y", "y"], ["x", "y", "y", "y"]) == pytest.approx(0.5)
    # 10 items, three labels; a: c c c c n n k k k k, b: c c c n n k k k k c
    # agree on items 1,2,3,5,7,8,9 -> p_o = 7/10
    # a: c 4, n 2, k 4; b: c 4, n 2, k 4 -> p_e = .4*.4 + .2*.2 + .4*.4 = .36
    # kappa = (.7 - .36) / (1 - .36) = .34 / .64 = 0.53125
    a = list("ccccnnkkkk")
    b = list("cccnnkkkkc")
    assert T.cohen_kappa(a, b) == pytest.approx(0.53125)
    assert T.cohen_kappa(["x", "y"], ["y", "x"]) == pytest.approx(-1.0)
    assert T.cohen_kappa(a, a) == 1.0
    with pytest.raises(ValueError):
        T.cohen_kappa(["x"], ["x", "y"])


def test_leave_one_source_out(analysis):
    full = T.textstat_trajectory(analysis.mentions, analysis.units, analysis.gazetteer, None, "year", n_boot=10)
    loo = T.trajectory_leave_one_out(analysis.mentions, analysis.units, analysis.docs, analysis.gazetteer)
    sources = sorted(analysis.docs["source"].unique())
    assert list(loo.columns) == ["left_out", "partner", "period", "score_full", "score_without", "sign_holds"]
    assert len(loo) == len(sources) * len(full)
    assert not loo.duplicated(["left_out", "partner", "period"]).any()
    assert sorted(loo["left_out"].unique()) == sources
    for r in loo.itertuples():
        v = r.sign_holds
        if isinstance(v, bool):
            assert not (math.isnan(r.score_full) or math.isnan(r.score_without))
            assert v == (np.sign(r.score_full) == np.sign(r.score_without))
        else:
            assert isinstance(v, float) and math.isnan(v)
            assert math.isnan(r.score_full) or math.isnan(r.score_without)
    assert loo["sign_holds"].map(lambda v: v is True).any()
    with pytest.raises(InputError):
        T.trajectory_leave_one_out(analysis.mentions, analysis.units, analysis.docs, analysis.gazetteer, by="outlet")


def test_a_partner_never_mentioned_gets_a_clear_message(analysis):
    from mali_partners.errors import InputError

    with pytest.raises(InputError) as exc:
        analysis.trajectory(partners=["France", "China"])
    assert "'China' is never mentioned" in exc.value.report()


def test_pattern_gates_change_no_date(analysis, monkeypatch):
    """Skipping the date patterns whose required words are absent gives the same dates as running them all."""
    from mali_partners import dating

    pub = (dt.date(2022, 1, 1), dt.date(2022, 3, 1))
    extra = [
        "On Monday, March 7, 2022 the talks began.",
        "Two years ago, in recent months and over the past decade, since May of that year.",
        "THE LAST WEEK, 1999 and 2000 to 2004, 7 Sept.",
    ]
    texts = list(analysis.sentences["text"]) + extra
    gated = [resolve(t, *pub) for t in texts]
    monkeypatch.setattr(dating, "_present", lambda text: {n for needs in dating._NEEDS.values() for n in needs})
    assert [resolve(t, *pub) for t in texts] == gated
    assert any(gated[-3:])  # the extra sentences do have dates


def test_cue_gates_change_no_cue(analysis):
    """Skipping the cues whose literal prefixes are absent gives the same cues as running every cue."""
    import dataclasses

    from mali_partners.trajectory import sentence_cues

    lex = analysis.lexicon
    ungated = dataclasses.replace(lex)
    ungated._triggers = [(c, None) for c, _ in lex._triggers]  # same order, every cue always run
    extra = [
        "Mali SIGNED a defence pact with Russia.",
        "The junta expelled the French ambassador; ties were cut.",
        # prefixes that only a shorter one of the same cue stands for ("withdraw" for "withdrawn")
        "French troops have WITHDRAWN from Gao.",
        "Mali deepened its strategic partnerships with Moscow.",
        # letters that re.I matches to ASCII ones: dotted capital I (lower() makes it two characters),
        # dotless i, long s, the Kelvin sign; a cue after a hyphen or an apostrophe starts a word too
        "French troops WİTHDRAW from Gao.",
        "Mali ſigned a defence pact with Russia.",
        "Bamako welcomed the Russian Kremlin’s aid; anti-French protests.",
    ]
    texts = list(analysis.sentences["text"]) + extra
    gated = [sentence_cues(t, lex) for t in texts]
    assert [sentence_cues(t, ungated) for t in texts] == gated
    assert sum(map(len, gated)) > 50 and all(gated[-7:])  # cues were found, the extra sentences included
    assert [h["cue"] for h in gated[-3]] == ["withdraw"]  # a gate searching lower() for "withdraw" missed it
    assert len({p for _, pre in lex._triggers for p in pre}) < sum(
        len(T._literal_prefixes(c.pattern.pattern)) for c in lex.cues
    )


# ----------------------------------------------------------------------------- charts at any corpus size


def test_year_step_by_hand_and_against_counting_labels():
    from mali_partners.charts import MAX_YEAR_TICKS, YEAR_STEPS, year_step

    assert [year_step(2012, 2025), year_step(2020, 2020), year_step(1950, 2030), year_step(1955, 2028)] == [1, 1, 10, 5]
    for first in (1947, 2000, 2003):
        for span in range(0, 400):
            last = first + span
            labels = {s: sum(1 for y in range(first, last + 1) if y % s == 0) for s in YEAR_STEPS}  # YearLocator's
            fits = [s for s in YEAR_STEPS if labels[s] <= MAX_YEAR_TICKS]
            assert year_step(first, last) == (fits[0] if fits else YEAR_STEPS[-1]), (first, span)


def _big_trajectory(analysis, scale: int = 1000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seeds' trajectory and events as a large corpus would give them: thousands of sentences per
    point, a year in the 1950s, and 40 copies of every event with its score varied."""
    tr = analysis.trajectory()
    tr = tr.assign(n_evidence=tr["n_evidence"] * scale, mentions=tr["mentions"] * scale)
    years = [  # each partner's best-evidenced year repeated over 2001-2025: more points than get labels
        row.to_frame().T.assign(
            period_start=pd.Timestamp(f"{y}-01-01"), period=str(y), n_evidence=row["n_evidence"] + y
        )
        for _, row in tr.dropna(subset=["score"]).sort_values("n_evidence").groupby("partner").tail(1).iterrows()
        for y in range(2001, 2026)
    ]
    tr = pd.concat(years, ignore_index=True).astype(tr.dtypes.to_dict())
    old = tr.iloc[:1].assign(period_start=pd.Timestamp("1955-01-01"), period="1955")
    ev = analysis.events()
    copies = [
        ev.assign(score=ev["score"] * (0.5 + i / 80), date=pd.to_datetime(ev["date"]) + pd.Timedelta(days=i))
        for i in range(40)
    ]
    return pd.concat([old, tr], ignore_index=True), pd.concat(copies, ignore_index=True)


def test_trajectory_chart_stays_readable_for_a_large_corpus(analysis):
    """Point areas are bounded, at most MAX_EVENT_MARKERS events are numbered (the strongest, with their
    numbers in the events table), year labels do not crowd, and the note says what was left out."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import PathCollection

    from mali_partners import charts

    tr, ev = _big_trajectory(analysis)
    fig = charts.textplot_trajectory(tr, ev, first_year=1950)
    ax1, ax2 = fig.axes[:2]
    sizes = np.concatenate([c.get_sizes() for c in ax2.collections if isinstance(c, PathCollection)])
    assert len(sizes) and sizes.max() <= 200 + 1e-9 and sizes.min() >= 25
    numbers = [int(t.get_text()) for t in ax2.texts if t.get_text().isdigit()]
    assert len(numbers) == charts.MAX_EVENT_MARKERS
    strongest = (
        ev.reset_index(drop=True)
        .assign(
            no=lambda e: np.arange(1, len(e) + 1),
            s=lambda e: e["score"].abs(),
            date=lambda e: pd.to_datetime(e["date"]),
        )
        .sort_values(["s", "date", "no"], ascending=[False, True, True])
        .drop_duplicates(["partner", "date"])
        .head(charts.MAX_EVENT_MARKERS)
    )
    assert sorted(numbers) == sorted(strongest["no"])
    assert not [t for t in ax2.texts if t.get_text().startswith("n=")]  # too many points to label
    fig.canvas.draw()
    lo, hi = ax2.get_xlim()
    labels = [t.get_text() for t in ax2.get_xticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi]
    assert 2 <= len(labels) <= charts.MAX_YEAR_TICKS and "1955" in labels
    note = fig.texts[-1].get_text().replace("\n", " ")
    assert f"the {charts.MAX_EVENT_MARKERS} strongest of {len(ev):,} events" in note
    assert f"largest {int(tr['n_evidence'].max()):,}" in note


def test_trajectory_chart_numbers_events_as_the_events_table_does(analysis):
    """A small corpus: every event numbered by its row in the events table, also when an earlier one
    falls before the axis; points keep their n= labels."""
    import matplotlib

    matplotlib.use("Agg")
    from mali_partners import charts

    tr, ev = analysis.trajectory(), analysis.events().reset_index(drop=True)
    assert 1 < len(ev) <= charts.MAX_EVENT_MARKERS
    early = ev.iloc[:1].assign(date=pd.Timestamp("1961-06-01"))
    both = pd.concat([early, ev], ignore_index=True)
    first_year = 2010
    fig = charts.textplot_trajectory(tr, both, partners=["France", "Russia"], first_year=first_year)
    ax2 = fig.axes[1]
    shown = both.index[
        (pd.to_datetime(both["date"]).dt.year >= first_year) & both["partner"].isin(["France", "Russia"])
    ]
    assert sorted(int(t.get_text()) for t in ax2.texts if t.get_text().isdigit()) == [i + 1 for i in shown]
    assert 1 not in [int(t.get_text()) for t in ax2.texts if t.get_text().isdigit()]  # 1961: left off the axis
    assert [t for t in ax2.texts if t.get_text().startswith("n=")]


def test_network_edges_are_as_wide_at_any_count(analysis):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import LineCollection

    from mali_partners import charts

    co = analysis.cooccurrence(rollup=True)
    widths = []
    for scale in (1, 5000):
        fig = charts.textplot_cooccurrence_network(co.assign(observed=co["observed"] * scale))
        lines = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
        widths.append(np.concatenate([c.get_linewidths() for c in lines]))
    assert widths[0].max() == pytest.approx(0.8 + charts.MAX_EDGE_WIDTH)
    np.testing.assert_allclose(widths[0], widths[1])


def test_lower_keeps_word_characters():
    """What the cue gate relies on: over all of Unicode, lower() keeps a character a word character or not,
    and only the dotted capital I changes length (the gate then falls back to searching anywhere)."""
    import sys

    word = re.compile(r"\w")
    longer = []
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        low = ch.lower()
        if len(low) != 1:
            longer.append(cp)
        elif bool(word.match(ch)) != bool(word.match(low)):
            raise AssertionError(f"lower() changes whether U+{cp:04X} is a word character")
    assert longer == [0x130]
