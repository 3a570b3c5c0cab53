"""Time the whole analysis per stage on synthetic corpora, against two word-count baselines.

    python -m benchmarks.run --sizes 1000 [10000 100000] [--workers 2] [--engine local|dask]

For each size: generate the corpus if missing (:mod:`benchmarks.generate`), then

1. **the full analysis** exactly as ``mali-partners analyse`` runs it (transparent huge pages
   turned off first, as the command does: ``engine.huge_pages_off``): ``pipeline.run``
   (with an empty cache, so every article is analysed and the cache store written), then
   ``pipeline.analysis_tables_write`` (each table job computes and writes its tables).
   Stages are timed by hooks wrapped around the pipeline's own functions for the duration
   of the run (nothing is re-implemented): ``corpus_load`` or, with a cache, ``corpus_load_indexed``
   (load+validate), ``engine_map``
   (the per-article step, split into clean / sentences+tokens / mentions / terms /
   relations / unmatched in proportion to the CPU seconds ``pipeline.analyse_document``
   reports from the workers), ``combine``, and the table jobs of ``pipeline.TABLE_JOBS``
   and writing, in proportion to the seconds ``analysis_tables_write`` reports for each;
2. **baselines** on the same raw texts, single process: ``re.findall(r"\\w+")`` into a
   ``Counter`` (the *regex floor*: reading every character once) and scikit-learn's
   ``CountVectorizer().fit_transform``; after the full analysis, so that the memory they
   leave in this process is not counted in the analysis's system peak;
3. **an incremental run**: one article is added (to a copy of the corpus made of hard
   links) and the analysis rerun with the cache of step 2: only that article is analysed.
   Its table files are compared byte for byte with a reference computed without the disk
   cache (the per-article frames of step 2 kept in memory plus the new article analysed in
   this process; ``--verify-full`` instead reruns the whole analysis without any cache,
   which doubles the time). Then more articles go into the same folder, one before each run
   (``--plus-runs``, 3 in all by default), as an analyst adds articles one after another:
   each run reads the store the run before it wrote, and is checked the same way. The
   median of the runs is the +1 time reported (one run moved by 2x between sittings on
   this machine); every run is kept in the JSON. The same number of articles is then added
   through ``mali-partners analyse`` in a new process, as an analyst runs it: its wall time
   includes starting Python and importing, and replacing the output of the run before it
   in the same ``--out`` folder (moved aside, then deleted); its tables are checked the same way.
   Last, the article in the middle of the corpus gets one more sentence and the command runs
   again, timed and checked too: a change that is not at the end of the corpus (an edit, an
   insertion, a removal) rewrites the cache store's part it is in, not only adds one.

Results go to ``benchmarks/results/bench-<size>.json``, the chart to
``benchmarks/results/bench.png`` and the summary table into ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pandas as pd

from benchmarks.generate import CORPORA, add_article, edit_article, generate
from mali_partners.pipeline import TABLE_JOBS

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
MARK_BEGIN, MARK_END = "<!-- results:begin -->", "<!-- results:end -->"
PER_ARTICLE = ("clean", "sentences_tokens", "mentions", "terms", "relations", "unmatched")
TABLE_STAGES = tuple(TABLE_JOBS)  # the table jobs, each timed as a stage
# the stages in the order the chart stacks them and the per-stage table lists them
STAGES = ("load_validate", *PER_ARTICLE, "engine_overhead", "combine", "run_other", *TABLE_STAGES, "write")
# the phase each stage runs in: the stages of the per-article step run together in its workers, and the table jobs
# side by side, so memory is sampled per phase ("run": the whole of pipeline.run, for what it does between the others)
PHASES = {
    "load_validate": "load_validate",
    **{s: "per_article" for s in (*PER_ARTICLE, "engine_overhead")},
    "combine": "combine",
    "run_other": "run",
    **{s: "tables" for s in (*TABLE_STAGES, "write")},
}


def _rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of the largest finished child (workers), MB."""
    div = 1024 if sys.platform != "darwin" else 1024 * 1024
    return {
        "main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / div,
        "worker": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / div,
    }


# KiB of free memory the guest kernel has handed back to its hypervisor (virtio-balloon free page
# reporting): pages handed back cost a fault on the host when touched again, which is how this
# machine makes memory touched for the first time slow (see benchmarks/README.md, "Noise")
PAGE_REPORTING = Path("/sys/module/page_reporting/parameters/reported_kib")


