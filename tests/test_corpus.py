"""The corpus and its manifest: `mali-partners validate`, `add` and `info`.

Every broken corpus is a copy of the seeds with one thing wrong; each must end with
exit status 1, a message naming the file and giving a fix, no traceback, and no file
changed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mali_partners.cli import main
from mali_partners.corpus import corpus_version, read_raw

F000 = "000_13d628628ebf1d60.txt"
F003 = "003_f878d303fac9a017.txt"
F004 = "004_79038095807740e3.txt"
MANIFEST = "manifest.csv"
SHARED_SEEDS = Path("/work/shared/seeds")
FIX_LINE = re.compile(r"^\s+fix: \S", re.MULTILINE)

# A made-up article of 58 words, unlike every seed: valid as a new corpus member.
ARTICLE = (
    "Bamako and Ouagadougou signed a new memorandum on river transport on Thursday, "
    "the transport ministers of both countries said in a joint statement. The agreement "
    "covers barges on the Niger river, customs posts at the border and a shared fund "
    "for dredging. Officials expect the first convoys to sail before the rainy season, "
    "according to the statement.\n"
)


# --- helpers -------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run the command in-process; return (exit status, stdout, stderr)."""
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under a folder (by relative path) with its SHA-256: equal means byte-identical."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def read_manifest(corpus: Path) -> list[list[str]]:
    with (corpus / MANIFEST).open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def write_manifest(corpus: Path, rows: list[list[str]], delimiter: str = ",") -> None:
    with (corpus / MANIFEST).open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerows(rows)


def set_fields(corpus: Path, row_id: str, **values: str) -> None:
    rows = read_manifest(corpus)
    header = rows[0]
    for row in rows[1:]:
        if row[0] == row_id:
            for col, val in values.items():
                row[header.index(col)] = val
    write_manifest(corpus, rows)


def append_row(corpus: Path, **values: str) -> None:
    rows = read_manifest(corpus)
    rows.append([values.get(col, "") for col in rows[0]])
    write_manifest(corpus, rows)


def respaced(text: str) -> str:
    """The same words with different white space: blank lines, doubled spaces, CRLF."""
    return "\n\n" + text.replace(" ", "  ").replace("\n", "\r\n") + "\n\n"


def assert_user_error(rc: int, out: str, err: str, fragments: list[str]) -> None:
    """Exit 1, a report on stderr naming what is wrong with a fix, never a traceback."""
    assert rc == 1
    assert "Traceback" not in err and "Traceback" not in out
    assert out == ""
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    assert FIX_LINE.search(err), err


# --- broken corpora: each returns (number of problems, fragments the report must contain);
# the first fragment is the name of the broken file.


def orphan_text_file(c: Path) -> tuple[int, list[str]]:
    (c / "005_orphan.txt").write_text(ARTICLE, encoding="utf-8")
    return 1, ["005_orphan.txt", "has no manifest row", "mali-partners add"]


def row_file_missing(c: Path) -> tuple[int, list[str]]:
    (c / F003).unlink()
    return 1, [F003, MANIFEST, "line 5 (id 003)", "does not exist"]


def not_utf8(c: Path) -> tuple[int, list[str]]:
    # "First line.\n" is 12 bytes; "The caf" is 7 more, so 0xe9 is at offset 19, line 2, column 8.
    (c / F004).write_bytes(b"First line.\nThe caf\xe9 is closed.\n")
    return 1, [F004, "not valid UTF-8", "byte 0xe9", "line 2, column 8", "byte offset 19"]


def manifest_not_utf8(c: Path) -> tuple[int, list[str]]:
    # a Latin-1 "é" in row 002's title, line 4, after "002,002_8a76413f749e3af7.txt,[Mali" (35 characters):
    # one problem, not one per text file "without a manifest row" as when the manifest was not read at all
    lines = (c / MANIFEST).read_bytes().split(b"\n")
    assert lines[3].startswith(b"002,002_8a76413f749e3af7.txt,[Mali")
    lines[3] = lines[3][:35] + b"\xe9" + lines[3][35:]
    (c / MANIFEST).write_bytes(b"\n".join(lines))
    offset = sum(len(line) + 1 for line in lines[:3]) + 35
    return 1, [MANIFEST, "line 4, column 36", "the manifest is not valid UTF-8", "byte 0xe9", f"byte offset {offset}"]


