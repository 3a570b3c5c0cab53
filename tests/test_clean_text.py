"""Cleaning rules on the seed text they target, the cleaning report, and the offline text layer."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from mali_partners import clean
from mali_partners.clean import RULES, clean_text, corpus_clean
from mali_partners.corpus import corpus_load
from mali_partners.text import (
    corpus_sentences,
    fold,
    normalise_token,
    sentence_spans,
    sentences_tokens,
    stopwords,
    tokens_compact,
    word_tokenizer,
)

F000 = "000_13d628628ebf1d60.txt"
F001 = "001_bb3e9c76c64c8f0d.txt"
F002 = "002_8a76413f749e3af7.txt"
F003 = "003_f878d303fac9a017.txt"
F004 = "004_79038095807740e3.txt"
HEADLINE_001 = "Mali and Niger Strengthen Military Ties Amid Regional Instability"  # 65 characters
FURNITURE_001 = ["Trim Correspondents", "Updated On", "New Update", "Key Takeaways"]


def raw(seeds_dir: Path, name: str) -> str:
    return (seeds_dir / name).read_bytes().decode("utf-8")


def report_of(text: str, rules=None) -> dict[str, tuple[int, int]]:
    _, report = clean_text(text, rules)
    return {r["rule"]: (r["chars_removed"], r["chars_added"]) for r in report}


# --- each rule on the seed it targets, and on a small hand-made case -------------------


def test_strip_leading_blank_lines_seed_002(seeds_dir: Path) -> None:
    text = raw(seeds_dir, F002)
    assert text.startswith("\n\n\n\nWhat’s new?Since")
    assert clean.strip_leading_blank_lines(text) == text[4:]


def test_strip_leading_blank_lines_small() -> None:
    assert clean.strip_leading_blank_lines("\n \n\t\u00a0Text\n\nmore\n") == "Text\n\nmore\n"
    assert clean.strip_leading_blank_lines("a\n\n\nb") == "a\n\n\nb"  # only the start is touched


def test_drop_web_furniture_seed_001(seeds_dir: Path) -> None:
    text = raw(seeds_dir, F001)
    lines = text.split("\n")
    assert all(f in lines for f in FURNITURE_001)
    expected = "\n".join(line for line in lines if line not in FURNITURE_001)
    assert clean.drop_web_furniture(text) == expected
    assert "Why this matters: The strengthening" in expected  # article text stays


def test_drop_web_furniture_small() -> None:
    text = "Paris Correspondent\nThe deal stands.\n  share this article  \nRead more\nUpdated On Monday the deal was signed.\n"
    assert clean.drop_web_furniture(text) == "The deal stands.\nUpdated On Monday the deal was signed.\n"


def test_drop_repeated_headline_seed_001(seeds_dir: Path) -> None:
    text = raw(seeds_dir, F001)
    lines = text.split("\n")
    assert [i + 1 for i, line in enumerate(lines) if line == HEADLINE_001] == [1, 8, 10]
    out = clean.drop_repeated_headline(text)
    assert out.split("\n").count(HEADLINE_001) == 1
    assert out == "\n".join(line for i, line in enumerate(lines, start=1) if i not in (8, 10))


def test_drop_repeated_headline_small() -> None:
    assert clean.drop_repeated_headline("H\n\nH\nBody\n\nH\n") == "H\n\nBody\n\n"
    long_line = "x" * 201  # longer than a headline: a repeated paragraph is not this rule's business
    assert clean.drop_repeated_headline(f"{long_line}\n{long_line}") == f"{long_line}\n{long_line}"


@pytest.mark.parametrize(("name", "code"), [(F003, "CD/te/lb/as/APA"), (F004, "MD/ac/lb/abj/APA")])
def test_drop_agency_signoff_seeds(seeds_dir: Path, name: str, code: str) -> None:
    text = raw(seeds_dir, name)
    assert text.endswith(".\n" + code)  # the seeds end with the code and no final newline
    assert clean.drop_agency_signoff(text) == text[: -len(code)]


def test_drop_agency_signoff_small() -> None:
    assert clean.drop_agency_signoff("Body.\nAB/cd/APA\n") == "Body.\n"
    assert clean.drop_agency_signoff("Body.\nHe said: yes.\n") == "Body.\nHe said: yes.\n"
    assert clean.drop_agency_signoff("AB/cd/APA\nBody.\n") == "AB/cd/APA\nBody.\n"  # only the last line


def test_space_after_question_heading_seed_002(seeds_dir: Path) -> None:
    text = raw(seeds_dir, F002)
    expected = (
        text.replace("new?Since", "new? Since")
        .replace("important?The", "important? The")
        .replace("done?Bamako", "done? Bamako")
    )
    out = clean.space_after_question_heading(text)
    assert out == expected
    assert len(out) == len(text) + 3
    assert "What’s new? Since the coup" in out


def test_space_after_question_heading_small() -> None:
    assert (
        clean.space_after_question_heading("Why?Because. Why? Because. Why?not")
        == "Why? Because. Why? Because. Why?not"
    )


def test_drop_stray_periods_seed_002(seeds_dir: Path) -> None:
    text = raw(seeds_dir, F002)
    assert text.count("triumphalism. . rhetoric") == 1
    out = clean.drop_stray_periods(text)
    assert out == text.replace("triumphalism. . rhetoric", "triumphalism rhetoric")


def test_drop_stray_periods_small() -> None:
    assert clean.drop_stray_periods("the a. . b end") == "the a b end"
    assert clean.drop_stray_periods("End. . Next one.") == "End. . Next one."  # a capital may start a sentence


def test_tidy_whitespace_seeds(seeds_dir: Path) -> None:
    text = raw(seeds_dir, F000)
    assert not text.endswith("\n")
    assert clean.tidy_whitespace(text) == text + "\n"
    text = raw(seeds_dir, F002)[4:]
    assert "relations.\n\n\n\nAlthough" in text
    out = clean.tidy_whitespace(text)
    assert "relations.\n\nAlthough" in out and "\n\n\n" not in out


def test_tidy_whitespace_small() -> None:
    assert clean.tidy_whitespace("a  \n\n\n\nb") == "a\n\nb\n"
    assert clean.tidy_whitespace("\n \n") == ""


# --- the cleaning report -----------------------------------------------------------------


def test_report_has_one_row_per_rule_in_order() -> None:
    _, report = clean_text("Some text.\n")
    assert [r["rule"] for r in report] == [r.__name__ for r in RULES]
    assert all(r["chars_removed"] == r["chars_added"] == 0 for r in report)


def test_report_counts_small_case_1() -> None:
    # "\n\n" stripped (2), the 9-character code removed (9), one space added after "?".
    text, _ = clean_text("\n\nWhat?Now\nAB/cd/APA")
    assert text == "What? Now\n"
    rep = report_of("\n\nWhat?Now\nAB/cd/APA")
    assert rep["strip_leading_blank_lines"] == (2, 0)
    assert rep["drop_agency_signoff"] == (9, 0)
    assert rep["space_after_question_heading"] == (0, 1)
    assert sum(r for r, _ in rep.values()) == 11 and sum(a for _, a in rep.values()) == 1


def test_report_counts_small_case_2() -> None:
    # "Title\n" repeated (6); then two trailing spaces and the code "AB/cd/APA" (2 + 9 = 11).
    text, _ = clean_text("Title\nTitle\nBody text.  \nAB/cd/APA")
    assert text == "Title\nBody text.\n"
    rep = report_of("Title\nTitle\nBody text.  \nAB/cd/APA")
    assert rep["drop_repeated_headline"] == (6, 0)
    assert rep["drop_agency_signoff"] == (11, 0)
    assert sum(r for r, _ in rep.values()) == 17 and sum(a for _, a in rep.values()) == 0


def test_report_counts_seeds(seeds_dir: Path) -> None:
    r001 = report_of(raw(seeds_dir, F001))
    assert r001["drop_web_furniture"] == (sum(len(f) + 1 for f in FURNITURE_001), 0) == (56, 0)
    assert r001["drop_repeated_headline"] == (2 * (len(HEADLINE_001) + 1), 0) == (132, 0)
    r002 = report_of(raw(seeds_dir, F002))
    assert r002["strip_leading_blank_lines"] == (4, 0)
    assert r002["space_after_question_heading"] == (0, 3)
    assert r002["drop_stray_periods"] == (3, 0)  # ". ." and a space become one space
    assert report_of(raw(seeds_dir, F003))["drop_agency_signoff"] == (len("CD/te/lb/as/APA"), 0)
    assert report_of(raw(seeds_dir, F004))["drop_agency_signoff"] == (len("MD/ac/lb/abj/APA"), 0)


def test_report_balances_lengths_on_seeds(seeds_dir: Path) -> None:
    for path in sorted(seeds_dir.glob("*.txt")):
        text = path.read_bytes().decode("utf-8")
        for rule in RULES:
            after = rule(text)
            (rep,) = clean_text(text, [rule])[1]
            assert len(text) - rep["chars_removed"] + rep["chars_added"] == len(after), (path.name, rule.__name__)
            text = after


def test_report_counts_joined_lines() -> None:
    # ".\n." and its space become one space: 3 characters removed (35 -> 32).
    text = "The triumphalism.\n. rhetoric ends.\n"
    assert clean.drop_stray_periods(text) == "The triumphalism rhetoric ends.\n"
    assert report_of(text, [clean.drop_stray_periods]) == {"drop_stray_periods": (3, 0)}


def test_report_counts_indented_first_line() -> None:
    text = "\n\n  Hello world.\n"
    assert clean.strip_leading_blank_lines(text) == "Hello world.\n"
    assert report_of(text)["strip_leading_blank_lines"] == (4, 0)


def test_cleaning_leaves_raw_files_untouched(seeds_dir: Path) -> None:
    def digest() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(seeds_dir.iterdir()) if p.is_file()}

    before = digest()
    docs = corpus_load(seeds_dir)
    cleaned, report = corpus_clean(docs)
    assert digest() == before
    for file, text_raw in zip(cleaned["file"], cleaned["text_raw"]):
        assert text_raw == (seeds_dir / file).read_bytes().decode("utf-8")
    assert "text" not in docs.columns  # the input frame is not modified either
    assert len(report) == len(docs) * len(RULES)
    assert not any("CD/te/lb/as/APA" in t or "Updated On" in t for t in cleaned["text"])


# --- text layer --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_layers(seeds_dir: Path):
    docs, _ = corpus_clean(corpus_load(seeds_dir))
    sentences = corpus_sentences(docs)
    return docs, sentences, sentences_tokens(sentences)


def sentences_of(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The U.S. envoy met Diop. Then he left.", ["The U.S. envoy met Diop.", "Then he left."]),
        ("Col. Assimi Goïta spoke. The crowd cheered.", ["Col. Assimi Goïta spoke.", "The crowd cheered."]),
        ("Mr. Lavrov arrived in Bamako. Mr. Diop met him.", ["Mr. Lavrov arrived in Bamako.", "Mr. Diop met him."]),
    ],
)
def test_sentences_do_not_split_at_abbreviations(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


def test_line_breaks_end_sentences() -> None:
    text = "A headline with no full stop\n\nFirst sentence. Second one.\n  • A bullet\n"
    assert sentences_of(text) == ["A headline with no full stop", "First sentence.", "Second one.", "• A bullet"]


def test_word_tokens_small() -> None:
    text = "The U.S. and Mali-Russia ties, 1,000 troops, France’s role in d’État"
    assert word_tokenizer().tokenize(text) == [
        "The",
        "U.S.",
        "and",
        "Mali-Russia",
        "ties",
        "1,000",
        "troops",
        "France’s",
        "role",
        "in",
        "d’État",
    ]


def test_sentence_and_token_spans_slice_back_exactly(seed_layers) -> None:
    docs, sentences, tokens = seed_layers
    texts = dict(zip(docs["doc_id"], docs["text"]))
    assert len(sentences) > 100 and len(tokens) > 2000
    for doc_id, start, end, sent in zip(sentences["doc_id"], sentences["start"], sentences["end"], sentences["text"]):
        assert texts[doc_id][start:end] == sent and sent == sent.strip() and sent
    for doc_id, start, end, token in zip(tokens["doc_id"], tokens["start"], tokens["end"], tokens["token"]):
        assert texts[doc_id][start:end] == token


def test_compact_tokens_keep_what_the_corpus_steps_read() -> None:
    """Two articles by hand: the compact frame drops the surface form, keeps the rest value for value."""
    sentences = pd.DataFrame(
        {
            "doc_id": ["a", "a", "b"],
            "sentence_id": [0, 1, 0],
            "start": [0, 16, 0],
            "text": ["France and Mali", "Russia's.", "In 2022"],
        }
    )
    small = tokens_compact(sentences_tokens(sentences))
    assert list(small.columns) == ["doc_id", "sentence_id", "token_id", "start", "end", "norm", "is_stop"]
    assert [str(t) for t in small.dtypes[["sentence_id", "token_id", "start", "end"]]] == ["int32"] * 4
    assert list(small.itertuples(index=False, name=None)) == [
        ("a", 0, 0, 0, 6, "france", False),
        ("a", 0, 1, 7, 10, "and", True),  # stopword
        ("a", 0, 2, 11, 15, "mali", False),
        ("a", 1, 3, 16, 24, "russia", False),  # token_id runs on across sentences; possessive dropped
        ("b", 0, 0, 0, 2, "in", True),
        ("b", 0, 1, 3, 7, "2022", True),  # no letter
    ]


def test_sentences_cover_every_character(seed_layers) -> None:
    docs, sentences, tokens = seed_layers
    for doc_id, text in zip(docs["doc_id"], docs["text"]):
        covered = set()
        for s, e in zip(
            sentences.loc[sentences["doc_id"] == doc_id, "start"], sentences.loc[sentences["doc_id"] == doc_id, "end"]
        ):
            covered.update(range(s, e))
        lost = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
        assert lost == [], doc_id
        ids = tokens.loc[tokens["doc_id"] == doc_id, "token_id"].tolist()
        assert ids == list(range(len(ids)))


_OFFLINE = """
import json, os, sys
import nltk
nltk.data.path[:] = [os.environ["NLTK_DATA"]]
try:
    nltk.data.find("tokenizers/punkt_tab/english/")
    found = True