def os_counters() -> dict[str, float | None]:
    """CPU seconds (user, system) and minor page faults of this process and its ended children, and
    the free memory reported to the hypervisor so far (KiB; None where the kernel does not report)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        reported: float | None = float(PAGE_REPORTING.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        reported = None
    return {
        "user_s": me.ru_utime + kids.ru_utime,
        "system_s": me.ru_stime + kids.ru_stime,
        "minor_faults": float(me.ru_minflt + kids.ru_minflt),
        "reported_to_host_kib": reported,
    }


def os_delta(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, float | None]:
    """What the counters of :func:`os_counters` grew by between two readings (None where unknown)."""
    return {k: None if before[k] is None or after[k] is None else after[k] - before[k] for k in before}


@contextlib.contextmanager
def system_memory(out: dict, every: float = 0.2):
    """Memory the system gave this run, MB, into ``out["mb"]``: the drop in free memory at its lowest, sampled
    while the block runs, plus this process's resident set at the start.

    Unlike summing each process's peak RSS, pages a forked worker shares with the main
    process count once (at 100k articles those sums overstate the total by ~16 GB).
    While the block runs, ``out["samples"]`` holds every sample as (``time.perf_counter()``,
    MB given so far) and ``out["mark"]`` takes one now: the stage hooks call it as each
    stage starts and ends, so that a stage shorter than ``every`` has samples too
    (see :func:`phase_peaks`).
    """
    import threading

    from mali_partners.pipeline import available_memory

    start = available_memory()
    if start is None:
        out["samples"], out["mark"] = [], lambda: None
        try:
            yield
        finally:
            del out["mark"]
        return
    with open("/proc/self/status", encoding="ascii") as fh:
        rss = next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:")), 0)
    samples: list[tuple[float, float]] = []

    def mark() -> None:
        free = available_memory()
        if free is not None:
            samples.append((time.perf_counter(), (start - free + rss) / 2**20))  # list.append: thread-safe

    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            mark()

    out["samples"], out["mark"] = samples, mark
    mark()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        mark()
        del out["mark"]
        out["mb"] = max(mb for _, mb in samples)


def phase_peaks(samples: list[tuple[float, float]], windows: dict[str, list[tuple[float, float]]]) -> dict:
    """The largest sample taken within each phase's time windows (MB), None for a phase with no sample in them.

    ``samples`` are (time, MB) as :func:`system_memory` keeps them; ``windows`` the
    (start, end) times of each phase (a phase may run more than once). A sample at a
    window's edge counts for it: the hooks take one as each phase starts and ends.
    """
    return {
        label: max((mb for t, mb in samples if any(a <= t <= b for a, b in spans)), default=None)
        for label, spans in windows.items()
    }


@contextlib.contextmanager
def hooks(
    times: dict[str, float],
    windows: dict[str, list[tuple[float, float]]] | None = None,
    mark: Callable[[], None] = lambda: None,
):
    """Wrap pipeline functions with timers that add to ``times``.

    With ``windows``, each call's (start, end) ``time.perf_counter()`` goes to its stage's
    list there; ``mark`` is called as each call starts and ends (a memory sample; by default nothing).
    """
    from mali_partners import engine as eng
    from mali_partners import pipeline as pl

    patched = []

    def wrap(owner, name, label):
        orig = getattr(owner, name)

        def timed(*a, **kw):
            t = time.perf_counter()
            mark()  # within the window, so that each window has a sample however short
            try:
                return orig(*a, **kw)
            finally:
                mark()
                end = time.perf_counter()
                times[label] = times.get(label, 0.0) + end - t
                if windows is not None:
                    windows.setdefault(label, []).append((t, end))

        setattr(owner, name, timed)
        patched.append((owner, name, orig))

    wrap(pl, "corpus_load", "load_validate")
    wrap(eng, "corpus_load_indexed", "load_validate")  # what pipeline.run loads with when a cache is given
    wrap(pl, "engine_map", "per_article")
    wrap(pl, "combine", "combine")
    try:
        yield
    finally:
        for owner, name, orig in reversed(patched):
            setattr(owner, name, orig)


FLOOR_REPEATS, FLOOR_BUDGET_S = 3, 20.0  # the regex floor: best of 3 runs, fewer when they pass 20 s


def regex_floor_runs(texts: list[str]) -> list[float]:
    """Seconds of each run of the regex floor (at least one; up to :data:`FLOOR_REPEATS` within the budget).

    One run varied by up to 40% from one benchmark to the next on this machine, and the
    headline ratio divides by it: the best of a few runs is the steadier floor.
    """
    pat = re.compile(r"\w+")
    runs: list[float] = []
    while len(runs) < FLOOR_REPEATS and (not runs or sum(runs) + runs[-1] <= FLOOR_BUDGET_S):
        t = time.perf_counter()
        c: Counter[str] = Counter()
        for s in texts:
            c.update(pat.findall(s))
        runs.append(time.perf_counter() - t)
    return runs


def baselines(texts: list[str], floor_runs: list[float] | None = None) -> dict[str, float]:
    """Seconds for the regex floor (best of :func:`regex_floor_runs`, each run appended to ``floor_runs``)
    and for scikit-learn's CountVectorizer, on the same texts."""
    out: dict[str, float] = {}
    runs = regex_floor_runs(texts)
    if floor_runs is not None:
        floor_runs.extend(runs)
    out["regex_floor"] = min(runs)
    try:
        from sklearn.feature_extraction.text import CountVectorizer

        t = time.perf_counter()
        CountVectorizer().fit_transform(texts)
        out["sklearn_countvectorizer"] = time.perf_counter() - t
    except ImportError:  # pragma: no cover - scikit-learn is pinned
        pass
    return out


