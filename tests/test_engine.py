"""Engines, cache, --skip-invalid and progress (issue 9): every engine gives the same tables."""

from __future__ import annotations

import io
import json
import mmap
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mali_partners import engine as eng
from mali_partners import pipeline as pl
from mali_partners.cli import main

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not of the package
    sys.path.insert(0, str(ROOT))


def assert_frames_equal(a: pl.Analysis, b: pl.Analysis, names=pl.DOC_FRAMES, when: str = "") -> None:
    """Each per-article frame of ``a`` equals ``b``'s exactly, whatever their row index and attrs
    (a cached run's frames carry the corpus version of the run that stored them)."""
    for name in names:
        fa, fb = getattr(a, name).reset_index(drop=True), getattr(b, name).reset_index(drop=True)
        fa.attrs, fb.attrs = {}, {}
        pd.testing.assert_frame_equal(fa, fb, check_exact=True, obj=f"{name}{when}")


def assert_tables_equal(a: pl.Analysis, b: pl.Analysis) -> None:
    ta, tb = pl.analysis_tables(a), pl.analysis_tables(b)
    assert list(ta) == list(tb)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], obj=name)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """120 short generated articles: enough for the process pool (more than PARALLEL_THRESHOLD), quick to analyse."""
    from benchmarks.generate import generate

    return generate(120, tmp_path_factory.mktemp("synthetic") / "corpus", target_bytes=400)


@pytest.fixture(scope="module")
def synthetic_an(synthetic) -> pl.Analysis:
    """The synthetic corpus analysed in this process (the table tests only read it)."""
    return pl.run(synthetic, workers=1)


def test_timed_step_matches_analyse_document(seeds_dir):
    """The per-article step with its stage timers on gives the same frames, and times every stage."""
    docs = pl.corpus_load(seeds_dir)
    gaz, lex = pl.gazetteer_load(None), pl.traj.lexicon_load(None)
    timings: dict[str, float] = {}
    a = pl.analyse_document(docs.iloc[[1]], gaz, lex)
    b = pl.analyse_document(docs.iloc[[1]], gaz, lex, timings=timings)
    for name in pl.DOC_FRAMES:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    assert set(timings) == set(pl.STAGES)


def test_dask_engine_matches_local(seeds_dir, analysis, tmp_path):
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        an = pl.run(seeds_dir, scheduler=cluster.scheduler_address, cache_dir=tmp_path / "cache")
        with Client(cluster) as client:
            assert client.scheduler_info()["workers"]
    assert_tables_equal(an, analysis)
    stores = list((tmp_path / "cache").glob("store-*/index.json"))  # written by the client: workers may be remote
    assert len(stores) == 1 and len(json.loads(stores[0].read_text())["keys"]) == 5


def test_process_pool_matches_sequential(synthetic, synthetic_an):
    stats: dict = {}
    pooled = pl.run(synthetic, workers=2, stats=stats)
    assert stats["n_analysed"] == 120
    assert_tables_equal(pooled, synthetic_an)


def test_first_run_streams_its_chunks_into_the_store(synthetic, synthetic_an, tmp_path, monkeypatch):
    """A first run with a cache writes each chunk as a part of the store as it comes in (on the pool, in any
    order) and continues from the parts read back: every frame equals the run without a cache."""
    n_chunks = len(eng._chunks(120, 2))  # 8 chunks on two workers
    assert n_chunks > 2
    written: list[int] = []
    record = eng._PendingSegment.written
    monkeypatch.setattr(
        eng._PendingSegment, "written", lambda self, j, n, names: (written.append(j), record(self, j, n, names))
    )
    # the workers write their chunks' parts: no frame comes back to this process
    monkeypatch.setattr(eng._PendingSegment, "add", lambda self, j, frames: pytest.fail("a chunk came back"))
    cache = tmp_path / "cache"
    streamed = pl.run(synthetic, workers=2, cache_dir=cache)
    assert sorted(written) == list(range(n_chunks))
    (index,) = cache.glob("store-*/index.json")
    layout = json.loads(index.read_text())["layout"]  # one segment of n_chunks parts, with their articles
    assert len({seg for seg, _, _ in layout}) == 1 and [i for _, i, _ in layout] == list(range(n_chunks))
    assert [k for _, _, k in layout] == [b - a for a, b in eng._chunks(120, 2)]
    assert not list(cache.glob(".segment-*"))
    for name in pl.DOC_FRAMES:
        pd.testing.assert_frame_equal(getattr(streamed, name), getattr(synthetic_an, name), check_exact=True, obj=name)
    assert_tables_equal(streamed, synthetic_an)


def test_first_run_flushes_each_part_it_writes(synthetic, tmp_path, monkeypatch):
    """Each part's files go to the flushing thread once written (every frame of every chunk); the store is the same
    either way. A file moved or removed before its flush is skipped."""
    flushed: list[Path] = []
    real = eng._flush_files
    # each flush slowed down: without the wait below, the last ones are still queued when the run ends
    monkeypatch.setattr(eng, "_flush_files", lambda paths: (time.sleep(0.02), flushed.extend(paths), real(paths)))
    discard = eng._PendingSegment.discard

    def drain_then_discard(self):  # a run drops the flushes still queued when it ends: here every one runs first
        if self.flusher is not None:
            self.flusher.shutdown(wait=True)
        discard(self)

    monkeypatch.setattr(eng._PendingSegment, "discard", drain_then_discard)
    n_chunks = len(eng._chunks(120, 2))
    on = pl.run(synthetic, workers=2, cache_dir=tmp_path / "on")
    names = sorted({p.name for p in flushed})
    assert len(names) == len(flushed) == n_chunks * len(pl.DOC_FRAMES)
    assert all(p.suffix == ".arrow" and p.name.startswith("s0-") for p in flushed)
    assert sorted(p.name for p in (tmp_path / "on").glob("store-*/s0-*.arrow")) == names  # the store's own parts
    flushed.clear()
    monkeypatch.setattr(eng, "STORE_FLUSH", False)
    off = pl.run(synthetic, workers=2, cache_dir=tmp_path / "off")
    assert flushed == []
    assert_frames_equal(on, off)
    gone = tmp_path / "gone.arrow"
    real([gone])  # no error: nothing to flush


def test_flushing_falls_back_to_fsync_where_there_is_no_fdatasync(tmp_path, monkeypatch):
    """macOS has no fdatasync: the store's flush and the old output's eviction use fsync there, and never fail."""
    path = tmp_path / "part.arrow"
    path.write_bytes(b"x" * 100)
    synced: list[int] = []
    real = os.fsync
    monkeypatch.delattr(os, "fdatasync", raising=False)
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    eng._flush_files([path, tmp_path / "gone.arrow"], drop=True)
    assert len(synced) == 1 and path.read_bytes() == b"x" * 100


def test_a_failed_first_run_leaves_no_store_behind(synthetic, tmp_path, monkeypatch):
    def fail(self, j, frames):
        raise RuntimeError("disk full")

    monkeypatch.setattr(eng._PendingSegment, "add", fail)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="disk full"):
        pl.run(synthetic, workers=1, cache_dir=cache)
    assert not list(cache.iterdir())


def test_a_worker_that_cannot_write_its_part_leaves_no_store_behind(synthetic, tmp_path, monkeypatch):
    """On the pool, each worker writes its chunk's part (a forked worker runs this patched module): its error
    reaches the caller, and the segment the workers were writing is removed."""
    written = eng._part_write

    def fail_third(folder, seg, i, frames):
        if i == 2:
            raise RuntimeError("disk full")
        written(folder, seg, i, frames)

    monkeypatch.setattr(eng, "_part_write", fail_third)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="disk full"):
        pl.run(synthetic, workers=2, cache_dir=cache)
    assert not list(cache.iterdir())


def test_an_error_on_the_pool_stops_the_chunks_not_yet_started(synthetic, tmp_path, monkeypatch):
    """The first chunk fails at once, the others take 0.3 s each: the run raises without analysing them all."""
    started = tmp_path / "started"
    started.mkdir()
    analyse = pl.analyse_document

    def slow_or_failing(chunk, *args):  # runs in the forked workers (analyse_chunk looks it up at each call)
        (started / str(chunk.index[0])).touch()
        if chunk.index[0] == 0:
            raise RuntimeError("bad chunk")
        time.sleep(0.3)
        return analyse(chunk, *args)

    monkeypatch.setattr(pl, "analyse_document", slow_or_failing)
    n_chunks = len(eng._chunks(120, 2))
    with pytest.raises(RuntimeError, match="bad chunk"):
        pl.run(synthetic, workers=2)
    assert len(list(started.iterdir())) < n_chunks


def test_chunked_step_gives_the_rows_of_its_articles_one_by_one(synthetic):
    """The per-article step on a chunk equals the step on each article, concatenated (what chunking relies on)."""
    docs = pl.corpus_load(synthetic).iloc[:30]
    gaz, lex = pl.gazetteer_load(None), pl.traj.lexicon_load(None)
    whole = pl.analyse_document(docs, gaz, lex)
    one_by_one = pl.combine([pl.analyse_document(docs.iloc[[i]], gaz, lex) for i in range(len(docs))])
    for name, a, b in zip(pl.DOC_FRAMES, pl.combine([whole]), one_by_one):
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), obj=name)


def test_parallel_tables_match_sequential(synthetic_an, monkeypatch):
    """The corpus-level table jobs give the same tables on forked workers as one after the other."""
    an = synthetic_an
    sequential_times: dict = {}
    sequential = pl.analysis_tables(an, workers=1, timings=sequential_times)
    monkeypatch.setattr(pl, "PARALLEL_TABLES_MIN_DOCS", 1)
    monkeypatch.setattr(pl, "available_memory", lambda: None)  # two workers, whatever this machine has free
    parallel_times: dict = {}
    parallel = pl.analysis_tables(an, workers=2, timings=parallel_times)
    assert list(parallel) == list(sequential) == list(pl.TABLES)
    for name in sequential:
        pd.testing.assert_frame_equal(parallel[name], sequential[name], obj=name)
    assert set(parallel_times) == set(sequential_times) == set(pl.TABLE_JOBS)
    assert {t for job in pl.TABLE_JOBS.values() for t in job} == set(pl.TABLES)  # every table made by one job