except LookupError:
    found = False
from mali_partners.text import sentence_spans, stopwords, word_tokenizer
text = sys.stdin.read()
print(json.dumps({"punkt_found": found, "sentences": sentence_spans(text),
                  "tokens": list(word_tokenizer().span_tokenize(text)), "stopwords": len(stopwords())}))
"""


def test_text_layer_needs_no_nltk_data(tmp_path: Path, seed_layers) -> None:
    docs, _, _ = seed_layers
    text = "The U.S. envoy met Col. Goïta and Mr. Diop. They talked.\n" + docs["text"].iloc[-1]
    data, home = tmp_path / "nltk_data", tmp_path / "home"
    data.mkdir()
    home.mkdir()
    env = {**os.environ, "NLTK_DATA": str(data), "HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-c", _OFFLINE],
        input=text,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        encoding="utf-8",
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["punkt_found"] is False
    assert got["sentences"] == [list(s) for s in sentence_spans(text)]
    assert got["sentences"][0] == [0, len("The U.S. envoy met Col. Goïta and Mr. Diop.")]
    assert got["tokens"] == [list(s) for s in word_tokenizer().span_tokenize(text)]
    assert got["stopwords"] == len(stopwords())
    assert list(data.iterdir()) == [] and list(home.iterdir()) == []  # nothing downloaded or cached


def test_stopwords_load_with_source_in_header() -> None:
    lines = resources.files("mali_partners").joinpath("data", "stopwords.txt").read_text("utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert any("Source:" in line and "NLTK" in line for line in header)
    # the header says the NLTK list has 179 words; the project additions follow a "# ---" marker
    marker = next(i for i, line in enumerate(lines) if line.startswith("# ---"))
    nltk_words = [w for w in lines[len(header) : marker] if w.strip()]
    additions = [w for w in lines[marker + 1 :] if w.strip() and not w.startswith("#")]
    assert len(nltk_words) == 179
    words = stopwords()
    assert words == frozenset(nltk_words + additions)
    assert {"the", "and", "of", "said", "would"} <= words
    assert not {"mali", "france", "russia", "wagner"} & words
    assert all(w == w.strip().lower() for w in words)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("France’s", "france"),
        ("Mali's", "mali"),
        ("d’État", "d'état"),
        ("Mali‐Russia", "mali-russia"),
        ("U.S.", "u.s."),
        ("ECOWAS", "ecowas"),
        ("its", "its"),
    ],
)
def test_normalise_token(token: str, expected: str) -> None:
    assert normalise_token(token) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Goïta", "Goita"),
        ("Sergueï", "Serguei"),
        ("Ménaka", "Menaka"),
        ("Côte d’Ivoire", "Cote d’Ivoire"),
        ("coup d’État", "coup d’Etat"),
        ("e\u0301", "e\u0301"),  # an already decomposed accent keeps its two characters
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected
    assert len(fold(text)) == len(text)


def test_fold_keeps_offsets_on_seeds(seed_layers) -> None:
    docs, _, _ = seed_layers
    for text in docs["text"]:
        folded = fold(text)
        assert len(folded) == len(text)
        assert all(a == b for a, b in zip(text, folded) if a.isascii())
    assert "Goita" in fold(docs.set_index("doc_id").loc["004", "text"])


def test_sentence_rows_hand_computed():
    from mali_partners.text import sentence_rows

    sentences = pd.DataFrame({"doc_id": ["b", "b", "a"], "sentence_id": [0, 1, 0], "text": ["B0", "B1", "A0"]})
    rows = sentence_rows(sentences, pd.Series(["a", "b", "b", "a"]), pd.Series([0, 1, 0, 0]))
    assert rows.tolist() == [2, 1, 0, 2]
    with pytest.raises(KeyError, match="no sentence 1 in article 'a'"):
        sentence_rows(sentences, pd.Series(["b", "a"]), pd.Series([0, 1]))


_IMPORTS = """
import json, sys
from mali_partners import cli, pipeline
from mali_partners.text import sentence_spans
hidden = 'scipy' in sys.modules
spans = sentence_spans('Mali met Russia. France left.')
import scipy.stats
from nltk.metrics.association import BigramAssocMeasures
print(json.dumps({'scipy_at_import': hidden, 'spans': spans, 'scipy_after': 'scipy.stats' in sys.modules,
                  'pmi': BigramAssocMeasures.pmi(2, (3, 4), 20)}))