def full_run(corpus: Path, cache: Path, out: Path, args, keep: dict | None = None, memory: dict | None = None) -> dict:
    """One timed analysis (run + tables written into the existing folder ``out``, as the CLI does); its timings.

    With ``memory`` (the dict :func:`system_memory` fills, while it samples), the result also
    has ``phase_peak_mb``: the memory the system had given the run at its highest during
    each phase (:data:`PHASES`), sampled as each phase starts and ends and every 0.2 s.
    """
    from mali_partners import pipeline as pl

    times: dict[str, float] = {}
    windows: dict[str, list[tuple[float, float]]] = {}
    mark = (memory or {}).get("mark") or (lambda: None)  # a memory sample, when memory is sampled
    stats: dict = {"timed": True}
    counters = os_counters()
    t0 = time.perf_counter()
    with hooks(times, windows, mark):
        an = pl.run(
            corpus, engine=args.engine, workers=args.workers, cache_dir=cache, progress=args.progress, stats=stats
        )
        t_run = time.perf_counter()
        mark()  # the tables' first sample
        jobs: dict[str, float] = {}
        pl.analysis_tables_write(an, out, workers=args.workers, timings=jobs)
        mark()  # and their last
    t_end = time.perf_counter()
    windows["run"], windows["tables"] = [(t0, t_run)], [(t_run, t_end)]
    # the workers have ended (their pools are shut down), so their CPU and faults are counted
    used = os_delta(counters, os_counters())
    # the table jobs (which write their own tables) may run in parallel: split their wall time in
    # proportion to the seconds each job spent computing, and all of them writing
    job_total = sum(jobs.values())
    for s in (*TABLE_STAGES, "write"):
        times[s] = (t_end - t_run) * jobs.get(s, 0.0) / job_total if job_total else 0.0
    # split the per-article wall time in proportion to the CPU time of each stage
    cpu = stats.get("stage_seconds", {})
    total_cpu = sum(cpu.values())
    per_article = times.pop("per_article", 0.0)
    for s in PER_ARTICLE:
        times[s] = per_article * cpu.get(s, 0.0) / total_cpu if total_cpu else 0.0
    times["engine_overhead"] = per_article - sum(times[s] for s in PER_ARTICLE) if not total_cpu else 0.0
    times["run_other"] = (t_run - t0) - per_article - times.get("load_validate", 0.0) - times.get("combine", 0.0)
    res = {
        "total_s": t_end - t0,
        "stages_s": times,
        "per_article_cpu_s": cpu,
        "per_article_wall_s": per_article,
        "n_analysed": stats.get("n_analysed"),
        "n_cached": stats.get("n_cached"),
        "os": used,
        "phases_s": {k: [[a - t0, b - t0] for a, b in v] for k, v in windows.items()},  # when each phase ran
    }
    if memory is not None:
        res["phase_peak_mb"] = phase_peaks(list(memory["samples"]), windows)
    if keep is not None:
        keep["analysis"] = an
    return res