def test_jobs_writing_their_own_tables_write_the_same_files(synthetic_an, tmp_path, monkeypatch):
    """analysis_tables_write (each job writes its tables, in its own process) = write_tables(analysis_tables)."""
    an = synthetic_an
    (tmp_path / "whole").mkdir()
    pl.write_tables(pl.analysis_tables(an, workers=1), tmp_path / "whole")
    monkeypatch.setattr(pl, "PARALLEL_TABLES_MIN_DOCS", 1)
    monkeypatch.setattr(pl, "available_memory", lambda: None)  # two workers, whatever this machine has free
    for workers in (1, 2):
        folder = tmp_path / f"jobs{workers}"
        folder.mkdir()
        times: dict = {}
        assert pl.analysis_tables_write(an, folder, workers=workers, timings=times) == list(pl.TABLES)
        assert set(times) == {*pl.TABLE_JOBS, "write"} and times["write"] > 0
        names = sorted(f.name for f in (tmp_path / "whole").iterdir())
        assert sorted(f.name for f in folder.iterdir()) == names
        assert names == sorted(f"{t}.{ext}" for t in pl.TABLES for ext in ("csv", "parquet"))
        for name in names:
            assert (folder / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), (workers, name)


def test_table_workers_fit_in_the_available_memory(synthetic_an, monkeypatch):
    an = synthetic_an
    frames = sum(int(getattr(an, n).memory_usage(deep=True).sum()) for n in pl.DOC_FRAMES)
    per_job = frames * pl.TABLE_JOB_MEMORY
    for have, workers, want in [
        (None, 2, 2),
        (100 * per_job, 2, 2),
        (2.5 * per_job, 4, 2),
        (1.5 * per_job, 2, 1),
        (0, 2, 1),
    ]:
        monkeypatch.setattr(pl, "available_memory", lambda have=have: None if have is None else int(have))
        assert pl.table_workers(an, workers) == want, (have, workers)
    assert pl.table_workers(an, 1) == 1


def _dying_job(job, partners, folder):
    if job == "kwic":
        os._exit(1)  # as the kernel's out-of-memory killer would end the worker
    return pl._job_output(pl._FORKED, job, partners, folder)


def test_a_killed_table_worker_is_replaced_by_this_process(synthetic_an, tmp_path, monkeypatch):
    """When a forked table worker dies, its jobs run in the main process: same files, and a warning."""
    an = synthetic_an
    (tmp_path / "ref").mkdir()
    pl.analysis_tables_write(an, tmp_path / "ref", workers=1)
    monkeypatch.setattr(pl, "PARALLEL_TABLES_MIN_DOCS", 1)
    monkeypatch.setattr(pl, "available_memory", lambda: None)
    monkeypatch.setattr(pl, "_forked_job", _dying_job)
    (tmp_path / "out").mkdir()
    with pytest.warns(RuntimeWarning, match="table worker stopped.*kwic"):
        pl.analysis_tables_write(an, tmp_path / "out", workers=2)
    for f in sorted((tmp_path / "ref").iterdir()):
        assert (tmp_path / "out" / f.name).read_bytes() == f.read_bytes(), f.name


def test_chunks_cover_every_article_once():
    for n, w in [(1, 1), (49, 2), (120, 2), (1001, 2), (100_000, 8)]:
        spans = eng._chunks(n, w)
        assert [i for a, b in spans for i in range(a, b)] == list(range(n))
        assert max(b - a for a, b in spans) <= eng.CHUNK_SIZE


def test_incremental_cache_reanalyses_only_the_new_article(corpus_copy, tmp_path, analysis):
    from benchmarks.generate import article

    cache = tmp_path / "cache"
    first: dict = {}
    cached = pl.run(corpus_copy, cache_dir=cache, stats=first)
    assert first["n_analysed"] == 5 and first["n_cached"] == 0
    assert_tables_equal(cached, analysis)  # a cold cache changes nothing
    again: dict = {}
    pl.run(corpus_copy, cache_dir=cache, stats=again)
    assert again["n_analysed"] == 0 and again["n_cached"] == 5
    # add one article with the corpus's own `add`
    _, data = article(7)
    new = tmp_path / "new.txt"
    new.write_bytes(data)
    assert (
        main(["add", str(new), "--corpus", str(corpus_copy), "--title", "T", "--source", "S", "--published", "2024-03"])
        == 0
    )
    third: dict = {}
    incremental = pl.run(corpus_copy, cache_dir=cache, stats=third)
    assert third["n_analysed"] == 1 and third["n_cached"] == 5
    assert third["analysed_ids"] == ["005"]
    assert_tables_equal(incremental, pl.run(corpus_copy))


def _layout(cache: Path) -> list[tuple[str, int, int]]:
    (index,) = cache.glob("store-*/index.json")
    return [tuple(p) for p in json.loads(index.read_text())["layout"]]  # (segment, part, articles)


def test_adding_articles_writes_only_their_rows(corpus_copy, tmp_path, monkeypatch):
    """Each append is a new part (the old ones hard-linked, untouched); past MAX_SMALL_PARTS small parts,
    each small part is merged with the part before it."""
    from benchmarks.generate import article

    monkeypatch.setattr(eng, "MAX_SMALL_PARTS", 2)
    monkeypatch.setattr(eng, "SMALL_PART", 2)
    cache = tmp_path / "cache"
    pl.run(corpus_copy, cache_dir=cache, workers=1)
    first_run = [k for _, _, k in _layout(cache)]
    assert first_run == [2, 2, 1]  # the first run's chunks (at least 4 per worker, of 2 articles here)
    (first,) = cache.glob("store-*/s0-*-tokens-00000.arrow")
    inode = first.stat().st_ino
    published = ["2024-03", "2024-04", "2024-05"]
    for i, when in enumerate(published):
        new = tmp_path / f"new{i}.txt"
        new.write_bytes(article(7 + i)[1])
        assert (
            main(["add", str(new), "--corpus", str(corpus_copy), "--title", "T", "--source", "S", "--published", when])
            == 0
        )
        stats: dict = {}
        an = pl.run(corpus_copy, cache_dir=cache, stats=stats)
        assert stats["n_analysed"] == 1 and stats["n_cached"] == 5 + i
        assert_tables_equal(an, pl.run(corpus_copy))
        (still,) = cache.glob("store-*/s0-*-tokens-00000.arrow")
        assert still.stat().st_ino == inode  # the first part is the same file all along
        sizes = [k for _, _, k in _layout(cache)]
        if i < 1:  # appended: a new part
            assert sizes == [*first_run, 1]
        else:  # a third small part (fewer than 2 articles): each small part is merged with the part before it
            assert sizes[0] == first_run[0] and sum(sizes) == 6 + i and sum(k < 2 for k in sizes) <= 2
            assert len({seg for seg, _, _ in _layout(cache)}) <= 3  # the first run's segment, and the new parts
    again: dict = {}
    pl.run(corpus_copy, cache_dir=cache, stats=again)
    assert again["n_analysed"] == 0 and again["n_cached"] == 8