def empty_article(c: Path) -> tuple[int, list[str]]:
    (c / F003).write_bytes(b"")
    return 1, [F003, "the article is empty"]


def blank_article(c: Path) -> tuple[int, list[str]]:
    (c / F003).write_text(" \n\n\t\n", encoding="utf-8")
    return 1, [F003, "the article is empty"]


def near_empty_article(c: Path) -> tuple[int, list[str]]:
    (c / F003).write_text("Subscribe to continue reading this article.\n", encoding="utf-8")
    return 1, [F003, "near-empty (6 words, fewer than 40)"]


def duplicate_id(c: Path) -> tuple[int, list[str]]:
    set_fields(c, "001", id="000")
    return 1, [MANIFEST, "line 3 (id 000)", "id '000' is used twice (also on line 2)"]


def duplicate_file(c: Path) -> tuple[int, list[str]]:
    append_row(c, id="005", file=F000, title="T", source="S", published="2024", date_precision="year", date_basis='"q"')
    return 1, [MANIFEST, f"file '{F000}' is listed twice (also on line 2)", "line 7 (id 005)"]


def same_text_twice(c: Path) -> tuple[int, list[str]]:
    (c / "005_copy.txt").write_text(respaced((c / F003).read_text(encoding="utf-8")), encoding="utf-8")
    append_row(
        c,
        id="005",
        file="005_copy.txt",
        title="T",
        source="S",
        published="2022-02",
        date_precision="month",
        date_basis='"q"',
    )
    return 1, ["005_copy.txt", f"the same text as {F003}"]


def unparseable_date(c: Path) -> tuple[int, list[str]]:
    set_fields(c, "003", published="January 2022", date_precision="month")
    return 1, [MANIFEST, "line 5 (id 003)", "'January 2022'", "not a date"]


def impossible_date(c: Path) -> tuple[int, list[str]]:
    set_fields(c, "003", published="2023-02-30", date_precision="day")
    return 1, [MANIFEST, "line 5 (id 003)", "'2023-02-30' is an impossible date"]


def range_reversed(c: Path) -> tuple[int, list[str]]:
    set_fields(c, "003", published="2022-02-17/2022-01-31")
    return 1, [MANIFEST, "line 5 (id 003)", "the range starts (2022-02-17) after it ends (2022-01-31)"]


def required_values_empty(c: Path) -> tuple[int, list[str]]:
    set_fields(c, "004", title="", date_basis="")
    return 2, [MANIFEST, "line 6 (id 004)", "'title' is empty", "'date_basis' is empty"]


def unknown_column(c: Path) -> tuple[int, list[str]]:
    rows = read_manifest(c)
    write_manifest(c, [rows[0] + ["author"]] + [r + ["someone"] for r in rows[1:]])
    return 1, [MANIFEST, "line 1", "unknown column(s): author"]


def required_column_missing(c: Path) -> tuple[int, list[str]]:
    rows = read_manifest(c)
    i = rows[0].index("date_basis")
    write_manifest(c, [r[:i] + r[i + 1 :] for r in rows])
    return 1, [MANIFEST, "line 1", "missing column(s): date_basis"]


def header_missing(c: Path) -> tuple[int, list[str]]:
    write_manifest(c, read_manifest(c)[1:])
    # no header means no rows: the five articles are then unlisted as well
    return 6, [MANIFEST, "line 1", "the first line is not a header", "add the header line: id,file,title"]


def semicolon_delimited(c: Path) -> tuple[int, list[str]]:
    write_manifest(c, read_manifest(c), delimiter=";")
    return 6, [MANIFEST, "line 1", "delimited by ';'", "comma-separated"]