def article_frames(previous) -> dict[str, tuple[pd.DataFrame, dict[str, pd.DataFrame]]]:
    """Each per-article frame of the analysis ``previous`` split by article: (no rows, {doc_id: its rows}).

    Made once per size and given to every :func:`reference_tables` call: splitting was most
    of a reference's time (bench-quick: 2.5 of 4 s, six times over).
    """
    from mali_partners import pipeline as pl

    frames = {}
    for name in pl.DOC_FRAMES:
        f = getattr(previous, name)
        frames[name] = (f.iloc[:0], {d: g.reset_index(drop=True) for d, g in f.groupby("doc_id", sort=False)})
    return frames


def reference_tables(
    corpus: Path, previous, frames: dict[str, tuple[pd.DataFrame, dict[str, pd.DataFrame]]] | None = None
) -> dict[str, pd.DataFrame]:
    """Tables of ``corpus`` without the disk cache: the in-memory frames of ``previous`` + new articles.

    ``frames``: :func:`article_frames` of ``previous``, when already made.
    """
    from mali_partners import pipeline as pl
    from mali_partners.actors import matcher_build

    known = {d: i for i, d in enumerate(previous.docs["doc_id"])}
    frames = article_frames(previous) if frames is None else frames

    def engine_map(docs, gaz, lex, **_kw):
        matcher = matcher_build(gaz)
        out = []
        for i in range(len(docs)):
            d = docs["doc_id"].iat[i]
            if d in known and previous.docs["sha256"].iat[known[d]] == docs["sha256"].iat[i]:
                out.append({name: by_doc.get(d, empty) for name, (empty, by_doc) in frames.items()})
            else:
                out.append(pl.analyse_document(docs.iloc[[i]], gaz, lex, matcher))
        return out

    orig = pl.engine_map
    pl.engine_map = engine_map
    try:
        an = pl.run(corpus)
    finally:
        pl.engine_map = orig
    return pl.analysis_tables(an)


def tables_equal(a: Path, b: Path) -> list[str]:
    """Names of the tables whose files (CSV or Parquet) differ between two output folders, byte for byte."""
    from mali_partners.pipeline import TABLES

    bad = []
    for name in TABLES:
        for ext in ("csv", "parquet"):
            fa, fb = a / f"{name}.{ext}", b / f"{name}.{ext}"
            if not (fa.is_file() and fb.is_file() and fa.read_bytes() == fb.read_bytes()):
                bad.append(name)
                break
    return bad


def plus_one(corpus: Path, n: int) -> Path:
    """A copy of ``corpus`` (hard links) with article ``n`` added."""
    dst = corpus.with_name(f"{corpus.name}-plus1")
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir()
    for f in corpus.iterdir():
        if f.suffix == ".txt":
            try:
                os.link(f, dst / f.name)
            except OSError:
                shutil.copy2(f, dst / f.name)
    shutil.copy2(corpus / "manifest.csv", dst / "manifest.csv")
    add_article(dst, n)
    return dst


def command_line() -> list[str]:
    """How to run ``mali-partners`` as an analyst does: the console script beside this Python, else its module."""
    script = Path(sys.executable).with_name("mali-partners")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mali_partners.cli"]


def machine() -> dict:
    """The machine, the versions, and which per-article modules ran compiled (see ``mali_partners.speedups``)."""
    import mali_partners.pipeline  # noqa: F401  (imports every module of the per-article step)
    from mali_partners import speedups

    pkgs = {}
    for p in ("mali-partners", "pandas", "numpy", "nltk", "dask", "distributed", "scikit-learn", "pyarrow", "cython"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            pkgs[p] = metadata.version(p)
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "packages": pkgs,
        "compiled_modules": speedups.compiled(),
        "load_average_at_start": os.getloadavg(),
    }


def _compiled_note(names: list[str] | None) -> str:
    """How the per-article modules ran, for the results' machine line (runs before session 24 did not record it)."""
    if names is None:
        return ""
    from mali_partners import speedups

    if not names:
        return "; per-article modules run as Python"
    if len(names) == len(speedups.MODULES):
        return "; per-article modules compiled (Cython)"
    return f"; compiled: {', '.join(names)}"


