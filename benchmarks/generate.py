"""A deterministic synthetic corpus for the benchmarks, resampled from the seed articles.

Every article is a function of its index only (``random.Random(f"{SEED}-{i}")``): the
corpus of 10,000 articles starts with the corpus of 1,000, and :func:`add_article`
appends exactly the article the next size would have. Sentences are the cleaned
sentences of the five seeds (via :mod:`mali_partners.pipeline`); each article leans on
one seed (an "actor mix": France-, Russia-, ECOWAS- or Europe-heavy) and draws the rest
from all of them, about 4 KB in all. Publication dates spread over 2012-2025 with day,
month, year and range precision; sources rotate through a fixed list.

    python -m benchmarks.generate 1000            # -> benchmarks/corpora/1000/
    python -m benchmarks.generate 120 --out /tmp/c
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import random
from functools import lru_cache
from pathlib import Path

SEED = 20240909
TARGET_BYTES = 4000
HERE = Path(__file__).resolve().parent
SEEDS_DIR = HERE.parent / "seeds"
CORPORA = HERE / "corpora"
HEADER = ["id", "file", "title", "source", "url", "published", "date_precision", "date_basis"]
SOURCES = [
    "APA news agency",
    "Trim Correspondents (news website)",
    "International Crisis Group",
    "Studio Tamani",
    "Jeune Afrique",
    "Sahel Intelligence",
    "Maliweb",
    "RFI Afrique",
    "[unknown news website]",
]
START, END = dt.date(2012, 1, 1), dt.date(2025, 12, 31)


@lru_cache(maxsize=1)
def seed_sentences(seeds_dir: str = str(SEEDS_DIR)) -> tuple[tuple[str, ...], ...]:
    """The cleaned sentences of each seed article, one tuple per article (corpus order)."""
    from mali_partners.clean import corpus_clean
    from mali_partners.corpus import corpus_load
    from mali_partners.text import corpus_sentences

    docs, _ = corpus_clean(corpus_load(seeds_dir))
    sents = corpus_sentences(docs)
    return tuple(tuple(t for t in g["text"] if len(t.split()) >= 3) for _, g in sents.groupby("doc_id", sort=True))


def _published(rng: random.Random) -> tuple[str, str, str]:
    """A ``published`` value, its precision and a date basis."""
    day = START + dt.timedelta(days=rng.randrange((END - START).days + 1))
    kind = rng.choices(["day", "month", "year", "range"], weights=[5, 2, 1, 2])[0]
    if kind == "day":
        return day.isoformat(), "day", "dateline (synthetic)"
    if kind == "month":
        return day.strftime("%Y-%m"), "month", "month named in the text (synthetic)"
    if kind == "year":
        return str(day.year), "year", "year named in the text (synthetic)"
    end = min(day + dt.timedelta(days=rng.randrange(7, 400)), END)
    return f"{day.isoformat()}/{end.isoformat()}", "range", "bounded by the events it reports (synthetic)"


def article(i: int, target_bytes: int = TARGET_BYTES) -> tuple[dict[str, str], bytes]:
    """Article number ``i`` (about ``target_bytes`` long): its manifest row and its UTF-8 text."""
    rng = random.Random(f"{SEED}-{i}")
    seeds = seed_sentences()
    lead = rng.randrange(len(seeds))  # the actor mix: most sentences from one seed
    paras: list[list[str]] = [[]]
    size = 0
    while size < target_bytes:
        pool = seeds[lead] if rng.random() < 0.6 else seeds[rng.randrange(len(seeds))]
        s = rng.choice(pool)
        paras[-1].append(s)
        size += len(s.encode()) + 1
        if len(paras[-1]) >= rng.randint(2, 5):
            paras.append([])
    text = f"Synthetic report {i}.\n\n" + "\n\n".join(" ".join(p) for p in paras if p) + "\n"
    data = text.encode("utf-8")
    published, precision, basis = _published(rng)
    doc_id = f"{i:06d}"
    row = {
        "id": doc_id,
        "file": f"{doc_id}_{hashlib.sha256(data).hexdigest()[:16]}.txt",
        "title": f"[Synthetic article {i}, resampled from seed {lead:03d}]",
        "source": rng.choice(SOURCES),
        "url": "",
        "published": published,
        "date_precision": precision,
        "date_basis": basis,
    }
    return row, data


def _row_line(row: dict[str, str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([row[h] for h in HEADER])
    return buf.getvalue()


def generate(n: int, out: str | Path | None = None, *, force: bool = False, target_bytes: int = TARGET_BYTES) -> Path:
    """Write articles 0..n-1 and their manifest into ``out`` (default ``benchmarks/corpora/<n>``).

    An existing complete corpus (manifest with n rows) is kept unless ``force``.
    """
    out = Path(out) if out is not None else CORPORA / str(n)
    manifest = out / "manifest.csv"
    if manifest.is_file() and not force:
        with manifest.open(encoding="utf-8") as fh:
            if sum(1 for _ in fh) == n + 1:
                return out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.txt"):
        old.unlink()
    lines = [",".join(HEADER) + "\n"]
    for i in range(n):
        row, data = article(i, target_bytes)
        (out / row["file"]).write_bytes(data)
        lines.append(_row_line(row))
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(manifest)
    return out


def add_article(corpus: str | Path, i: int) -> dict[str, str]:
    """Append article ``i`` (normally the corpus size: the next one) to a generated corpus."""
    corpus = Path(corpus)
    row, data = article(i)
    (corpus / row["file"]).write_bytes(data)
    with (corpus / "manifest.csv").open("a", encoding="utf-8") as fh:
        fh.write(_row_line(row))
    return row


def edit_article(corpus: str | Path, position: int) -> str:
    """Add a sentence to the text of the article at ``position`` (manifest order); return its id.

    The file is replaced (written beside it, then renamed over it), never changed in place:
    a corpus made of hard links (:func:`benchmarks.run.plus_one`) leaves its original untouched.
    """
    corpus = Path(corpus)
    with (corpus / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        row = list(csv.DictReader(fh))[position]
    path = corpus / row["file"]
    tmp = path.with_name(f".{path.name}.edit")
    tmp.write_bytes(path.read_bytes() + f"\n{seed_sentences()[0][0]}\n".encode())
    tmp.replace(path)
    return row["id"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.splitlines()[0])
    p.add_argument("sizes", nargs="+", type=int, help="numbers of articles")
    p.add_argument("--out", default=None, help="output folder (only with one size)")
    p.add_argument("--force", action="store_true", help="regenerate even when the corpus exists")
    args = p.parse_args(argv)
    for n in args.sizes:
        path = generate(n, args.out if len(args.sizes) == 1 else None, force=args.force)
        size = sum(f.stat().st_size for f in path.glob("*.txt"))
        print(f"{path}: {n} articles, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