def file_outside_corpus(c: Path) -> tuple[int, list[str]]:
    (c.parent / "x.txt").write_text(ARTICLE, encoding="utf-8")
    append_row(
        c, id="005", file="../x.txt", title="T", source="S", published="2024", date_precision="year", date_basis='"q"'
    )
    return 1, [MANIFEST, "line 7 (id 005)", "'../x.txt' points outside the corpus folder"]


def symlink_outside_corpus(c: Path) -> tuple[int, list[str]]:
    (c.parent / "secret.txt").write_text(ARTICLE, encoding="utf-8")
    (c / "link.txt").symlink_to(c.parent / "secret.txt")  # a bare name that still leads outside
    append_row(
        c, id="005", file="link.txt", title="T", source="S", published="2024", date_precision="year", date_basis='"q"'
    )
    return 1, [MANIFEST, "line 7 (id 005)", "'link.txt' points outside the corpus folder"]


BREAKERS: list[Callable[[Path], tuple[int, list[str]]]] = [
    orphan_text_file,
    row_file_missing,
    not_utf8,
    manifest_not_utf8,
    empty_article,
    blank_article,
    near_empty_article,
    duplicate_id,
    duplicate_file,
    same_text_twice,
    unparseable_date,
    impossible_date,
    range_reversed,
    required_values_empty,
    unknown_column,
    required_column_missing,
    header_missing,
    semicolon_delimited,
    file_outside_corpus,
    symlink_outside_corpus,
]


# --- validate --------------------------------------------------------------------------