def incremental_summary(run: dict, diff: list[str]) -> dict:
    """What the JSON keeps of an incremental run: its times, what it analysed, and its tables against the reference."""
    return {
        "total_s": run["total_s"],
        "analysis_s": run["total_s"] - run["stages_s"].get("write", 0.0),
        "stages_s": run["stages_s"],
        "n_analysed": run["n_analysed"],
        "n_cached": run["n_cached"],
        "os": run.get("os"),
        "tables_identical": not diff,
        "tables_differing": diff,
    }


def bench_size(n: int, args) -> dict:
    from mali_partners.corpus import corpus_load
    from mali_partners.pipeline import write_tables

    t = time.perf_counter()
    corpus = generate(n)
    gen_s = time.perf_counter() - t
    n_bytes = sum(p.stat().st_size for p in corpus.glob("*.txt"))  # the raw texts (UTF-8), as the baselines read them
    print(f"[{n}] corpus {corpus}: {n_bytes / 1e6:.1f} MB ({gen_s:.1f} s to generate or check)", flush=True)
    cache = CORPORA / f".cache-{n}"
    shutil.rmtree(cache, ignore_errors=True)
    keep: dict = {}
    outs = Path(tempfile.mkdtemp(prefix=f".tables-{n}-", dir=CORPORA))  # the output folders of each run
    for sub in ("full", "plus", "reference"):
        (outs / sub).mkdir()
    used: dict = {}  # system_memory's samples and peak
    with system_memory(used):
        full = full_run(corpus, cache, outs / "full", args, keep, memory=used)
    full["stages_mb_s"] = {s: v for s, sec in full["stages_s"].items() if (v := mb_per_s(n_bytes, sec)) is not None}
    peak_full = _rss_mb()  # before the incremental run and its reference add their own frames
    print(f"[{n}] full analysis {full['total_s']:.1f} s ({full['n_analysed']} articles analysed)", flush=True)
    # the baselines run after the analysis: this process's memory at the start of the full run counts in the
    # system peak, and their texts and scikit-learn's matrices (GBs at 100k) are not the analysis's
    docs = corpus_load(corpus)
    texts = list(docs["text_raw"])
    del docs
    floor_runs: list[float] = []
    base = baselines(texts, floor_runs)
    del texts
    print(
        f"[{n}] baselines: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in base.items())
        + f" (regex floor: best of {', '.join(f'{r:.2f}' for r in floor_runs)} s)",
        flush=True,
    )
    out = {
        "size": n,
        "corpus": {"articles": n, "bytes": n_bytes, "path": os.path.relpath(corpus, HERE.parent)},
        "engine": args.engine,
        "workers": args.workers or os.cpu_count(),
        "machine": machine(),
        "baselines_s": base,
        "regex_floor_runs_s": floor_runs,
        "full": full,
        "throughput_mb_s": n_bytes / 1e6 / full["total_s"],
        "ratio_to_regex_floor": full["total_s"] / base["regex_floor"],
    }
    if n <= args.incremental_max:
        # the analyst's flow: articles added one after another, each run reading the store the run before it
        # wrote (and extending it, see engine._mapped_column); the first reads the full run's store. One such
        # run moved by 2x between sittings on this machine (page cache, first-touch memory): the median of
        # the runs is the figure reported, every run is kept
        plus = plus_one(corpus, n)
        how = (
            "a second full run with an empty cache"
            if args.verify_full
            else "in-memory per-article frames of the full run + the new articles analysed without the cache"
        )

        previous = keep["analysis"]  # the full run's frames, kept in memory
        by_article = None if args.verify_full else article_frames(previous)

        def reference(written: Path, keep: bool = False) -> list[str]:
            """The names of the tables ``written`` differs in from the reference tables of ``plus`` as it is now.

            ``written`` is then emptied for the next in-process run, which writes into an existing
            folder; with ``keep`` it stays as it is, the output the next command run replaces.
            """
            if args.verify_full:
                full_run(plus, CORPORA / f".cache-{n}-verify", outs / "reference", args)
                shutil.rmtree(CORPORA / f".cache-{n}-verify", ignore_errors=True)
            else:
                write_tables(reference_tables(plus, previous, by_article), outs / "reference")
            diff = tables_equal(written, outs / "reference")
            for folder in (outs / "reference", *([] if keep else [written])):
                shutil.rmtree(folder)
                folder.mkdir()
            return diff

        n_runs = max(1, args.plus_runs)
        runs, article = [], n
        for k in range(n_runs):
            if k:
                article += 1
                add_article(plus, article)
            inc = full_run(plus, cache, outs / "plus", args)
            diff = reference(outs / "plus", keep=k == n_runs - 1)
            runs.append({"article": article, **incremental_summary(inc, diff)})
            print(
                f"[{n}] incremental, article {k + 1} of {n_runs} added: {inc['total_s']:.1f} s, "
                f"{inc['n_analysed']} analysed, tables identical: {not diff}",
                flush=True,
            )
        # then as the analyst runs it: the command in a new process (starting Python and importing included),
        # replacing the output of the run before it in the same --out folder (the last in-process run's, first)
        commands, edited = [], {}
        command_out = outs / "command"
        (outs / "plus").rename(command_out)
        for k in range(n_runs + 1):
            edit = k == n_runs  # last, an article in the middle of the corpus edited: its rows are not the last ones
            if edit:
                changed = edit_article(plus, n // 2)
            else:
                article += 1
                add_article(plus, article)
                changed = str(article)
            t = time.perf_counter()
            done = subprocess.run(
                [
                    *command_line(),
                    "analyse",
                    str(plus),
                    "--out",
                    str(command_out),
                    "--cache",
                    str(cache),
                    "--quiet",
                    "--engine",
                    args.engine,
                    *(["--workers", str(args.workers)] if args.workers else []),
                ],
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - t
            if done.returncode:
                raise RuntimeError(f"mali-partners analyse failed ({done.returncode}):\n{done.stderr}")
            diff = reference(command_out, keep=True)
            done_run = {"total_s": seconds, "tables_identical": not diff, "tables_differing": diff}
            if edit:
                edited = {"article_id": changed, "position": n // 2, **done_run}
            else:
                commands.append({"article": article, **done_run})
            print(
                f"[{n}] incremental through the command, article {changed} "
                f"{'edited' if edit else 'added'}: {seconds:.1f} s, tables identical: {not diff}",
                flush=True,
            )
        out["incremental"] = {
            **runs[0],
            "reference": how + " (every CSV and Parquet file compared byte for byte)",
            "runs": runs,
            "median_total_s": statistics.median(r["total_s"] for r in runs),
            "median_analysis_s": statistics.median(r["analysis_s"] for r in runs),
            "command_runs": commands,
            "command_median_s": statistics.median(r["total_s"] for r in commands),
            "edit_command": edited,
        }
        if len(runs) > 1:
            out["incremental"]["next"] = runs[1]  # as results before the median were written
        shutil.rmtree(plus, ignore_errors=True)
    shutil.rmtree(outs, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    out["peak_rss_mb"] = peak_full
    if "mb" in used:
        out["system_peak_mb"] = used["mb"]
    out["peak_rss_mb_end"] = _rss_mb()
    del keep
    return out


def chart(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = STAGES
    results = sorted(results, key=lambda r: r["size"])
    labels = [f"{r['size']:,}" for r in results]
    per_k = [1000 / r["size"] for r in results]  # seconds per 1,000 articles: equal bars = linear growth
    fig, ax = plt.subplots(figsize=(10, 5))
    bottom = [0.0] * len(results)
    cmap = plt.get_cmap("tab20")
    for k, s in enumerate(stages):
        vals = [max(r["full"]["stages_s"].get(s, 0.0), 0.0) * f for r, f in zip(results, per_k)]
        if any(vals):
            ax.bar(labels, vals, bottom=bottom, label=s, color=cmap(k % 20), width=0.5)
            bottom = [b + v for b, v in zip(bottom, vals)]
    x = range(len(results))
    floor = [r["baselines_s"]["regex_floor"] * f for r, f in zip(results, per_k)]
    ax.plot(x, floor, "k_", markersize=40, mew=2, label="regex floor")
    ax.plot(x, [4 * v for v in floor], "r_", markersize=40, mew=2, label="target: 4x regex floor")
    if all("sklearn_countvectorizer" in r["baselines_s"] for r in results):
        ax.plot(
            x,
            [r["baselines_s"]["sklearn_countvectorizer"] * f for r, f in zip(results, per_k)],
            "b_",
            markersize=40,
            mew=2,
            label="CountVectorizer",
        )
    ax.set_xlabel("corpus size (articles)")
    ax.set_ylabel("seconds per 1,000 articles")
    ax.set_title("mali-partners analyse: time per stage, per 1,000 articles (equal bars = linear growth)", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=0.4)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary_markdown(results: list[dict]) -> str:
    results = sorted(results, key=lambda r: r["size"])
    lines = [
        "| articles | MB | full analysis (s) | per-article step (s) | tables: computed + written (s) | MB/s | regex floor (s) | CountVectorizer (s) | x regex floor | CPU user / system (s) | system peak (MB) | peak RSS main / worker (MB) | +1 article, median: all / without writing (s) (each run); through the command; an article edited mid-corpus, through the command | +1 identical |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in results:
        st = r["full"]["stages_s"]
        tables = sum(st.get(s, 0.0) for s in [*TABLE_STAGES, "write"])
        inc = r.get("incremental")
        plus_one = "- | -"
        if inc:
            # results written before the median kept the first run and the next one
            runs = inc.get("runs") or [inc, *([inc["next"]] if inc.get("next") else [])]
            total = inc.get("median_total_s", statistics.median(x["total_s"] for x in runs))
            analysis = inc.get("median_analysis_s", statistics.median(x["analysis_s"] for x in runs))
            each = ", ".join(f"{x['total_s']:.1f}" for x in runs)
            commands = inc.get("command_runs") or []  # results written before the command was timed have none
            edit = inc.get("edit_command")  # results written before the edit was timed have none
            same = all(x["tables_identical"] for x in [*runs, *commands, *([edit] if edit else [])])
            command = f"; command {inc['command_median_s']:.1f}" if commands else ""
            command += f"; edit {edit['total_s']:.1f}" if edit else ""
            plus_one = f"{total:.1f} / {analysis:.1f} ({each}){command} | {'yes' if same else 'NO'}"
        system = f"{r['system_peak_mb']:.0f}" if r.get("system_peak_mb") else "-"
        os_used = r["full"].get("os") or {}  # results written before the counters have none
        cpu = f"{os_used['user_s']:.0f} / {os_used['system_s']:.0f}" if os_used else "-"
        lines.append(
            f"| {r['size']:,} | {r['corpus']['bytes'] / 1e6:.1f} | {r['full']['total_s']:.1f} | {r['full']['per_article_wall_s']:.1f} | {tables:.1f} "
            f"| {r['throughput_mb_s']:.3f} | {r['baselines_s']['regex_floor']:.3f} | {r['baselines_s'].get('sklearn_countvectorizer', float('nan')):.3f} "
            f"| {r['ratio_to_regex_floor']:.0f} | {cpu} | {system} | {r['peak_rss_mb']['main']:.0f} / {r['peak_rss_mb']['worker']:.0f} | {plus_one} |"
        )
    m = results[-1]["machine"]
    lines += [
        "",
        f"Machine: {m['cpu_count']} CPUs, {m['platform']}, Python {m['python']}; engine {results[-1]['engine']}, {results[-1]['workers']} workers"
        + _compiled_note(m.get("compiled_modules"))
        + ".",
        "",
        stage_markdown(results),
    ]
    return "\n".join(lines)


MIN_STAGE_S = 0.005  # a stage shown as 0.00 s gets no throughput


def mb_per_s(n_bytes: int, seconds: float) -> float | None:
    """The corpus's MB over a stage's seconds; None for a stage under :data:`MIN_STAGE_S` (the JSON and the table agree)."""
    return n_bytes / 1e6 / seconds if seconds >= MIN_STAGE_S else None


def stage_markdown(results: list[dict]) -> str:
    """Per stage of each full analysis: seconds, MB/s (corpus MB / those seconds) and the peak memory of its phase.

    A stage whose seconds are 0 at every size is left out; "-" where a result has no such
    figure (results written before phases were sampled, a phase with no sample, the MB/s
    of a stage that took under 0.005 s) and for a negative peak: memory the rest of the
    system freed during the run counts against its samples (the JSON keeps the figure).
    """
    results = sorted(results, key=lambda r: r["size"])
    lines = [
        "Per stage of the full analysis, at each size: seconds / MB/s (the corpus's MB over those seconds) / "
        "the memory the system had given the run at its highest during the stage's phase (MB; the stages of "
        "one phase run together, so they share it):",
        "",
        "| stage | phase | " + " | ".join(f"{r['size']:,}: s / MB/s / peak MB" for r in results) + " |",
        "|---|---|" + "---:|" * len(results),
    ]
    for stage in STAGES:
        secs = [r["full"]["stages_s"].get(stage, 0.0) for r in results]
        if not any(v > 0 for v in secs):
            continue
        cells = []
        for r, sec in zip(results, secs):
            mb_s = mb_per_s(r["corpus"]["bytes"], sec)
            peak = (r["full"].get("phase_peak_mb") or {}).get(PHASES[stage])
            cells.append(
                f"{sec:.2f} / {'-' if mb_s is None else f'{mb_s:.1f}'} / {'-' if peak is None or peak < 0 else f'{peak:.0f}'}"
            )
        lines.append(f"| {stage} | {PHASES[stage]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def update_readme(results: list[dict]) -> None:
    text = README.read_text(encoding="utf-8") if README.is_file() else f"# Benchmarks\n\n{MARK_BEGIN}\n{MARK_END}\n"
    if MARK_BEGIN not in text:
        text += f"\n{MARK_BEGIN}\n{MARK_END}\n"
    head, _, rest = text.partition(MARK_BEGIN)
    _, _, tail = rest.partition(MARK_END)
    README.write_text(f"{head}{MARK_BEGIN}\n{summary_markdown(results)}\n{MARK_END}{tail}", encoding="utf-8")


def memory_needed_mb(n: int) -> float | None:
    """Peak memory for ``n`` articles: as measured at that size when it was, else extrapolated linearly
    from the largest measured size below it (None with no measurement).

    The measure is the memory the system gave the run (``system_peak_mb``); results written
    before it was recorded give main + workers' peak RSS, which counts shared pages twice.
    """
    measured = {}
    for f in RESULTS.glob("bench-*.json"):
        r = json.loads(f.read_text(encoding="utf-8"))
        if r.get("size", 0) <= n and "peak_rss_mb" in r:
            measured[r["size"]] = r
    if not measured:
        return None
    r = measured[max(measured)]
    if "system_peak_mb" in r:
        return r["system_peak_mb"] * n / r["size"]
    workers = r.get("workers") or 1
    return r["peak_rss_mb"]["main"] * n / r["size"] + workers * r["peak_rss_mb"]["worker"]


def memory_available_mb() -> float | None:
    """The memory the system can still give, in MB (see ``pipeline.available_memory``), or None."""
    from mali_partners.pipeline import available_memory

    have = available_memory()
    return None if have is None else have / 2**20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", type=int, default=[1000], help="corpus sizes in articles (default 1000)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: the number of cores)")
    p.add_argument("--engine", choices=["local", "dask"], default="local")
    p.add_argument(
        "--incremental-max", type=int, default=10000, help="largest size with an incremental run (default 10000)"
    )
    p.add_argument(
        "--plus-runs",
        type=int,
        default=3,
        help="incremental runs, one article added before each, into the same folder (default 3; the median is reported)",
    )
    p.add_argument("--verify-full", action="store_true", help="check the incremental tables against a second full run")
    p.add_argument("--progress", action="store_true", default=None, help="progress bar")
    p.add_argument("--force", action="store_true", help="run a size even when it looks too large for the memory")
    args = p.parse_args(argv)
    from mali_partners.engine import huge_pages_off

    # as `mali-partners analyse` runs: transparent huge pages off for this process and its workers
    huge_pages = "off" if huge_pages_off() else "as the system has them"
    RESULTS.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        need, have = memory_needed_mb(n), memory_available_mb()
        if not args.force and need is not None and have is not None and need > 0.9 * have:
            print(
                f"[{n}] skipped: the analysis would need about {need / 1024:.0f} GB of memory (as measured at this size, or "
                f"extrapolated from the largest size below), more than 90% of the {have / 1024:.0f} GB this machine has available; "
                "--force runs it anyway",
                flush=True,
            )
            continue
        res = bench_size(n, args)
        res["machine"]["transparent_huge_pages"] = huge_pages
        (RESULTS / f"bench-{n}.json").write_text(json.dumps(res, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"[{n}] wrote {RESULTS / f'bench-{n}.json'}", flush=True)
    results = [json.loads(f.read_text(encoding="utf-8")) for f in sorted(RESULTS.glob("bench-*.json"))]
    chart(results, RESULTS / "bench.png")
    update_readme(results)
    print(summary_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