def test_per_article_step_runs_no_downstream_module(seeds_dir):
    """The modules left out of the cache key are never run by the per-article step: a run (corpus load,
    engine, per-article step, combine) in a fresh interpreter imports none of them."""
    pkg = Path(eng.__file__).resolve().parent
    assert eng.DOWNSTREAM_MODULES and all((pkg / f"{m}.py").is_file() for m in eng.DOWNSTREAM_MODULES)
    code = (
        "import sys, json\n"
        "from mali_partners import pipeline as pl\n"
        f"an = pl.run({str(seeds_dir)!r}, workers=1)\n"
        "assert len(an.mentions)\n"
        "print(json.dumps(sorted(m.split('.', 1)[1] for m in sys.modules if m.startswith('mali_partners.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {"pipeline", "text", "actors", "trajectory"} <= loaded  # nonvacuous: the step's modules are seen
    assert not loaded & eng.DOWNSTREAM_MODULES


def test_cache_key_ignores_downstream_code_only(tmp_path):
    """Editing a chart keeps the per-article key (no re-analysis); editing any other module, a new module or
    a data file changes it; the full fingerprint (the notebooks' cache) sees every edit."""
    pkg = Path(eng.__file__).resolve().parent
    copy = tmp_path / "mali_partners"
    shutil.copytree(pkg, copy, ignore=shutil.ignore_patterns("__pycache__"))
    skip = eng.DOWNSTREAM_MODULES

    def keys() -> tuple[str, str]:
        return eng.code_fingerprint(skip, copy), eng.code_fingerprint(root=copy)

    base = keys()
    assert base == (eng.code_fingerprint(skip), eng.code_fingerprint())
    (copy / "charts.py").write_text((copy / "charts.py").read_text() + "\n# edited\n")
    after_chart = keys()
    assert after_chart[0] == base[0] and after_chart[1] != base[1]
    for edit in ("text.py", "trajectory.py", "data/stopwords.txt", "new_step.py"):
        f = copy / edit
        f.write_text((f.read_text() if f.exists() else "") + "\n# edited\n")
        now = keys()
        assert now[0] != after_chart[0] and now[1] != after_chart[1], edit
        after_chart = now


def test_cache_key_changes_with_text_row_and_configuration(seeds_dir):
    docs = pl.corpus_load(seeds_dir)
    gaz, lex = pl.gazetteer_load(None), pl.traj.lexicon_load(None)
    cfg = eng.config_hash(gaz, lex)
    keys = eng.article_keys(docs, cfg)
    assert len(set(keys)) == len(keys)
    retitled = docs.copy()
    retitled.loc[0, "title"] = "another title"
    assert eng.article_keys(retitled, cfg)[0] != keys[0]
    assert eng.article_keys(retitled, cfg)[1:] == keys[1:]
    retexted = docs.copy()
    retexted.loc[0, "sha256"] = "0" * 64
    assert eng.article_keys(retexted, cfg)[0] != keys[0]
    assert eng.article_keys(docs, cfg + "x") != keys


def test_stored_frames_read_back_equal(analysis, tmp_path):
    """Every per-article frame survives the store's Arrow file exactly (values, dtypes, attrs); what Arrow
    cannot hold (a column of mixed Python objects) is pickled instead, and empty frames keep their columns."""
    frames = {name: getattr(analysis, name) for name in pl.DOC_FRAMES}
    frames["mentions"] = frames["mentions"].copy()
    frames["mentions"].attrs = {"gazetteer_version": "x", "n": 3}
    frames["mixed"] = pd.DataFrame({"doc_id": ["a", "b"], "value": [1, "two"]})
    frames["empty"] = analysis.units.iloc[:0]
    for name, df in frames.items():
        eng._frame_write(df, tmp_path / name)
        back = eng._frames_read([tmp_path / name])
        pd.testing.assert_frame_equal(back, df, check_exact=True)
        assert dict(back.dtypes) == dict(df.dtypes) and back.attrs == df.attrs, name
        assert eng._frame_file(tmp_path / name).suffix == (".pkl" if name == "mixed" else ".arrow")


@pytest.mark.parametrize("mapped", [False, True])
def test_parts_read_back_as_concat_joins_them(analysis, tmp_path, monkeypatch, mapped):
    """Parts of one frame come back as _concat() joins the frames: as Arrow tables when their schemas agree,
    else frame by frame (a part whose column is all missing, a pickled part); empty parts add nothing.
    ``mapped``: every fixed-width column joined from parts is mapped from a file (large ones, by default)."""
    if mapped:
        monkeypatch.setattr(eng, "MAPPED_MIN_BYTES", 0)
    mentions = analysis.mentions
    odd = mentions.iloc[:3].assign(date_expression=None)  # all missing: another Arrow type than the rest
    mixed = mentions.iloc[3:5].astype({"sentence_id": object})
    mixed.loc[mixed.index[0], "sentence_id"] = "x"  # Arrow cannot hold it: pickled
    cases = {
        "same": [mentions.iloc[:10], mentions.iloc[:0], mentions.iloc[10:]],
        "odd": [mentions.iloc[5:9], odd],
        "mixed": [mentions.iloc[:3], mixed],
        "empty": [mentions.iloc[:0], mentions.iloc[:0]],
        # a segment of a later run: the same columns, other attrs (joined as Arrow; attrs dropped as concat does)
        "other_attrs": [mentions.iloc[:10], _with_attrs(mentions.iloc[10:20], corpus_version="later")],
        "same_attrs": [_with_attrs(mentions.iloc[:10], v=1), _with_attrs(mentions.iloc[10:20], v=1)],
        "some_attrs": [_with_attrs(mentions.iloc[:10], v=1), _with_attrs(mentions.iloc[10:20])],
    }
    for case, frames in cases.items():
        stems = [tmp_path / f"{case}-{i}" for i in range(len(frames))]
        for df, stem in zip(frames, stems):
            eng._frame_write(df, stem)
        expected = eng._concat([{"f": df} for df in frames])["f"]
        got = eng._frames_read(stems)
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=case)
        assert dict(got.dtypes) == dict(expected.dtypes), case
        assert got.attrs == expected.attrs, case
    assert eng._frames_read(stems[:1]).attrs == {"v": 1}  # nonvacuous: attrs survive where they agree
    maps = sorted(p.name for p in tmp_path.glob("map-*.npy"))
    if mapped:  # the numbers and dates of the joined parts, one file per column
        assert {name.split(".")[1] for name in maps} >= {"sentence_id", "start", "end", "date_point"}
    else:
        assert maps == []  # the seeds' columns are under MAPPED_MIN_BYTES


def test_mapped_columns_share_their_file_and_survive_a_failed_write(analysis, tmp_path, monkeypatch):
    """A mapped column is a view of its file (reused by the next read, never changed by writing to the frame);
    where the file cannot be written the column is joined in memory, with the same values."""
    import numpy as np

    monkeypatch.setattr(eng, "MAPPED_MIN_BYTES", 0)
    m = analysis.mentions
    stems = [tmp_path / "a", tmp_path / "b"]
    for df, stem in zip((m.iloc[:20], m.iloc[20:]), stems):
        eng._frame_write(df, stem)
    got = eng._frames_read(stems)
    (path,) = tmp_path.glob("map-*.start.npy")
    on_disk = np.load(path, mmap_mode="r")
    assert on_disk.tolist() == m["start"].tolist()
    base = got["start"].to_numpy()
    while getattr(base, "base", None) is not None:
        base = base.base
    assert isinstance(base, mmap.mmap)  # the column is the file's pages, not a copy
    stamp = path.stat().st_mtime_ns
    again = eng._frames_read(stems)
    assert path.stat().st_mtime_ns == stamp  # reused, not rewritten
    again.loc[0, "start"] = -1  # the frame's own copy changes, the file keeps its values
    assert np.load(path)[0] == m["start"].iloc[0]
    pd.testing.assert_frame_equal(got, m.reset_index(drop=True), check_exact=True)
    # a column whose file cannot be written (here: a folder where its temporary file would go)
    for f in tmp_path.glob("map-*.npy"):
        f.unlink()
    (tmp_path / f".{path.name}.{os.getpid()}.tmp").mkdir()
    fallback = eng._frames_read(stems)
    pd.testing.assert_frame_equal(fallback, m.reset_index(drop=True), check_exact=True)
    assert not (tmp_path / path.name).exists() and (tmp_path / path.name.replace("start", "end")).exists()


def _with_attrs(df: pd.DataFrame, **attrs) -> pd.DataFrame:
    out = df.copy()
    out.attrs = dict(attrs)
    return out


def test_parts_with_other_attrs_are_joined_as_arrow_tables(analysis, tmp_path, monkeypatch):
    """A later run's segment (same columns, its own corpus version in attrs) does not send the read
    down the part-by-part path, which cost most of reading a large store after adding an article."""
    stems = [tmp_path / "a", tmp_path / "b"]
    eng._frame_write(_with_attrs(analysis.mentions.iloc[:10], corpus_version="one"), stems[0])
    eng._frame_write(_with_attrs(analysis.mentions.iloc[10:], corpus_version="two"), stems[1])
    converted = []
    real = eng._table_frame
    monkeypatch.setattr(
        eng, "_table_frame", lambda t, mapped=None, prefixes=(): converted.append(len(t)) or real(t, mapped, prefixes)
    )
    got = eng._frames_read(stems)
    assert converted == [len(analysis.mentions)]
    assert got.attrs == {}


def test_corrupt_cache_store_is_recomputed(corpus_copy, tmp_path, analysis):
    cache = tmp_path / "cache"
    pl.run(corpus_copy, cache_dir=cache)
    victim = sorted(cache.glob("store-*/*.arrow"))[0]
    victim.write_bytes(b"not an Arrow file")
    stats: dict = {}
    an = pl.run(corpus_copy, cache_dir=cache, stats=stats)
    assert stats["n_analysed"] == 5
    assert_tables_equal(an, analysis)
    again: dict = {}
    pl.run(corpus_copy, cache_dir=cache, stats=again)  # the rewritten store is whole again
    assert again["n_cached"] == 5


def test_cache_reuses_articles_after_an_edit_a_removal_and_an_insertion(corpus_copy, tmp_path):
    """Unchanged articles come from the store wherever they now sit; the tables equal a run without cache."""
    from benchmarks.generate import article

    cache = tmp_path / "cache"
    pl.run(corpus_copy, cache_dir=cache)
    manifest = corpus_copy / "manifest.csv"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    (corpus_copy / rows[1].split(",")[1]).unlink()  # remove article 001
    victim = corpus_copy / rows[2].split(",")[1]  # edit article 002
    victim.write_text(victim.read_text(encoding="utf-8") + "\nFrance and Russia signed a new agreement.\n", "utf-8")
    _, data = article(7)
    (corpus_copy / "002a.txt").write_bytes(data)  # insert an article that sorts between 002 and 003
    new_row = "002a,002a.txt,T,S,,2024-03,month,inserted by the test\n"
    manifest.write_text(header + "".join([rows[0], rows[2], new_row, rows[3], rows[4]]), encoding="utf-8")
    stats: dict = {}
    an = pl.run(corpus_copy, cache_dir=cache, stats=stats)
    assert stats["n_cached"] == 3 and sorted(stats["analysed_ids"]) == ["002", "002a"]
    assert list(an.docs["doc_id"]) == ["000", "002", "002a", "003", "004"]
    assert_tables_equal(an, pl.run(corpus_copy))


def _base(sizes: list[int]) -> eng.Store:
    keys = [chr(ord("a") + i) for i in range(sum(sizes))]
    return eng.Store(keys, keys, {}, layout=tuple(("s0-x", j, k) for j, k in enumerate(sizes)))