def test_validate_seeds_ok_one_line(seeds_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(seeds_dir)
    rc, out, err = cli(capsys, "validate", seeds_dir)
    assert rc == 0 and err == ""
    n_words = sum(len(p.read_bytes().decode("utf-8").split()) for p in sorted(seeds_dir.glob("*.txt")))
    version = corpus_version(read_raw(seeds_dir))
    assert out.splitlines() == [
        f"ok: {seeds_dir}: 5 articles, {n_words:,} words, corpus version {version}; no problems found"
    ]
    assert tree_digest(seeds_dir) == before


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__)
def test_validate_reports_broken_corpus(breaker, corpus_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n_problems, fragments = breaker(corpus_copy)
    before = tree_digest(corpus_copy)
    rc, out, err = cli(capsys, "validate", corpus_copy)
    assert_user_error(rc, out, err, fragments)
    assert err.startswith(f"{n_problems} problem{'s' if n_problems > 1 else ''} in the corpus")
    assert len(FIX_LINE.findall(err)) == n_problems  # one fix per problem
    assert tree_digest(corpus_copy) == before  # validate never writes


def test_validate_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cli(capsys, "validate", tmp_path / "no_such_corpus")
    assert_user_error(rc, out, err, ["no_such_corpus", "the corpus folder does not exist"])
    assert not (tmp_path / "no_such_corpus").exists()


def test_validate_reports_three_problems_at_once(corpus_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = [orphan_text_file(corpus_copy), impossible_date(corpus_copy), empty_article(corpus_copy)]
    before = tree_digest(corpus_copy)
    rc, out, err = cli(capsys, "validate", corpus_copy)
    assert_user_error(rc, out, err, [frag for _, frags in expected for frag in frags])
    assert err.startswith("3 problems in the corpus")
    assert len(FIX_LINE.findall(err)) == 3
    assert tree_digest(corpus_copy) == before


def test_validate_as_a_subprocess(corpus_copy: Path) -> None:
    exe = shutil.which("mali-partners", path=str(Path(sys.executable).parent))
    assert exe, f"mali-partners is not installed next to {sys.executable}"
    _, fragments = impossible_date(corpus_copy)
    proc = subprocess.run([exe, "validate", str(corpus_copy)], capture_output=True, text=True, timeout=120)
    assert_user_error(proc.returncode, proc.stdout, proc.stderr, fragments)


def test_the_command_exits_with_main_status(seeds_dir: Path) -> None:
    # the console script is cli.entry (main, then gc.freeze before exiting): its status and output are main's
    exe = shutil.which("mali-partners", path=str(Path(sys.executable).parent))
    assert exe, f"mali-partners is not installed next to {sys.executable}"
    proc = subprocess.run([exe, "validate", str(seeds_dir)], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith(f"ok: {seeds_dir}: 5 articles")
    proc = subprocess.run([exe, "no-such-command"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


# --- add -------------------------------------------------------------------------------


def add(
    capsys: pytest.CaptureFixture[str], corpus: Path, src: Path, published: str = "2024-03-05", *extra: str
) -> tuple[int, str, str]:
    return cli(
        capsys,
        "add",
        src,
        "--title",
        "Mali and Burkina Faso sign river transport deal",
        "--source",
        "Test Wire",
        "--published",
        published,
        "--corpus",
        corpus,
        *extra,
    )


def test_add_copies_file_and_appends_row(corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "new article.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    old_manifest = (corpus_copy / MANIFEST).read_bytes()
    old_files = set(tree_digest(corpus_copy))
    v0 = corpus_version(read_raw(corpus_copy))
    basis = 'dateline "Bamako, 5 March 2024"'
    rc, out, err = add(capsys, corpus_copy, src, "2024-03-05", "--date-basis", basis, "--url", "https://example.org/a")
    assert rc == 0, err
    name = f"005_{hashlib.sha256(ARTICLE.encode()).hexdigest()[:16]}.txt"
    assert (corpus_copy / name).read_bytes() == src.read_bytes()
    assert set(tree_digest(corpus_copy)) == old_files | {name}  # nothing else written, no temp file left
    new_manifest = (corpus_copy / MANIFEST).read_bytes()
    assert new_manifest.startswith(old_manifest)  # existing rows untouched
    appended = list(csv.reader(io.StringIO(new_manifest[len(old_manifest) :].decode("utf-8"))))
    header = read_manifest(corpus_copy)[0]
    assert [dict(zip(header, r)) for r in appended] == [
        {
            "id": "005",
            "file": name,
            "title": "Mali and Burkina Faso sign river transport deal",
            "source": "Test Wire",
            "url": "https://example.org/a",
            "published": "2024-03-05",
            "date_precision": "day",
            "date_basis": basis,
        }
    ]
    v1 = corpus_version(read_raw(corpus_copy))
    assert v1 != v0
    assert out.splitlines() == [f"added {name} as id 005 (2024-03-05, day); corpus version {v1}"]
    rc, out, err = cli(capsys, "validate", corpus_copy)
    assert rc == 0 and err == ""
    assert "6 articles" in out and v1 in out


@pytest.mark.parametrize(
    ("published", "precision"),
    [("2024", "year"), ("2024-03", "month"), ("2024-03-05", "day"), ("2024-01-15/2024-02-15", "range")],
)
def test_add_infers_date_precision(
    published: str, precision: str, corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "new.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    rc, _, err = add(capsys, corpus_copy, src, published, "--date-basis", '"q"')
    assert rc == 0, err
    header, *rows = read_manifest(corpus_copy)
    last = dict(zip(header, rows[-1]))
    assert (last["id"], last["published"], last["date_precision"]) == ("005", published, precision)


def _src_impossible_date(tmp: Path, seeds: Path) -> tuple[Path, str, list[str]]:
    (tmp / "new.txt").write_text(ARTICLE, encoding="utf-8")
    return tmp / "new.txt", "2024-02-30", ["'2024-02-30' is an impossible date"]


def _src_unparseable_date(tmp: Path, seeds: Path) -> tuple[Path, str, list[str]]:
    (tmp / "new.txt").write_text(ARTICLE, encoding="utf-8")
    return tmp / "new.txt", "5 March 2024", ["'5 March 2024'", "not a date"]


def _src_duplicate_text(tmp: Path, seeds: Path) -> tuple[Path, str, list[str]]:
    seed = (seeds / F003).read_text(encoding="utf-8")
    (tmp / "copy.txt").write_text(respaced(seed), encoding="utf-8")
    return tmp / "copy.txt", "2022-02", ["copy.txt", f"the same text as {F003}"]


def _src_empty(tmp: Path, seeds: Path) -> tuple[Path, str, list[str]]:
    (tmp / "empty.txt").write_bytes(b"")
    return tmp / "empty.txt", "2024", ["empty.txt", "the article is empty"]


def _src_not_utf8(tmp: Path, seeds: Path) -> tuple[Path, str, list[str]]:
    (tmp / "latin1.txt").write_bytes(ARTICLE.replace("Bamako", "Bamakö").encode("latin-1"))
    return tmp / "latin1.txt", "2024", ["latin1.txt", "not valid UTF-8", "byte 0xf6"]


def _src_missing(tmp: Path, seeds: Path) -> tuple[Path, str, list[str]]:
    return tmp / "absent.txt", "2024", ["absent.txt", "the article file does not exist"]


@pytest.mark.parametrize(
    "make_src",
    [_src_impossible_date, _src_unparseable_date, _src_duplicate_text, _src_empty, _src_not_utf8, _src_missing],
    ids=lambda f: f.__name__.removeprefix("_src_"),
)
def test_add_failure_changes_nothing(
    make_src, seeds_dir: Path, corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    src, published, fragments = make_src(incoming, seeds_dir)
    before = tree_digest(corpus_copy)
    rc, out, err = add(capsys, corpus_copy, src, published, "--date-basis", '"q"')
    assert_user_error(rc, out, err, fragments)
    assert tree_digest(corpus_copy) == before


def test_add_refuses_an_id_that_escapes_the_folder(
    corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "incoming.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    before = tree_digest(tmp_path)
    rc, out, err = add(capsys, corpus_copy, src, "2024", "--id", "../evil")
    assert_user_error(rc, out, err, ["id '../evil' has characters other than", "points outside the corpus folder"])
    assert tree_digest(tmp_path) == before  # nothing written in the corpus nor next to it


def test_corpus_version_tracks_content_not_layout(corpus_copy: Path) -> None:
    v0 = corpus_version(read_raw(corpus_copy))
    manifest = corpus_copy / MANIFEST
    original = manifest.read_bytes()
    header, *rows = read_manifest(corpus_copy)
    write_manifest(corpus_copy, [header, *rows[::-1]])  # row order
    assert corpus_version(read_raw(corpus_copy)) == v0
    manifest.write_bytes(original.replace(b"\n", b"\r\n"))  # line endings
    assert corpus_version(read_raw(corpus_copy)) == v0
    manifest.write_bytes(original)
    (corpus_copy / "unlisted.txt").write_text(ARTICLE, encoding="utf-8")  # a file no row lists
    assert corpus_version(read_raw(corpus_copy)) == v0
    set_fields(corpus_copy, "004", title="Lavrov expected in Bamako")  # metadata
    v1 = corpus_version(read_raw(corpus_copy))
    assert v1 != v0
    with (corpus_copy / F003).open("ab") as fh:  # one byte of text
        fh.write(b" ")
    assert corpus_version(read_raw(corpus_copy)) not in (v0, v1)


# --- info ------------------------------------------------------------------------------


def test_info_prints_counts_dates_and_version(seeds_dir: Path, analysis, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cli(capsys, "info", seeds_dir)
    assert rc == 0 and err == ""
    info = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.splitlines())
    assert info["articles"] == "5"
    assert info["tokens"] == str(len(analysis.tokens)) and int(info["tokens"]) > 2000
    # earliest bound: 003 (2022-01-31); latest bound: 000 (2024-12-31)
    assert info["published"] == "2022-01-31 to 2024-12-31"
    assert info["corpus version"] == corpus_version(read_raw(seeds_dir))
    assert re.fullmatch(r"[0-9a-f]{12}", info["corpus version"])


def test_info_on_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cli(capsys, "info", tmp_path / "nowhere")
    assert_user_error(rc, out, err, ["nowhere", "does not exist"])


# --- the seed corpus itself ------------------------------------------------------------


@pytest.mark.skipif(not SHARED_SEEDS.is_dir(), reason=f"{SHARED_SEEDS} is not there")
def test_seeds_match_shared_copy(seeds_dir: Path) -> None:
    ours = {p.name: p.read_bytes() for p in seeds_dir.glob("*.txt")}
    shared = {p.name: p.read_bytes() for p in SHARED_SEEDS.glob("*.txt")}
    assert sorted(ours) == sorted(shared)
    different = [name for name in ours if ours[name] != shared[name]]
    assert different == []


def test_every_date_basis_quotes_its_evidence(seeds_dir: Path) -> None:
    with (seeds_dir / MANIFEST).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ["000", "001", "002", "003", "004"]
    bad = [r["id"] for r in rows if not r["date_basis"].strip() or '"' not in r["date_basis"]]
    assert bad == []


def _docs_frame(n: int, seed: int = 1):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    mid = pd.Timestamp("2019-03-01") + pd.to_timedelta(rng.integers(0, 2000, n), unit="D")
    return pd.DataFrame(
        {
            "doc_id": [f"{i:04d}" for i in range(n)],
            "date_mid": mid,
            "date_precision": rng.choice(["day", "month", "year", "range"], n),
        }
    )


def test_publication_counts_by_hand_and_against_a_loop():
    import pandas as pd

    from mali_partners.corpus import PRECISIONS, publication_counts, publication_period

    docs = pd.DataFrame(
        {
            "doc_id": ["a", "b", "c"],
            "date_mid": pd.to_datetime(["2020-01-15", "2020-03-31", "2020-03-01"]),
            "date_precision": ["day", "range", "day"],
        }
    )
    c = publication_counts(docs, "month")
    assert c.attrs["period"] == "month" and len(c) == 3 * len(PRECISIONS)  # February is there, with zeros
    got = {(str(r.period_start.date()), r.date_precision): r.n_articles for r in c.itertuples() if r.n_articles}
    assert got == {("2020-01-01", "day"): 1, ("2020-03-01", "day"): 1, ("2020-03-01", "range"): 1}
    assert publication_period(docs) == "month"
    big = _docs_frame(700)
    assert publication_period(big) == "quarter"
    for period in ("month", "quarter", "year"):
        counts = publication_counts(big, period)
        loop: dict = {}
        for mid, prec in zip(big["date_mid"], big["date_precision"]):
            start = {"month": mid.replace(day=1), "quarter": mid.replace(day=1, month=3 * ((mid.month - 1) // 3) + 1)}
            key = (start.get(period, mid.replace(day=1, month=1)).normalize(), prec)
            loop[key] = loop.get(key, 0) + 1
        assert {(r.period_start, r.date_precision): r.n_articles for r in counts.itertuples() if r.n_articles} == loop
        assert counts["n_articles"].sum() == len(big)
    assert publication_counts(big.iloc[:0]).empty


def test_publication_chart_of_a_large_corpus_fits_a_page():
    from mali_partners import charts

    small, large = _docs_frame(charts.PER_ARTICLE_MAX), _docs_frame(5000)
    small = small.assign(date_earliest=small["date_mid"], date_latest=small["date_mid"], title="t")
    assert charts.textplot_publication_timeline(small).get_size_inches()[1] > 20  # one row per article
    fig = charts.textplot_publication_timeline(large)
    assert fig.get_size_inches()[1] < 6
    assert sum(p.get_height() for p in fig.axes[0].patches) == 5000  # every article in a bar


def test_same_text_check_agrees_with_normalising_every_text(tmp_path: Path) -> None:
    """Duplicates are found by normalising only texts whose first words agree: same answer as normalising all."""
    from mali_partners.corpus import MIN_WORDS, check, normalise_whitespace

    words = ARTICLE.split()
    assert len(words) > MIN_WORDS
    texts = {
        "a.txt": ARTICLE,
        "b.txt": respaced(ARTICLE),  # a copy of a
        "c.txt": ARTICLE.replace("rainy season", "dry season"),  # the same first words, another text
        "d.txt": respaced(ARTICLE.replace("rainy season", "dry season")),  # a copy of c, not of a
        "e.txt": ARTICLE.replace("Bamako", "Kayes"),  # another text from the first word on
        "f.txt": "Cafe\u0301 " + ARTICLE,  # e + combining acute: NFC makes it the same as g
        "g.txt": "Caf\u00e9  " + ARTICLE,
        "h.txt": ARTICLE + " and more",
        "i.txt": ARTICLE,  # a third copy of a
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    got = [(Path(p.file).name, p.message) for p in check(read_raw(tmp_path)) if "the same text" in p.message]
    first: dict[str, str] = {}
    expected = []
    for name in sorted(texts):  # brute force: every text normalised, each compared with the first of its kind
        norm = normalise_whitespace(texts[name])
        if norm in first:
            expected.append((name, f"the same text as {first[norm]} (after white-space normalisation)"))
        else:
            first[norm] = name
    assert got == expected
    assert [n for n, _ in got] == ["b.txt", "d.txt", "g.txt", "i.txt"]


def test_corpus_frame_texts_are_the_decoded_files_in_id_order(corpus_copy):
    """text_raw is made from the files' bytes in Arrow: each equals the file decoded, rows in id order."""
    import pandas as pd

    from mali_partners.corpus import corpus_load

    manifest = corpus_copy / "manifest.csv"
    lines = manifest.read_text("utf-8").splitlines()
    manifest.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n", encoding="utf-8")  # rows out of id order
    docs = corpus_load(corpus_copy)
    assert list(docs["doc_id"]) == sorted(docs["doc_id"]) and len(docs) == len(lines) - 1
    assert docs["text_raw"].dtype == pd.Series(["x"]).dtype == docs["title"].dtype
    for doc_id, name, text in zip(docs["doc_id"], docs["file"], docs["text_raw"]):
        assert text == (corpus_copy / name).read_bytes().decode("utf-8"), doc_id
    assert any(not t.isascii() for t in docs["text_raw"])  # nonvacuous: multi-byte characters survive


# ----------------------------------------------------------------------------- file index (issue 9: +1 runs)


def _indexed(root: Path, index: dict, now_ns: int | None = None):
    """read_raw with ``index``, checked; returns the raw corpus and its next index."""
    from mali_partners.corpus import check

    raw = read_raw(root, index)
    assert check(raw) == []
    return raw, raw.index(now_ns)


def _aged(root: Path, seconds: float = 60) -> None:
    """Set every file's modification time ``seconds`` in the past (a corpus written a while ago)."""
    import os
    import time

    for p in root.iterdir():
        t = time.time() - seconds
        os.utime(p, (t, t))


def test_an_indexed_read_skips_unchanged_files_and_gives_the_same_frame(corpus_copy):
    from mali_partners.corpus import corpus_frame

    _aged(corpus_copy)
    plain = read_raw(corpus_copy)
    first, index = _indexed(corpus_copy, {})
    assert not first.known and len(first.files) == 5
    assert len(index) == 5  # every file was read, passed the checks and is old enough to trust
    second, again = _indexed(corpus_copy, index)
    assert not second.files and sorted(second.known) == sorted(plain.files)
    assert again == index
    assert corpus_version(second) == corpus_version(plain)
    full, lean = corpus_frame(plain), corpus_frame(second)
    assert lean["text_raw"].isna().all()
    pd.testing.assert_frame_equal(lean.drop(columns="text_raw"), full.drop(columns="text_raw"))
    assert lean.attrs == full.attrs
    # the texts come back, checked against their hashes, when the per-article step needs them
    from mali_partners.corpus import fill_texts

    pd.testing.assert_frame_equal(fill_texts(lean), full)


def test_an_indexed_read_reads_a_changed_file_again(corpus_copy):
    import os

    _aged(corpus_copy)
    _, index = _indexed(corpus_copy, {})
    target = corpus_copy / F003
    st = target.stat()
    data = target.read_bytes()
    target.write_bytes(data.replace(b"Russia", b"Russie", 1))  # same size, new modification time
    assert target.stat().st_size == st.st_size
    raw, _ = _indexed(corpus_copy, index)
    assert list(raw.files) == [F003]
    # same size and the old time again, but another inode (a copy put in its place): read as well
    replacement = corpus_copy / "tmp.copy"
    replacement.write_bytes(data)
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(replacement, target)
    raw, _ = _indexed(corpus_copy, index)
    assert F003 in raw.files


def test_a_file_changed_just_before_it_was_read_is_not_indexed(corpus_copy):
    import time

    _aged(corpus_copy)
    (corpus_copy / F004).write_bytes((corpus_copy / F004).read_bytes() + b"\n")
    raw, index = _indexed(corpus_copy, {})
    assert len(index) == 4 and F004 in raw.files
    # later, once the change is old enough, it is
    _, later = _indexed(corpus_copy, index, now_ns=time.time_ns() + 3_000_000_000)
    assert len(later) == 5


def test_an_indexed_read_still_finds_a_new_copy_of_a_known_text(corpus_copy):
    """The duplicate check compares the new file with the unread known one (read then, checked against its hash)."""
    from mali_partners.corpus import check

    _aged(corpus_copy)
    _, index = _indexed(corpus_copy, {})
    copy = corpus_copy / "009_copy.txt"
    copy.write_bytes(b"  " + (corpus_copy / F000).read_bytes().replace(b"\n", b"\n\n"))
    with open(corpus_copy / MANIFEST, "a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerow(
            ["009", "009_copy.txt", "T", "S", "", "2024-03", "month", "the test's copy"]
        )
    raw = read_raw(corpus_copy, index)
    assert F000 in raw.known
    problems = check(raw)
    assert [(Path(p.file).name, p.message) for p in problems] == [
        ("009_copy.txt", f"the same text as {F000} (after white-space normalisation)")
    ]


def test_a_known_file_changed_after_the_check_is_an_input_error(corpus_copy):
    from mali_partners.corpus import corpus_frame, fill_texts
    from mali_partners.errors import InputError

    _aged(corpus_copy)
    _, index = _indexed(corpus_copy, {})
    raw, _ = _indexed(corpus_copy, index)
    docs = corpus_frame(raw)
    (corpus_copy / F003).write_bytes(b"changed behind the run's back " * 20)
    with pytest.raises(InputError) as err:
        fill_texts(docs)
    (problem,) = err.value.problems
    assert problem.file.endswith(F003) and "changed while the corpus was being analysed" in problem.message
    assert "run the analysis again" in problem.fix


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        # hand-counted: the bad byte is the 7th byte and character of line 1
        (b"Abidja\xff", "line 1, column 7", "not valid UTF-8: byte 0xff (byte offset 6)"),
        # line 3; "é" and "ü" are two bytes each, so the line's 5th byte is its 3rd character (column counts characters)
        (b"a\nb\n\xc3\xa9\xc3\xbc\x80", "line 3, column 3", "not valid UTF-8: byte 0x80 (byte offset 8)"),
        # a lone continuation byte first thing on a line
        (b"one\n\x9ctwo", "line 2, column 1", "not valid UTF-8: byte 0x9c (byte offset 4)"),
    ],
)
def test_utf8_problem_names_line_and_column(data: bytes, where: str, message: str) -> None:
    from mali_partners.errors import utf8_problem

    with pytest.raises(UnicodeDecodeError) as exc:
        data.decode("utf-8")
    p = utf8_problem("f.txt", data, exc.value.start, "fix it")
    assert (p.file, p.where, p.message, p.fix) == ("f.txt", where, message, "fix it")
    assert str(p) == f"f.txt: {where}: {message}\n    fix: fix it"