"""


def test_nltk_imports_without_scipy_and_leaves_it_importable() -> None:
    """Importing the package's NLTK classes does not pay for SciPy (0.9 s of NLTK's 1.1 s import), and SciPy and
    the rest of NLTK still import and work afterwards."""
    proc = subprocess.run([sys.executable, "-c", _IMPORTS], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["scipy_at_import"] is False
    assert got["spans"] == [[0, 16], [17, 29]]
    assert got["scipy_after"] is True
    assert abs(got["pmi"] - 1.7369655941662063) < 1e-12  # log2(2 * 20 / (3 * 4))


def _tokens_by_loop(sentences: pd.DataFrame) -> list[tuple]:
    """Brute force: NLTK's RegexpTokenizer spans sentence by sentence, one counter per article."""
    stops = stopwords()
    rows, counters = [], {}
    for doc_id, sid, start, text in sentences[["doc_id", "sentence_id", "start", "text"]].itertuples(index=False):
        for s, e in word_tokenizer().span_tokenize(text):
            n = counters.get(doc_id, 0)
            norm = normalise_token(text[s:e])
            stop = norm in stops or not any(c.isalpha() for c in norm)
            rows.append((doc_id, sid, n, start + s, start + e, text[s:e], norm, stop))
            counters[doc_id] = n + 1
    return rows