@pytest.mark.parametrize(
    ("keys", "plan"),
    [
        ("abcdefghi", [(0, 0), (1, 3), (2, 6)]),  # unchanged: every part kept
        ("abcdefghij", [(0, 0), (1, 3), (2, 6), [9]]),  # one added at the end: a new part of it
        ("abcdEfghi", [(0, 0), [3, 4, 5], (2, 6)]),  # e edited: its part written anew
        ("abcdfghi", [(0, 0), [3, 4], (2, 6)]),  # e removed (kept parts: where they start in the base)
        ("abcxdefghi", [(0, 0), [3], (1, 3), (2, 6)]),  # x inserted between two parts
        ("defabcghi", [(1, 3), (0, 0), (2, 6)]),  # parts moved: kept all the same
        ("xyz", [[0, 1, 2]]),  # nothing in common
    ],
)
def test_store_plan_keeps_the_parts_whose_articles_come_next_in_order(keys, plan):
    assert eng.store_plan(_base([3, 3, 3]), list(keys)) == plan


def test_store_plan_merges_small_parts_and_cuts_new_runs_at_the_chunk_size(monkeypatch):
    monkeypatch.setattr(eng, "SMALL_PART", 2)
    monkeypatch.setattr(eng, "MAX_SMALL_PARTS", 1)
    # parts of 3, 1 and 1 articles and one more added: three small parts, each merged with the part before it
    assert eng.store_plan(_base([3, 1, 1]), list("abcdef")) == [[0, 1, 2, 3, 4, 5]]
    # a small part first is merged with the one after it, one after a big part with that part
    assert eng.store_plan(_base([1, 3, 3, 1]), list("abcdefghx")) == [[0, 1, 2, 3], [4, 5, 6, 7, 8]]
    assert eng.store_plan(_base([3, 3, 3, 1, 1]), list("abcdefghijk")) == [(0, 0), (1, 3), [6, 7, 8, 9, 10]]
    monkeypatch.setattr(eng, "MAX_SMALL_PARTS", 8)
    monkeypatch.setattr(eng, "CHUNK_SIZE", 4)  # new runs are cut evenly: 7 articles make parts of 4 and 3
    assert eng.store_plan(_base([3, 3]), list("abcdefstvwxyz")) == [(0, 0), (1, 3), [6, 7, 8, 9], [10, 11, 12]]
    monkeypatch.setattr(eng, "CHUNK_SIZE", 2)
    assert eng.store_plan(_base([3, 3]), list("abcdefvwxyz")) == [(0, 0), (1, 3), [6, 7], [8, 9], [10]]
    monkeypatch.setattr(eng, "CHUNK_SIZE", 5)  # 6 articles: 3 and 3, where cutting at 5 would leave a part of 1
    assert eng.store_plan(_base([3, 3]), list("abcdefuvwxyz")) == [(0, 0), (1, 3), [6, 7, 8], [9, 10, 11]]


def test_an_edit_insertion_or_removal_mid_corpus_rewrites_only_the_parts_around_it(synthetic, tmp_path):
    """The store's parts whose articles are unchanged and in place stay the same files (hard links); the part
    holding a change is written anew from its stored rows and the new ones; every frame equals a run without cache."""
    import shutil

    from benchmarks.generate import _row_line, article

    corpus = Path(shutil.copytree(synthetic, tmp_path / "corpus"))
    cache = tmp_path / "cache"
    pl.run(corpus, cache_dir=cache, workers=2)
    before = _layout(cache)
    sizes = [k for _, _, k in before]
    assert len(sizes) == 8 and sum(sizes) == 120

    def inodes() -> dict[tuple[str, int], int]:
        (root,) = cache.glob("store-*")
        return {
            (seg, i): eng._frame_file(eng._part_stem(root, seg, "tokens", i)).stat().st_ino
            for seg, i, _ in _layout(cache)
        }

    old = inodes()
    manifest = corpus / "manifest.csv"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    edited = corpus / lines[1 + 50].split(",")[1]  # article 50, in the fourth part (15 articles each)
    edited.write_text(edited.read_text(encoding="utf-8") + "\nFrance and Russia signed a new agreement.\n", "utf-8")
    (corpus / lines[1 + 95].split(",")[1]).unlink()  # article 95 removed, in the seventh part
    row, data = article(500, 400)  # and one inserted between articles 20 and 21 (the second part)
    row["id"], row["file"] = "000020a", "000020a.txt"
    (corpus / row["file"]).write_bytes(data)
    inserted = _row_line(row)
    manifest.write_text("".join([*lines[: 1 + 21], inserted, *lines[1 + 21 : 1 + 95], *lines[1 + 96 :]]), "utf-8")
    stats: dict = {}
    an = pl.run(corpus, cache_dir=cache, workers=2, stats=stats)
    assert sorted(stats["analysed_ids"]) == ["000020a", "000050"] and stats["n_cached"] == 118
    after = _layout(cache)
    kept = [p for p in after if p[:2] in old]
    assert [p[1] for p in kept] == [0, 2, 4, 5, 7] and all(inodes()[p[:2]] == old[p[:2]] for p in kept)
    assert [k for _, _, k in after] == [15, 16, 15, 15, 15, 15, 14, 15]  # the three changed parts, written anew
    assert len({seg for seg, _, _ in after}) == 2
    ref = pl.run(corpus)
    assert_frames_equal(an, ref)
    assert_tables_equal(an, ref)
    again: dict = {}
    pl.run(corpus, cache_dir=cache, stats=again)
    assert again["n_analysed"] == 0 and _layout(cache) == after


def test_random_changes_keep_the_cached_frames_equal_to_a_run_without_cache(synthetic, tmp_path, monkeypatch):
    """Brute-force cross-check of the store of parts: a fixed random sequence of appends, edits (text and
    manifest row), removals and insertions, one per run, small parts merged early; after every run each frame
    equals the per-article step run on the corpus as it is, without any cache."""
    import random
    import shutil

    from benchmarks.generate import _row_line, article

    monkeypatch.setattr(eng, "SMALL_PART", 3)
    monkeypatch.setattr(eng, "MAX_SMALL_PARTS", 2)
    monkeypatch.setattr(eng, "CHUNK_SIZE", 10)
    corpus = Path(shutil.copytree(synthetic, tmp_path / "corpus"))
    cache = tmp_path / "cache"
    pl.run(corpus, cache_dir=cache, workers=1)
    rng = random.Random(18)
    manifest = corpus / "manifest.csv"
    for step in range(8):
        lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
        header, rows = lines[0], lines[1:]
        at = rng.randrange(len(rows))
        what = ["append", "text", "row", "remove", "insert"][step % 5]
        if what in ("append", "insert"):
            row, data = article(1000 + step, 400)
            if what == "insert":  # an id that sorts right after the row at ``at``
                row["id"], row["file"] = rows[at].split(",")[0] + "x", rows[at].split(",")[0] + "x.txt"
            (corpus / row["file"]).write_bytes(data)
            rows.insert(at + 1 if what == "insert" else len(rows), _row_line(row))
        elif what == "text":
            path = corpus / rows[at].split(",")[1]
            path.write_text(path.read_text(encoding="utf-8") + "\nMali and Russia signed a new accord.\n", "utf-8")
        elif what == "row":
            rows[at] = rows[at].replace(",,", ",https://example.org/edited,", 1)
        else:
            (corpus / rows[at].split(",")[1]).unlink()
            del rows[at]
        manifest.write_text(header + "".join(rows), encoding="utf-8")
        stats: dict = {}
        an = pl.run(corpus, cache_dir=cache, workers=1, stats=stats)
        assert stats["n_analysed"] == (0 if what == "remove" else 1), (step, what)
        ref = pl.run(corpus, workers=1)
        assert_frames_equal(an, ref, when=f" after step {step} ({what})")
        assert sum(k < 3 for _, _, k in _layout(cache)) <= 2  # small parts merged past the limit
    assert_tables_equal(an, ref)


def test_two_corpora_sharing_a_cache_keep_their_stores(corpus_copy, tmp_path, synthetic):
    """Alternating between two corpus folders re-analyses nothing; a copied folder reuses the original's rows."""
    cache = tmp_path / "cache"
    pl.run(corpus_copy, cache_dir=cache)
    pl.run(synthetic, cache_dir=cache)
    back: dict = {}
    pl.run(corpus_copy, cache_dir=cache, stats=back)
    assert back["n_cached"] == 5 and back["n_analysed"] == 0
    copy = Path(shutil.copytree(corpus_copy, tmp_path / "elsewhere"))
    moved: dict = {}
    pl.run(copy, cache_dir=cache, stats=moved)
    assert moved["n_cached"] == 5 and moved["n_analysed"] == 0
    assert len(list(cache.glob("store-*/index.json"))) == 3


def _corrupt(corpus: Path) -> tuple[str, str]:
    files = sorted(p.name for p in corpus.glob("*.txt"))
    (corpus / files[1]).write_bytes(b"caf\xe9 au lait, " * 20)
    (corpus / files[3]).write_bytes(b"")
    return files[1], files[3]


def test_default_run_stops_on_a_corrupt_article_and_writes_nothing(corpus_copy, tmp_path, capsys):
    bad_utf8, empty = _corrupt(corpus_copy)
    out = tmp_path / "tables"
    assert main(["analyse", str(corpus_copy), "--out", str(out), "--no-cache", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert bad_utf8 in err and "not valid UTF-8" in err
    assert empty in err and "empty" in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tables")]


def test_skip_invalid_lists_the_corrupt_files_and_analyses_the_rest(corpus_copy, tmp_path, capsys):
    bad_utf8, empty = _corrupt(corpus_copy)
    out = tmp_path / "tables"
    assert main(["analyse", str(corpus_copy), "--out", str(out), "--no-cache", "--quiet", "--skip-invalid"]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 problem(s)" in err and bad_utf8 in err and empty in err
    documents = pd.read_csv(out / "documents.csv", dtype={"doc_id": str})
    assert len(documents) == 3
    assert not set(documents["file"]) & {bad_utf8, empty}
    for file, n_raw in zip(documents["file"], documents["n_chars_raw"]):  # kept as a length, not the raw text
        assert n_raw == len((corpus_copy / file).read_bytes().decode("utf-8"))
    prov = json.loads((out / "provenance.json").read_text())
    assert {Path(s["file"]).name for s in prov["skipped"]} == {bad_utf8, empty}
    # where in the file: "caf" is 3 characters, so the bad byte is line 1, column 4; an empty file has no place
    where = {Path(s["file"]).name: s["where"] for s in prov["skipped"]}
    assert where == {bad_utf8: "line 1, column 4", empty: ""}


def test_skip_invalid_drops_rows_with_manifest_problems(corpus_copy):
    manifest = corpus_copy / "manifest.csv"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace(",2024-02-24/2024-05-24,range,", ",2024-02-31,day,")
    manifest.write_text("".join(lines), encoding="utf-8")
    docs, problems = eng.corpus_load_valid(corpus_copy)
    assert list(docs["doc_id"]) == ["000", "002", "003", "004"]
    assert len(problems) == 1 and "impossible date" in problems[0].message


def test_skip_invalid_still_fails_without_a_manifest(corpus_copy):
    (corpus_copy / "manifest.csv").unlink()
    with pytest.raises(pl.InputError):
        eng.corpus_load_valid(corpus_copy)


_THP_CHECK = """
import ctypes, multiprocessing as mp, sys
from mali_partners.engine import huge_pages_off

# start as the system has them: the flag is inherited, and a test before this one may have run analyse
assert ctypes.CDLL(None).prctl(41, 0, 0, 0, 0) == 0

def thp():  # 0: transparent huge pages disabled for this process (prctl), 1: as the system has them
    with open("/proc/self/status") as fh:
        return next(line.split()[1] for line in fh if line.startswith("THP_enabled:"))

def child(q):
    q.put(thp())

before = thp()
done = huge_pages_off()
q = mp.get_context("fork").Queue()
p = mp.get_context("fork").Process(target=child, args=(q,))
p.start(); p.join()
print(before, done, thp(), q.get())
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or "THP_enabled:" not in Path("/proc/self/status").read_text(),
    reason="transparent huge pages are a Linux setting (THP_enabled in /proc since 5.0)",
)
@pytest.mark.parametrize("env, expected", [("", "1 True 0 0"), ("on", "1 False 1 1")])
def test_huge_pages_off_holds_for_the_process_and_its_workers(env, expected):
    environ = {k: v for k, v in os.environ.items() if k != eng.HUGE_PAGES_ENV}
    if env:
        environ[eng.HUGE_PAGES_ENV] = env  # the way to keep them
    out = subprocess.run([sys.executable, "-c", _THP_CHECK], env=environ, capture_output=True, text=True, check=True)
    assert out.stdout.split() == expected.split()


def test_cache_bytes_counts_linked_files_once(tmp_path):
    """Stores share parts by hard links: a file linked twice takes its space once; a missing folder takes none."""
    (tmp_path / "store-a").mkdir()
    (tmp_path / "store-b").mkdir()
    (tmp_path / "store-a" / "part.arrow").write_bytes(b"x" * 1000)
    os.link(tmp_path / "store-a" / "part.arrow", tmp_path / "store-b" / "part.arrow")
    (tmp_path / "file-index.pkl").write_bytes(b"y" * 10)
    assert eng.cache_bytes(tmp_path) == 1010
    assert eng.cache_bytes(tmp_path / "missing") == 0


def test_cli_cache_flag_and_engine_flags(corpus_copy, tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(eng, "huge_pages_off", lambda: calls.append(1) or True)
    cache = tmp_path / "cache"
    args = ["analyse", str(corpus_copy), "--out", str(tmp_path / "t1"), "--cache", str(cache), "--workers", "1"]
    assert main(args) == 0
    assert calls == [1]  # analyse turns huge pages off for its process and workers (engine.huge_pages_off)
    assert "5 analysed, 0 from the cache" in capsys.readouterr().err
    args[3] = str(tmp_path / "t2")
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "0 analysed, 5 from the cache" in err
    # with the disk space the cache takes, each file counted once however many links it has (brute force here)
    inodes = {(p.stat().st_dev, p.stat().st_ino): p.stat().st_size for p in cache.rglob("*") if p.is_file()}
    assert eng.cache_bytes(cache) == sum(inodes.values()) > 0
    assert f"({cache}: {sum(inodes.values()) / 1e6:.0f} MB)" in err
    for name in ("documents.csv", "term_frequency.csv", "trajectory.csv"):
        assert (tmp_path / "t1" / name).read_bytes() == (tmp_path / "t2" / name).read_bytes()
    assert main(["analyse", str(corpus_copy), "--out", str(tmp_path / "t3"), "--workers", "0", "--no-cache"]) == 1


def test_default_cache_dir_is_beside_the_corpus(tmp_path, monkeypatch):
    monkeypatch.delenv("MALI_PARTNERS_CACHE", raising=False)
    assert eng.default_cache_dir(tmp_path / "corpus") == tmp_path / eng.CACHE_DIR_NAME
    monkeypatch.setenv("MALI_PARTNERS_CACHE", str(tmp_path / "elsewhere"))
    assert eng.default_cache_dir(tmp_path / "corpus") == tmp_path / "elsewhere"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_an_interactive_terminal(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert eng.progress_enabled(None, io.StringIO()) is False  # not a TTY
    assert eng.progress_enabled(True, io.StringIO()) is True  # --progress forces it
    assert eng.progress_enabled(False, _Tty()) is False  # --quiet
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert eng.progress_enabled(None, _Tty()) is True
    monkeypatch.setenv("CI", "true")
    assert eng.progress_enabled(None, _Tty()) is False


def test_no_progress_output_when_stderr_is_not_a_tty(corpus_copy, tmp_path, capsys):
    assert main(["analyse", str(corpus_copy), "--out", str(tmp_path / "t"), "--no-cache"]) == 0
    err = capsys.readouterr().err
    assert "art/s" not in err and "%|" not in err


def test_a_bar_counts_the_files_read_before_the_articles(corpus_copy, tmp_path, capsys):
    """Reading 100k files takes seconds before the articles' bar: a bar counts them, whichever way the corpus is
    read (every file, only those changed since the cache's last run, or keeping the valid ones)."""
    n = len(list(corpus_copy.glob("*.txt")))
    for name, kw in (
        ("no cache", {}),
        ("cache", {"cache_dir": tmp_path / "cache"}),
        ("cache again", {"cache_dir": tmp_path / "cache"}),
        ("skip invalid", {"skip_invalid": True}),
    ):
        pl.run(corpus_copy, progress=True, workers=1, **kw)
        err = capsys.readouterr().err
        assert "reading: 100%" in err and f"{n}/{n}" in err and "file" in err, name
        assert err.index("reading:") < err.index("articles:"), name
        pl.run(corpus_copy, workers=1, **kw)  # progress off by default
        assert "reading" not in capsys.readouterr().err, name


def test_a_bar_counts_the_table_jobs_after_the_articles(synthetic_an, tmp_path, monkeypatch, capsys):
    """At 100k articles the tables take about 40 s after the articles' bar ends: a second bar counts their jobs
    as they finish, on forked workers or one after the other, with the same files; none without progress."""
    an = synthetic_an
    (tmp_path / "ref").mkdir()
    pl.analysis_tables_write(an, tmp_path / "ref", workers=1)
    assert "tables" not in capsys.readouterr().err
    n = len(pl.TABLE_JOBS)
    for name, workers in (("serial", 1), ("forked", 2)):
        if workers == 2:
            monkeypatch.setattr(pl, "PARALLEL_TABLES_MIN_DOCS", 1)
            monkeypatch.setattr(pl, "available_memory", lambda: None)
        (tmp_path / name).mkdir()
        pl.analysis_tables_write(an, tmp_path / name, workers=workers, progress=True)
        err = capsys.readouterr().err
        assert "tables: 100%" in err and f"{n}/{n}" in err and "job" in err, name
        assert [f"{k}/{n}" in err for k in range(1, n + 1)] == [True] * n, name  # one step per job
        for f in sorted((tmp_path / "ref").iterdir()):
            assert (tmp_path / name / f.name).read_bytes() == f.read_bytes(), (name, f.name)


def test_unknown_engine_is_an_input_error(seeds_dir):
    docs = pl.corpus_load(seeds_dir)
    with pytest.raises(pl.InputError, match="unknown engine"):
        eng.map_documents(docs, pl.gazetteer_load(None), pl.traj.lexicon_load(None), engine="spark")


def test_generator_is_deterministic(tmp_path):
    from benchmarks.generate import generate

    a = generate(3, tmp_path / "a")
    b = generate(3, tmp_path / "b")
    assert (a / "manifest.csv").read_bytes() == (b / "manifest.csv").read_bytes()
    assert sorted(p.name for p in a.glob("*.txt")) == sorted(p.name for p in b.glob("*.txt"))
    shutil.rmtree(b)


@pytest.mark.parametrize("rows", [0, 7, 1000, 1001, 2500])
def test_large_tables_write_parquet_by_row_group_with_the_same_bytes(tmp_path, monkeypatch, rows):
    """Tables over one row group are written group by group: the same file as joining the whole table first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(pl, "PARQUET_ROW_GROUP", 1000)
    chunks = [pa.array([f"t{i}-" * 400 for i in range(a, min(a + 300, rows))]) for a in range(0, rows, 300)]
    text = pa.chunked_array(chunks, pa.string())
    df = pd.DataFrame({"n": range(rows), "text": pd.Series(text, dtype="str")})
    pl.write_tables({"t": df}, tmp_path)
    whole = pa.Table.from_pandas(df, preserve_index=False).combine_chunks()
    pq.write_table(whole, tmp_path / "whole.parquet", row_group_size=1000)
    assert (tmp_path / "t.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "t.parquet").num_row_groups == max(1, -(-rows // 1000))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df)


def test_saving_a_store_sweeps_temporary_folders_left_by_killed_runs(seeds_dir, tmp_path):
    """A run killed mid-way (SIGKILL) leaves its temporary folder; the next save removes it once it is stale."""
    cache = tmp_path / "cache"
    cache.mkdir()
    old = time.time() - eng.STALE_TEMPORARY_S - 60
    left = {name: cache / name for name in (".segment-dead", ".store-abc.dead", ".segment-live", "keep-me")}
    for path in left.values():
        path.mkdir()
        (path / "part.arrow").write_bytes(b"x")
    for name in (".segment-dead", ".store-abc.dead", "keep-me"):
        os.utime(left[name], (old, old))
    pl.run(seeds_dir, cache_dir=cache)
    assert not left[".segment-dead"].exists() and not left[".store-abc.dead"].exists()
    assert left[".segment-live"].exists()  # recent: perhaps a run still writing
    assert left["keep-me"].exists()  # not a temporary folder of the cache
    assert len(list(cache.glob("store-*"))) == 1
    assert eng._sweep_temporary(cache, now=time.time() + 2 * eng.STALE_TEMPORARY_S) == [left[".segment-live"]]


def test_article_keys_hash_each_row_as_sorted_json(seeds_dir):
    """The key is sha256 over the configuration and the row as json.dumps(sort_keys=True) gives it."""
    import hashlib

    docs = pl.corpus_load(seeds_dir)
    docs.loc[0, "title"] = 'A "quoted" title \\ with é, \u2019, a\nnewline, a\ttab and \x01'
    cols = [c for c in docs.columns if c not in ("text_raw", "text")]
    want = [
        hashlib.sha256(f"cfg\x1f{json.dumps(rec, sort_keys=True, ensure_ascii=False)}".encode()).hexdigest()
        for rec in docs[cols].astype(str).to_dict("records")
    ]
    assert eng.article_keys(docs, "cfg") == want
    assert len(set(want)) == len(want)


def test_book_analysis_reads_the_cache_the_cli_filled(corpus_copy, tmp_path, monkeypatch, analysis):
    # make book runs `mali-partners analyse` first; each notebook's book.analysis() must then
    # read every article from that store instead of analysing the corpus again
    from mali_partners import book
    from mali_partners import pipeline as pl

    monkeypatch.delenv("MALI_PARTNERS_CACHE", raising=False)
    assert main(["analyse", str(corpus_copy), "--out", str(tmp_path / "t"), "--workers", "1", "--quiet"]) == 0

    def analysed(*_a, **_kw):
        raise AssertionError("an article was analysed again")

    monkeypatch.setattr(pl, "analyse_document", analysed)
    book.analysis.cache_clear()
    try:
        an = book.analysis(str(corpus_copy))
    finally:
        book.analysis.cache_clear()
    for name in ("docs", "mentions", "units", "terms"):
        pd.testing.assert_frame_equal(getattr(an, name), getattr(analysis, name), check_exact=True)
    pd.testing.assert_frame_equal(an.trajectory(), analysis.trajectory(), check_exact=True)


def test_as_dates_is_dt_date_with_each_distinct_date_converted_once():
    import datetime as dt

    from mali_partners.pipeline import as_dates

    s = pd.Series(pd.to_datetime(["2021-03-04", None, "2020-01-02", "2021-03-04 17:30"], format="ISO8601"), name="d")
    got = as_dates(s)
    assert got.tolist()[0] == dt.date(2021, 3, 4) and got[1] is pd.NaT and got[3] == dt.date(2021, 3, 4)
    cases = [
        s,
        pd.Series(pd.to_datetime([]), dtype="datetime64[ns]"),
        pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]", index=[5, 3]),
        pd.Series(pd.date_range("1960-01-01", periods=500, freq="37D").repeat(3)),
        pd.Series(pd.to_datetime(["2022-01-31 23:30"]).tz_localize("UTC").tz_convert("Africa/Bamako")),
    ]
    for values in cases:
        pd.testing.assert_series_equal(as_dates(values), values.dt.date, check_exact=True)
        assert [v is pd.NaT for v in as_dates(values)] == [v is pd.NaT for v in values.dt.date]


def test_a_run_freezes_the_heap_only_while_it_runs(seeds_dir, monkeypatch):
    """Objects older than the run are left out of its collections, and nothing stays frozen afterwards."""
    import gc
    import weakref

    class Node:
        pass

    seen: list[int] = []
    real = pl.release_memory
    monkeypatch.setattr(pl, "release_memory", lambda: (seen.append(gc.get_freeze_count()), real())[1])
    gc.disable()  # no automatic collection: the cycle below stays garbage until a collection finds it
    try:
        node = Node()
        node.me = node
        ref = weakref.ref(node)
        del node  # garbage from before the run
        assert gc.get_freeze_count() == 0
        pl.run(seeds_dir)
        assert seen and all(n > 0 for n in seen)  # frozen during every collection of the run
        assert ref() is not None  # which therefore left the older garbage alone
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert ref() is None  # unfrozen: the next collection frees it
    finally:
        gc.enable()
    with pl._FrozenHeap():
        inner = gc.get_freeze_count()
        with pl._FrozenHeap():  # nested: the inner end does not unfreeze the outer run
            pass
        assert gc.get_freeze_count() == inner > 0
    assert gc.get_freeze_count() == 0
    with pytest.raises(pl.InputError), pl._FrozenHeap():
        pl.run(seeds_dir / "no such folder")
    assert gc.get_freeze_count() == 0


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_output_files_do_not_depend_on_the_cache(corpus_copy, tmp_path):
    """No cache, a cold cache, a warm one, a warm one plus a new article: byte for byte the same files."""
    from benchmarks.generate import article

    cache = tmp_path / "cache"
    outs = {}
    for name, cache_dir in (("none", None), ("cold", cache), ("warm", cache)):
        pl.analyse_to_dir(str(corpus_copy), str(tmp_path / name), cache_dir=cache_dir)
        outs[name] = _files(tmp_path / name)
    assert outs["cold"] == outs["none"] and outs["warm"] == outs["none"]
    new = tmp_path / "new.txt"
    new.write_bytes(article(7)[1])
    add = ["add", str(new), "--corpus", str(corpus_copy), "--title", "T", "--source", "S", "--published", "2024-03"]
    assert main(add) == 0
    for name, cache_dir in (("plus_none", None), ("plus_warm", cache)):
        pl.analyse_to_dir(str(corpus_copy), str(tmp_path / name), cache_dir=cache_dir)
        outs[name] = _files(tmp_path / name)
    differ = [f for f in outs["plus_none"] if outs["plus_none"][f] != outs["plus_warm"].get(f)]
    assert not differ and outs["plus_none"].keys() == outs["plus_warm"].keys()
    import pyarrow.parquet as pq

    def attributes(name: str) -> dict:
        return json.loads(pq.read_metadata(tmp_path / "plus_warm" / f"{name}.parquet").metadata[b"pandas"])[
            "attributes"
        ]

    assert attributes("mentions") == attributes("documents") == {}  # per-article rows: no run's attrs
    assert attributes("trajectory")["min_evidence"] == pl.traj.MIN_EVIDENCE  # a computed table keeps its parameters


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="posix_fadvise is Linux's")
def test_a_rerun_evicts_the_old_output_and_a_failed_one_leaves_it_intact(corpus_copy, tmp_path, monkeypatch):
    """A rerun into an existing --out folder first writes the old files' pages to disk and drops them from the
    page cache (their memory then serves the new files), before any table is written; the old files keep every
    byte, so a run that fails in the tables leaves them as they were. Without the eviction, the same files."""
    out = tmp_path / "tables"
    pl.analyse_to_dir(str(corpus_copy), str(out))
    before = _files(out)
    dropped: list[str] = []
    real = os.posix_fadvise

    def fadvise(fd, offset, length, advice):
        if advice == os.POSIX_FADV_DONTNEED:
            dropped.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        return real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", fadvise)
    write = pl.analysis_tables_write
    seen: list[list[str]] = []

    def fail(an, folder, **kw):
        seen.append(sorted(dropped))
        raise OSError("no space left on device")

    monkeypatch.setattr(pl, "analysis_tables_write", fail)
    with pytest.raises(OSError, match="no space"):
        pl.analyse_to_dir(str(corpus_copy), str(out))
    assert seen == [sorted(before)]  # every old file evicted before the tables
    assert _files(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tables")] == []
    monkeypatch.setattr(
        pl, "analysis_tables_write", lambda an, folder, **kw: (seen.append(sorted(dropped)), write(an, folder, **kw))[1]
    )
    dropped.clear()
    pl.analyse_to_dir(str(corpus_copy), str(out))
    assert seen[-1] == sorted(before) and _files(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tables")] == []
    dropped.clear()
    monkeypatch.setattr(pl, "OUTPUT_EVICT", False)
    pl.analyse_to_dir(str(corpus_copy), str(out))
    assert dropped == [] and _files(out) == before
    pl.analyse_to_dir(str(corpus_copy), str(tmp_path / "new"))  # no folder yet: nothing to evict
    assert dropped == []


def test_the_tables_do_not_wait_long_for_the_old_output_to_be_evicted(corpus_copy, tmp_path, monkeypatch):
    """On a slow disk the eviction goes on while the tables are written: they wait for it at most OUTPUT_EVICT_WAIT."""
    import threading

    out = tmp_path / "tables"
    pl.analyse_to_dir(str(corpus_copy), str(out))
    before = _files(out)
    release, flushed = threading.Event(), threading.Event()

    def slow_flush(paths, drop=False):  # a disk that takes its time: done only once the tables have started
        release.wait(30)
        flushed.set()

    monkeypatch.setattr(eng, "_flush_files", slow_flush)
    monkeypatch.setattr(pl, "OUTPUT_EVICT_WAIT", 0.05)
    write = pl.analysis_tables_write
    started_before_flush = []

    def tables(an, folder, **kw):
        started_before_flush.append(not flushed.is_set())
        release.set()
        return write(an, folder, **kw)

    monkeypatch.setattr(pl, "analysis_tables_write", tables)
    pl.analyse_to_dir(str(corpus_copy), str(out))
    assert started_before_flush == [True] and flushed.wait(30)
    assert _files(out) == before


def test_article_blocks_cut_every_frame_at_the_same_articles(synthetic_an):
    """Each block holds the rows of its articles in every frame; the blocks, joined, are the frames."""
    an = synthetic_an
    frames = ("docs", "sentences", "mentions", "cue_hits", "cleaning")
    blocks = list(pl.article_blocks(an, frames, size=7))
    assert len(blocks) == -(-len(an.docs) // 7)
    for b in blocks:
        ids = set(b["docs"]["doc_id"])
        assert len(ids) <= 7
        for name in frames[1:]:
            assert set(b[name]["doc_id"]) <= ids, name
    for name in frames:
        joined = pd.concat([b[name] for b in blocks])
        pd.testing.assert_frame_equal(joined, getattr(an, name), obj=name)
    one = list(pl.article_blocks(an, frames, size=len(an.docs)))
    assert len(one) == 1 and one[0]["mentions"] is an.mentions


def test_article_blocks_of_frames_out_of_corpus_order_are_one_block(synthetic_an):
    """A frame whose articles are not in corpus order cannot be cut: the whole analysis is one block."""
    from dataclasses import replace

    an = replace(synthetic_an, mentions=synthetic_an.mentions.iloc[::-1])
    blocks = list(pl.article_blocks(an, ("docs", "mentions"), size=5))
    assert len(blocks) == 1 and blocks[0]["mentions"] is an.mentions
    empty = replace(synthetic_an, docs=synthetic_an.docs.iloc[:0], mentions=synthetic_an.mentions.iloc[:0])
    assert [len(b["docs"]) for b in pl.article_blocks(empty, ("docs", "mentions"), size=5)] == [0]


def test_tables_made_block_by_block_write_the_files_of_the_whole_tables(synthetic_an, tmp_path, monkeypatch):
    """KWIC, the row tables and the evidence, made and written in blocks and small row groups: same bytes."""
    an = synthetic_an
    monkeypatch.setattr(pl, "PARQUET_ROW_GROUP", 50)
    monkeypatch.setattr(pl, "BLOCK_ARTICLES", 10**9)
    monkeypatch.setattr(pl, "BLOCK_ROWS", 10**9)
    (tmp_path / "whole").mkdir()
    whole = pl.analysis_tables(an, workers=1)
    pl.write_tables(whole, tmp_path / "whole")
    monkeypatch.setattr(pl, "BLOCK_ARTICLES", 7)
    monkeypatch.setattr(pl, "BLOCK_ROWS", 13)
    blocked = pl.analysis_tables(an, workers=1)
    for name in whole:
        pd.testing.assert_frame_equal(blocked[name], whole[name], obj=name)
    (tmp_path / "blocks").mkdir()
    pl.analysis_tables_write(an, tmp_path / "blocks", workers=1)
    assert len(whole["trajectory_evidence"]) > 2 * 50 > 2 * 13  # several parts and row groups
    assert len(whole["kwic"]) > 2 * 50 and len(an.docs) > 2 * 7  # several row groups, several blocks
    for f in sorted((tmp_path / "whole").iterdir()):
        assert (tmp_path / "blocks" / f.name).read_bytes() == f.read_bytes(), f.name


def test_table_writer_gives_a_column_missing_in_the_first_parts_the_type_of_the_first_value(tmp_path, monkeypatch):
    """Parts whose column is all missing (Arrow null) before a part with dates: the files of the joined table."""
    import datetime

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    monkeypatch.setattr(pl, "PARQUET_ROW_GROUP", 4)
    day = datetime.date(2021, 8, 30)
    parts = [
        pd.DataFrame({"n": [1, 2, 3], "day": [None, None, None], "word": ["a", "b,c", None]}),
        pd.DataFrame({"n": [4, 5], "day": [day, None], "word": ["d", 'e"f']}),
        pd.DataFrame({"n": [6], "day": [None], "word": ["g"]}),
    ]
    writer = pl.TableWriter(tmp_path, "t")
    for p in parts:
        writer.write(p)
    writer.close()
    joined = pd.concat(parts, ignore_index=True)
    table = pa.Table.from_pandas(joined, preserve_index=False)
    assert table.schema.field("day").type == pa.date32()
    pacsv.write_csv(table, tmp_path / "whole.csv")
    pq.write_table(table, tmp_path / "whole.parquet", row_group_size=4)
    assert (tmp_path / "t.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert (tmp_path / "t.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "t.parquet").num_row_groups == 2
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), joined)
    with pytest.raises(ValueError, match="nothing written"):
        pl.TableWriter(tmp_path, "none").close()


def test_a_cached_run_reads_only_the_files_changed_since_the_last(corpus_copy, tmp_path, monkeypatch):
    """The file index: unchanged files are not read; an article whose row changed is read when it is re-analysed."""
    from benchmarks.generate import article
    from mali_partners import corpus as corpus_mod

    for p in corpus_copy.iterdir():  # written a minute ago: old enough for the index to trust
        t = time.time() - 60
        os.utime(p, (t, t))
    read: list[list[str]] = []
    real = corpus_mod.read_raw

    def spy(root, index=None, progress=False):
        raw = real(root, index, progress)
        read.append(sorted(raw.files))
        return raw

    monkeypatch.setattr(corpus_mod, "read_raw", spy)
    cache = tmp_path / "cache"
    pl.run(corpus_copy, cache_dir=cache)
    assert len(read[-1]) == 5 and (cache / eng.FILE_INDEX).is_file()
    new = tmp_path / "new.txt"
    new.write_bytes(article(7)[1])
    assert (
        main(["add", str(new), "--corpus", str(corpus_copy), "--title", "T", "--source", "S", "--published", "2024-03"])
        == 0
    )
    stats: dict = {}
    an = pl.run(corpus_copy, cache_dir=cache, stats=stats)
    assert [f[:4] for f in read[-1]] == ["005_"] and stats["analysed_ids"] == ["005"]
    assert_tables_equal(an, pl.run(corpus_copy))
    # a new title changes the article's key, not its file: its text is read for the per-article step
    import csv

    manifest = corpus_copy / "manifest.csv"
    rows = list(csv.reader(io.StringIO(manifest.read_text(encoding="utf-8"))))
    rows[2][rows[0].index("title")] = "A new title"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    manifest.write_text(buf.getvalue(), encoding="utf-8")
    stats = {}
    an = pl.run(corpus_copy, cache_dir=cache, stats=stats)
    assert read[-1] == [] or [f[:4] for f in read[-1]] == ["005_"]  # the new article may still be too recent
    assert stats["analysed_ids"] == ["001"]
    assert_tables_equal(an, pl.run(corpus_copy))


def test_the_block_memo_is_keyed_by_the_engines_article_keys(corpus_copy, tmp_path):
    """One hashing of the articles per run: the memo's keys are the per-article cache's, and stats do not carry them."""
    from mali_partners.corpus import corpus_load

    stats: dict = {}
    an = pl.run(corpus_copy, cache_dir=tmp_path / "cache", stats=stats)
    assert an.block_keys == eng.article_keys(corpus_load(corpus_copy), eng.config_hash(an.gazetteer, an.lexicon))
    assert "article_keys" not in stats and stats["n_analysed"] == 5


def _mentions_in_parts(
    analysis, tmp_path: Path, monkeypatch, names: list[str]
) -> tuple[pd.DataFrame, list[int], list[Path]]:
    """The seeds' mentions stored as four parts named ``names``, every number column to be mapped."""
    monkeypatch.setattr(eng, "MAPPED_MIN_BYTES", 0)
    m = analysis.mentions
    cuts = [0, 15, 30, 40, len(m)]
    stems = [tmp_path / name for name in names]
    for i, stem in enumerate(stems):
        eng._frame_write(m.iloc[cuts[i] : cuts[i + 1]], stem)
    return m, cuts, stems


def _copies(monkeypatch) -> list[int]:
    """The byte counts of every kernel copy from an old map file (``engine._copy_range``), as they happen."""
    copied: list[int] = []
    real = eng._copy_range
    monkeypatch.setattr(
        eng, "_copy_range", lambda src, dst, offset, count: copied.append(count) or real(src, dst, offset, count)
    )
    return copied


def test_the_map_of_a_store_with_a_part_appended_extends_the_old_map(analysis, tmp_path, monkeypatch):
    """Three parts, then a fourth: the old map file itself gets the new values (nothing copied), and a view
    of it that another process holds keeps its values; linked from elsewhere too (a store still in use), or
    when its header would grow, it is copied and left as it was."""
    import numpy as np

    m, cuts, stems = _mentions_in_parts(
        analysis, tmp_path, monkeypatch, [f"s{i}-0000000{i}-mentions-00000" for i in range(4)]
    )
    eng._frames_read(stems[:3])  # the store as it was: three parts, mapped
    old = tmp_path / f"{eng._map_name(stems[:3])}.start.npy"
    inode, held = old.stat().st_ino, np.load(old, mmap_mode="r")
    copied = _copies(monkeypatch)
    got = eng._frames_read(stems, previous=stems[:3])  # one part more
    pd.testing.assert_frame_equal(got, m.reset_index(drop=True), check_exact=True)
    assert copied == []  # extended in place: the first 40 values were not copied
    (path,) = tmp_path.glob(f"{eng._map_name(stems)}.start.npy")
    assert path.stat().st_ino == inode and np.load(path).tolist() == m["start"].tolist()
    assert held.tolist() == m["start"].tolist()[: cuts[3]]  # the old view: the same 40 values
    assert not list(tmp_path.glob(f"{eng._map_name(stems[:3])}.*.npy"))  # the old maps, once extended, are gone
    assert not list(tmp_path.glob(".*"))  # nothing left of the extension

    def fresh_old_maps() -> None:
        for f in tmp_path.glob(f"{eng._map_name(stems)}.*.npy"):
            f.unlink()
        eng._frames_read(stems[:3])
        copied.clear()

    # the old map linked from another folder too (a store still in use): copied, that link untouched
    fresh_old_maps()
    other = tmp_path / "other"
    other.mkdir()
    os.link(old, other / old.name)
    again = eng._frames_read(stems, previous=stems[:3])
    pd.testing.assert_frame_equal(again, m.reset_index(drop=True), check_exact=True)
    assert 8 * cuts[3] in copied  # an int64 column: the first 40 values copied from the old map
    assert np.load(other / old.name).tolist() == m["start"].tolist()[: cuts[3]]
    assert path.stat().st_ino != (other / old.name).stat().st_ino
    shutil.rmtree(other)
    # a header that would grow with the new length: copied
    fresh_old_maps()
    real_header = eng._npy_header
    monkeypatch.setattr(
        eng, "_npy_header", lambda dtype, n: real_header(dtype, n) + (b" " * 64 if n == len(m) else b"")
    )
    monkeypatch.setattr(eng, "_copy_range", lambda src, dst, offset, count: copied.append(count))  # not written
    header_size = eng._npy_prefix(old, np.dtype("int64"))[1]
    assert not eng._map_extend(path, pa_column(m["start"]), np.dtype("int64"), old, cuts[3], header_size)
    assert old.is_file() and copied == []  # left as it was
    monkeypatch.setattr(eng, "_npy_header", real_header)
    # an old map that does not hold what its parts hold (here: cut short) is not used: written from the parts
    monkeypatch.setattr(eng, "_copy_range", lambda src, dst, offset, count: copied.append(count))
    fresh_old_maps()
    old.write_bytes(old.read_bytes()[:-8])
    again = eng._frames_read(stems, previous=stems[:3])
    pd.testing.assert_frame_equal(again, m.reset_index(drop=True), check_exact=True)
    assert np.load(path).tolist() == m["start"].tolist()  # this one is right from the parts
    assert copied == []  # and the other columns' old maps were extended in place


def pa_column(series: pd.Series):
    """``series`` as a chunked Arrow array of two chunks, as a column joined from two parts is."""
    import pyarrow as pa

    values = series.to_numpy()
    return pa.chunked_array([values[:10], values[10:]])


def test_the_map_of_a_store_with_a_part_replaced_starts_from_the_old_map(analysis, tmp_path, monkeypatch):
    """Four parts, then the third replaced (an article edited in it): the new map copies the values of the
    first two parts from the old map and writes the others from the parts."""
    import numpy as np

    m, cuts, stems = _mentions_in_parts(
        analysis, tmp_path, monkeypatch, [f"s0-00000000-mentions-{i:05d}" for i in range(4)]
    )
    eng._frames_read(stems)  # the store as it was, mapped
    edited = m.copy()
    edited.loc[cuts[2] : cuts[3] - 1, "start"] += 1000  # the third part's rows changed
    replaced = tmp_path / "s1-11111111-mentions-00000"
    eng._frame_write(edited.iloc[cuts[2] : cuts[3]], replaced)
    copied = _copies(monkeypatch)
    new = [stems[0], stems[1], replaced, stems[3]]
    got = eng._frames_read(new, previous=stems)
    pd.testing.assert_frame_equal(got, edited.reset_index(drop=True), check_exact=True)
    # the first 30 values of every mapped column (int64, int32, bool) came from the old maps, no more
    assert 8 * cuts[2] in copied and all(c in (cuts[2], 4 * cuts[2], 8 * cuts[2]) for c in copied)
    (path,) = tmp_path.glob(f"{eng._map_name(new)}.start.npy")
    assert np.load(path).tolist() == edited["start"].tolist()


def test_the_map_of_a_store_whose_last_parts_were_merged_extends_the_old_map(analysis, tmp_path, monkeypatch):
    """Appending one article per run, the small parts are merged, with the new one, into a part of another name
    (store_plan): the old map holds the same values for its rows, so it is extended in place, not copied
    (1.9 GB at 100k); where a value of those rows changed, that column's map is copied and rewritten as before."""
    import numpy as np

    m, cuts, stems = _mentions_in_parts(
        analysis, tmp_path, monkeypatch, [f"s0-00000000-mentions-{i:05d}" for i in range(4)]
    )
    eng._frames_read(stems[:3])  # the store as it was: parts of rows 0-15, 15-30, 30-40
    old = tmp_path / f"{eng._map_name(stems[:3])}.start.npy"
    inode = old.stat().st_ino
    merged = tmp_path / "s1-11111111-mentions-00000"  # rows 30-40 and the new ones, one part
    eng._frame_write(m.iloc[cuts[2] :], merged)
    copied = _copies(monkeypatch)
    new = [stems[0], stems[1], merged]
    got = eng._frames_read(new, previous=stems[:3])
    pd.testing.assert_frame_equal(got, m.reset_index(drop=True), check_exact=True)
    assert copied == []  # every column's old map extended in place
    (path,) = tmp_path.glob(f"{eng._map_name(new)}.start.npy")
    assert path.stat().st_ino == inode and np.load(path).tolist() == m["start"].tolist()
    # the same, but one value of the merged rows changed (as an edit would): that column is copied, then written
    for f in tmp_path.glob("map-*.npy"):
        f.unlink()
    eng._frames_read(stems[:3])
    edited = m.copy()
    edited.loc[cuts[2] + 2, "start"] += 1000
    merged2 = tmp_path / "s2-22222222-mentions-00000"
    eng._frame_write(edited.iloc[cuts[2] :], merged2)
    new2 = [stems[0], stems[1], merged2]
    again = eng._frames_read(new2, previous=stems[:3])
    pd.testing.assert_frame_equal(again, edited.reset_index(drop=True), check_exact=True)
    assert copied == [8 * cuts[2]]  # only "start" (int64): its first 30 values copied from the old map
    (path2,) = tmp_path.glob(f"{eng._map_name(new2)}.start.npy")
    assert np.load(path2).tolist() == edited["start"].tolist()


def test_a_run_adding_articles_reads_its_store_back_mapped(corpus_copy, tmp_path, monkeypatch):
    """Appending: the rows come from the store just written (mapped), not from joining frames in memory,
    and the frames equal those of a run without cache; each +1 extends the maps of the run before."""
    from benchmarks.generate import article

    monkeypatch.setattr(eng, "MAPPED_MIN_BYTES", 0)
    cache = tmp_path / "cache"
    pl.run(corpus_copy, cache_dir=cache)
    joined: list[int] = []
    real_concat = eng._concat
    monkeypatch.setattr(
        eng, "_concat", lambda parts, consume=False: joined.append(len(parts)) or real_concat(parts, consume)
    )
    copied = _copies(monkeypatch)
    maps: list[set[str]] = []
    for i in range(2):
        new = tmp_path / f"new{i}.txt"
        new.write_bytes(article(7 + i)[1])
        assert (
            main(
                [
                    "add",
                    str(new),
                    "--corpus",
                    str(corpus_copy),
                    "--title",
                    "T",
                    "--source",
                    "S",
                    "--published",
                    "2024-03",
                ]
            )
            == 0
        )
        joined.clear()
        stats: dict = {}
        before = {f.stat().st_ino for f in cache.glob("store-*/map-*.npy")}
        an = pl.run(corpus_copy, cache_dir=cache, stats=stats)
        # the new article's chunk, then combine's one part: never the store's frames joined with the new ones ([2])
        assert stats["n_analysed"] == 1 and joined == [1, 1]
        # each +1 extends the map files of the store it replaces (the first run's, then the last +1's) in place:
        # nothing copied, the same files under new names
        after = {f.stat().st_ino for f in cache.glob("store-*/map-*.npy")}
        assert before and after == before and copied == []
        maps.append({f.name.split(".")[0] for f in cache.glob("store-*/map-*.npy")})
        if i == 1:
            assert maps[1] and not maps[1] & maps[0]  # the maps the first +1 made were extended, then removed
        ref = pl.run(corpus_copy)
        assert_frames_equal(an, ref, ("docs", "sentences", "tokens", "mentions", "terms", "units", "cue_hits"))
        assert_tables_equal(an, ref)


def test_reading_back_an_appended_store_reuses_the_parts_already_open(corpus_copy, tmp_path, monkeypatch):
    """The +1 run reads its store back: the old segment's parts (hard links of the files it read) are not opened again."""
    from benchmarks.generate import article

    cache = tmp_path / "cache"
    pl.run(corpus_copy, cache_dir=cache)
    new = tmp_path / "new.txt"
    new.write_bytes(article(7)[1])
    assert (
        main(["add", str(new), "--corpus", str(corpus_copy), "--title", "T", "--source", "S", "--published", "2024-03"])
        == 0
    )
    opened: list[str] = []
    real = eng._frame_table
    monkeypatch.setattr(eng, "_frame_table", lambda stem: opened.append(stem.name) or real(stem))
    an = pl.run(corpus_copy, cache_dir=cache)
    assert len(opened) == len(set(opened))  # each part file opened once in the run
    assert {n.split("-")[0] for n in opened} == {"s0", "s1"}  # the old segment (first read), the new one (read back)
    assert_tables_equal(an, pl.run(corpus_copy))