def test_tokens_match_a_token_by_token_loop(seed_layers) -> None:
    """The column-built token frame holds the rows of a plain loop over NLTK's tokenizer, seeds and hand cases."""
    _, sentences, tokens = seed_layers
    assert list(tokens.itertuples(index=False, name=None)) == _tokens_by_loop(sentences)
    # an article's sentences apart (b between two of a's): token_id still counts on within a
    odd = pd.DataFrame(
        {
            "doc_id": ["a", "b", "a"],
            "sentence_id": [0, 0, 1],
            "start": [0, 0, 20],
            "text": ["Mali’s ties: 1,000 U.S. troops", "", "Goïta and d’État."],
        }
    )
    got = sentences_tokens(odd)
    assert list(got.itertuples(index=False, name=None)) == _tokens_by_loop(odd)
    assert got["token_id"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert [str(t) for t in got.dtypes] == [str(t) for t in tokens.dtypes]


def test_abbreviation_punkt_matches_nltk(seed_layers) -> None:
    """Cross-check: the shortcut Punkt splits every seed line and random text exactly as NLTK's own code."""
    import random

    from mali_partners._nltk import PunktSentenceTokenizer
    from mali_partners.text import sentence_tokenizer

    fast = sentence_tokenizer()
    nltk_punkt = PunktSentenceTokenizer(fast._params)  # NLTK's language variables, its patterns time-limited
    lang = fast._lang_vars  # Punkt's patterns run directly: the same regex engine, without the wrapper
    for pattern in (lang.period_context_re(), lang.re_boundary_realignment, lang._word_tokenizer_re()):
        assert not hasattr(pattern, "_rx") and hasattr(pattern, "finditer")
    assert hasattr(nltk_punkt._lang_vars.period_context_re(), "_rx")  # what the cross-check below compares with
    docs, _, _ = seed_layers
    lines = [line for text in docs["text"] for line in text.split("\n") if line.strip()]
    rng = random.Random(0)
    words = 'Mr. U.S. e.g. Col. no. A. j. 3. 1,000. 2.5 -3. ... .. . ? ! ?! Mali. mali. Russia the ( ) " “ ” ’ ; : , --'
    words += " Goïta. É. é. x-ray. St.-Louis. Inc. ſ. İ. ١. _. Sr. 4.) end.) Ltd., (a)."
    vocab = words.split()
    for _ in range(3000):
        lines.append("".join(rng.choice(vocab) + rng.choice([" ", "", "  "]) for _ in range(rng.randint(1, 9))))
    breaks = 0
    for line in lines:
        got = list(fast.span_tokenize(line))
        assert got == list(nltk_punkt.span_tokenize(line)), line
        breaks += len(got) > 1
    assert breaks > 1000  # the random texts do break, in many ways
    # parameters with learned statistics go through NLTK's code
    from mali_partners._nltk import PunktParameters

    params = PunktParameters()
    params.abbrev_types = set(fast._params.abbrev_types)
    params.sent_starters = {"then"}
    learned = type(fast)(params)
    assert learned.text_contains_sentbreak("Mr. Then") and not fast.text_contains_sentbreak("Mr. Then")
    assert learned.text_contains_sentbreak("Mr. Then") == PunktSentenceTokenizer(
        learned._params
    ).text_contains_sentbreak("Mr. Then")
