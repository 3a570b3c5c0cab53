"""Engines: run the per-article step over a corpus, on one core, a process pool or a Dask cluster.

:func:`map_documents` is the one entry point. It applies
:func:`mali_partners.pipeline.analyse_document` (a pure function of one article and the
configuration) to every article and returns its frames in corpus order, whatever the
engine:

``local``
    a :class:`concurrent.futures.ProcessPoolExecutor` over chunks of articles, using every
    core; below :data:`PARALLEL_THRESHOLD` articles (or with one worker) a plain loop in
    this process, so small corpora pay no start-up cost.
``dask``
    the same chunk function submitted to a ``dask.distributed`` client: a local cluster
    of processes by default, or the scheduler at ``scheduler`` (``tcp://host:8786``).

Documents are analysed in chunks (one call of the per-article step per chunk): the step
is the same for one article or many, and a chunk pays pandas' per-call cost once.

With ``cache_dir`` the frames of a corpus folder's last run are kept on disk in one
*store* (per folder and configuration), with every article's key: a hash over its raw
text, its manifest row and the configuration (gazetteer, lexicon, stopwords,
abbreviations, package version and source code). A rerun reuses the rows of every article
whose key is in the store and analyses only new or changed articles; a folder with no
store of its own (copied, renamed) uses the store that shares most of its keys. The store
is a sequence of parts of at most :data:`CHUNK_SIZE` articles: a rerun keeps (hard-links)
every part whose articles are unchanged and in place, and writes only the parts around
what changed (articles added, edited, removed or inserted anywhere). The store's frames
are Arrow IPC files, read back memory-mapped; a first run
writes each chunk's frames into the new store as soon as they are computed, and once the
store is written the frames returned are its mapped ones: the rows of the whole corpus
are never all held by this process, and the corpus-level steps (frequency,
co-occurrence, trajectory), which are recomputed from all rows, read them from the page
cache. Beside the stores, a :class:`BlockMemo` keeps the table jobs' results for blocks
of articles (counts, KWIC lines) under the blocks' article keys, so a rerun recounts only
the blocks whose articles changed.

:func:`corpus_load_valid` loads only the articles without problems, for
``mali-partners analyse --skip-invalid``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import pickle
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import actors as act
from . import corpus as corpus_mod
from .errors import InputError, Problem
from .progress import Progress, progress_enabled

ENGINES = ("local", "dask")
PARALLEL_THRESHOLD = 50  # fewer articles than this: analyse them in this process
CHUNK_SIZE = 200  # articles per task (fewer when that would leave a worker idle)
CACHE_DIR_NAME = ".mali_partners_cache"
CACHE_FORMAT = "5"  # bump when the cache layout changes (5: the index lists parts, reused one by one)


Result = dict[str, pd.DataFrame]


# ----------------------------------------------------------------------------- process settings


HUGE_PAGES_ENV = "MALI_PARTNERS_HUGE_PAGES"  # "on": leave transparent huge pages as the system has them
_PR_SET_THP_DISABLE = 41  # prctl(2), Linux 3.15+


def huge_pages_off() -> bool:
    """Turn transparent huge pages off for this process and the processes it starts (Linux); True if done.

    numpy asks the kernel for 2 MB pages for every array of 4 MB or more, and the analysis makes
    many short-lived ones: each first touch zeroes a whole 2 MB page. Adding one article to 10k
    in ``mali-partners analyse`` spent about a third of its CPU zeroing them (``perf``, on the
    benchmark machine, whose kernel hands freed 2 MB blocks back to the hypervisor); with them
    off, that command took 4.7-6.0 s instead of 7.1-9.3 s (5 runs each, alternated). The setting
    holds for the whole process and is inherited by workers, so the command line and the
    benchmarks call this, not the library. ``MALI_PARTNERS_HUGE_PAGES=on`` leaves them on.
    """
    if os.environ.get(HUGE_PAGES_ENV, "").strip().lower() == "on" or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL(None).prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):  # no prctl in this C library
        return False


# ----------------------------------------------------------------------------- per-article step


def analyse_chunk(chunk: pd.DataFrame, gaz, lex, timed: bool = False) -> tuple[Result, dict[str, float]]:
    """Analyse the articles of ``chunk`` (a slice of the corpus frame) in one call, in order.

    :func:`pipeline.analyse_document` works on any number of articles and its rows never
    depend on another article, so a chunk gives the same rows as its articles one by one
    while paying pandas' per-call cost once. Returns the frames and, with ``timed``,
    seconds per stage.
    """
    from .pipeline import analyse_document

    timings: dict[str, float] = {}
    res = analyse_document(chunk, gaz, lex, act.matcher_build(gaz), timings if timed else None)
    return res, timings


def analyse_chunk_part(
    chunk: pd.DataFrame, gaz, lex, timed: bool, folder: str, seg: str, j: int
) -> tuple[int, list[str], dict[str, float]]:
    """:func:`analyse_chunk`, with its frames written here as part ``j`` of store segment ``seg`` in ``folder``.

    What a pool worker runs in a first run with a cache: the frames go straight into the
    store's files instead of back to the main process, which only records the part. Sent
    back, they were pickled, piped and unpickled (16 MB per 200 articles), then written by
    the main process: at 30k articles that process spent 13 to 14 s of CPU, most of it in the
    kernel, on the two cores the workers needed. Returns the articles, the frame names and
    the seconds per stage.
    """
    res, timings = analyse_chunk(chunk, gaz, lex, timed)
    _part_write(Path(folder), seg, j, res)
    return len(res["docs"]), list(res), timings


# ----------------------------------------------------------------------------- cache


# Modules downstream of the per-article step: charts, the book, publishing and the command line
# read its frames and never feed them (tested: running the step imports none of them). Their code
# is left out of the per-article cache key, so editing a chart does not re-analyse every article.
# Every other module, and any new one, is in the key.
DOWNSTREAM_MODULES = frozenset({"book", "bookinfo", "changelog", "charts", "cli", "publish", "sphinxext", "validation"})


def code_fingerprint(skip: frozenset[str] = frozenset(), root: Path | None = None) -> str:
    """A hash of the package's source and data files (less the modules named in ``skip``): any code change shows.

    The package version alone would not: an edited checkout keeps its version number.
    ``root`` is the package folder (default: this one).
    """
    h = hashlib.sha256()
    root = root or Path(__file__).resolve().parent
    for p in sorted([*root.glob("*.py"), *(root / "data").glob("*")]):
        if p.is_file() and not (p.suffix == ".py" and p.stem in skip):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def config_hash(gaz, lex) -> str:
    """Hash of everything besides the article that its frames depend on (the code of :data:`DOWNSTREAM_MODULES` aside)."""
    from .pipeline import inputs_hash

    code = code_fingerprint(DOWNSTREAM_MODULES)
    return hashlib.sha256(f"{CACHE_FORMAT}|{inputs_hash('per-article', gaz, lex)}|{code}".encode()).hexdigest()


def article_keys(docs: pd.DataFrame, cfg: str) -> list[str]:
    """One cache key per article: sha256 over its raw text, its manifest row and ``cfg``."""
    from json.encoder import encode_basestring  # what json.dumps(..., ensure_ascii=False) quotes strings with

    cols = sorted(c for c in docs.columns if c not in ("text_raw", "text"))
    heads = [f"{encode_basestring(c)}: " for c in cols]
    values = [[encode_basestring(v) for v in docs[c].astype(str).tolist()] for c in cols]
    keys = []
    for row in zip(*values):
        # json.dumps(record, sort_keys=True, ensure_ascii=False), written out (tested): 5x faster
        text = "{" + ", ".join(h + v for h, v in zip(heads, row)) + "}"
        keys.append(hashlib.sha256(f"{cfg}\x1f{text}".encode()).hexdigest())
    # sha256 (of the raw file) is one of the columns: the text is in the key
    return keys


MAX_STORES = 8  # per configuration: one per corpus folder analysed with this cache, the newest kept
SMALL_PART = 50  # a part of fewer articles is small (appending one article at a time makes one per run)
MAX_SMALL_PARTS = 8  # beyond this many small parts, each small part is merged with a neighbouring part (store_plan)


def _store_dir(cache_dir: str | os.PathLike[str], cfg: str, corpus: str) -> Path:
    where = hashlib.sha256(corpus.encode()).hexdigest()[:10]
    return Path(cache_dir) / f"store-{cfg[:20]}-{where}"


@dataclass
class Store:
    """The frames of the articles of one corpus folder's last run under one configuration.

    ``keys`` and ``doc_ids`` list those articles in order; the frames hold their rows. An
    article's key covers its text, its manifest row (so its doc_id) and the configuration,
    so an unchanged key means its rows can be reused as they are. On disk the rows are in
    parts, listed in ``layout`` as (segment, part number, number of articles): runs of
    consecutive articles, one file per frame and part (see :func:`_part_stem`), each written
    once and never changed. A first run writes each chunk of articles as a part of one
    segment as soon as it is analysed; a rerun writes its new parts as a new segment and
    keeps the others (see :func:`store_plan`, :func:`store_save`).
    """

    keys: list[str]
    doc_ids: list[str]
    frames: Result
    root: Path | None = None  # the folder it was read from
    layout: tuple[tuple[str, int, int], ...] = ()
    parts: dict[str, Any] = field(default_factory=dict, repr=False)  # part file stem -> its table, as opened


def _read_index(root: Path) -> dict | None:
    try:
        index = json.loads((root / "index.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return index if isinstance(index, dict) and index.get("format") == CACHE_FORMAT else None


def store_load(
    cache_dir: str | os.PathLike[str],
    cfg: str,
    corpus: str = "",
    keys: list[str] | None = None,
    opened: dict[str, Any] | None = None,
) -> Store | None:
    """The stored frames that serve this corpus best, or None (missing, unreadable: recompute).

    The store of the same corpus folder when there is one; otherwise (a copied or renamed
    folder, a first run) the store of this configuration sharing the most article keys.
    ``opened``: parts already open (a :attr:`Store.parts`), by file stem, not opened again.
    """
    own = _store_dir(cache_dir, cfg, corpus)
    candidates = [own] if (own / "index.json").is_file() else []
    if not candidates and keys:
        wanted, best, best_n = set(keys), None, 0
        for root in Path(cache_dir).glob(f"store-{cfg[:20]}-*"):
            index = _read_index(root)
            n = len(wanted.intersection(index["keys"])) if index else 0
            if n > best_n:
                best, best_n = root, n
        candidates = [best] if best is not None else []
    for root in candidates:
        index = _read_index(root)
        if index is None:
            return None
        try:
            return _store_read(root, index, opened)
        except Exception:  # a truncated or foreign file: recompute everything
            return None
    return None


def _layout(entries: Iterable) -> tuple[tuple[str, int, int], ...]:
    return tuple((str(seg), int(i), int(k)) for seg, i, k in entries)


def _store_read(root: Path, index: dict, opened: dict[str, Any] | None = None) -> Store:
    """The store in ``root`` described by its ``index``; raises on a missing, truncated or foreign file.

    Parts in ``opened`` (by file stem: the same file in another store folder, a part
    hard-linked from it) are used as they are instead of opened again (4,500 files at 100k articles: 1.1 s).
    ``index["previous"]``, when there, is the layout of the store this one was made from:
    its map files start this one's (see :func:`_frames_read`).
    """
    layout = _layout(index["layout"])
    if sum(k for _, _, k in layout) != len(index["keys"]):
        raise ValueError(f"{root}: the parts do not hold every article of the index")
    previous = _layout(index.get("previous") or ())
    parts = dict(opened or {})
    frames = {
        name: _frames_read(_part_stems(root, layout, name), parts, _part_stems(root, previous, name))
        for name in index["frames"]
    }
    return Store(list(index["keys"]), list(index["doc_ids"]), frames, root, layout, parts)


def _part_stem(folder: Path, seg: str, name: str, i: int) -> Path:
    """Where part ``i`` of segment ``seg`` keeps frame ``name`` (without its suffix, see :func:`_frame_file`)."""
    return folder / f"{seg}-{name}-{i:05d}"


def _part_stems(folder: Path, layout: Iterable[tuple[str, int, int]], name: str) -> list[Path]:
    """The parts of frame ``name`` in ``layout`` (segment, part, articles), in order: the frame is their concatenation."""
    return [_part_stem(folder, seg, name, i) for seg, i, _ in layout]


def _part_write(folder: Path, seg: str, i: int, frames: Result) -> None:
    """Write part ``i`` of segment ``seg``: one file per frame (see :func:`_frame_write`)."""
    for name, df in frames.items():
        _frame_write(df, _part_stem(folder, seg, name, i))


def _part_starts(layout: Iterable[tuple[str, int, int]]) -> list[int]:
    """Where each part of ``layout`` starts: the position of its first article in the store's keys."""
    starts, pos = [], 0
    for _, _, k in layout:
        starts.append(pos)
        pos += k
    return starts


NEW_SEGMENT = "new"  # in a layout given to store_save: a part written now, from new_parts


def store_save(
    cache_dir: str | os.PathLike[str],
    cfg: str,
    store: Store,
    corpus: str = "",
    base: Store | None = None,
    new_parts: list[Result] | None = None,
    written: tuple[Path, list[str]] | None = None,
) -> None:
    """Write this corpus folder's store atomically (a temporary folder renamed over the old one).

    ``written`` (folder, frame names) is a segment of every article of ``store``
    already written part by part into ``folder`` (by :func:`map_documents` as the chunks
    came in; ``store.layout`` lists its parts): its files are moved into the store.

    Otherwise ``store.layout`` says where each part comes from: a part of segment
    :data:`NEW_SEGMENT` numbered ``i`` is ``new_parts[i]``, written now as a part of a new
    segment; any other is a part of ``base`` (the store this run read), hard-linked from its
    folder (parts never change), so a rerun writes only the rows of the parts that changed.
    ``base``'s map files are linked too and its layout recorded as ``previous``: the new
    frames' maps start as copies of them (see :func:`_mapped_column`). ``store.frames`` is
    not read. Stores of other configurations are removed (they can never be hit again),
    and of this configuration only the :data:`MAX_STORES` newest are kept.
    """
    root = _store_dir(cache_dir, cfg, corpus)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        previous: tuple[tuple[str, int, int], ...] = ()
        if written is not None:
            folder, names = written
            for f in folder.iterdir():
                f.rename(tmp / f.name)
            layout = list(store.layout)
        else:
            assert base is not None and base.root is not None
            names = list(base.frames)
            segs = {seg for seg, _, _ in store.layout if seg != NEW_SEGMENT}
            seg = f"s{len(segs)}-{os.urandom(4).hex()}"
            layout = [(seg if s_ == NEW_SEGMENT else s_, i, k) for s_, i, k in store.layout]
            for name in names:
                for s_, i, _ in store.layout:
                    if s_ != NEW_SEGMENT:
                        src = _frame_file(_part_stem(base.root, s_, name, i))
                        _link_or_copy(src, tmp / src.name)
                # the map files of base's frame (if it was read): the new frame's maps start as copies of them
                for src in base.root.glob(f"{_map_name(_part_stems(base.root, base.layout, name))}.*.npy"):
                    _link_or_copy(src, tmp / src.name)
            for i, frames in enumerate(new_parts or []):
                _part_write(tmp, seg, i, frames)
            previous = base.layout
        index = {
            "format": CACHE_FORMAT,
            "frames": names,
            "layout": layout,
            "previous": previous,
            "keys": store.keys,
            "doc_ids": store.doc_ids,
        }
        (tmp / "index.json").write_text(json.dumps(index), encoding="utf-8")
        old = root.with_name(f".{root.name}.old.{os.getpid()}")
        if root.exists():
            root.rename(old)
        tmp.rename(root)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    same = []
    for other in root.parent.glob("store-*"):
        if not other.name.startswith(f"store-{cfg[:20]}-"):
            shutil.rmtree(other, ignore_errors=True)
        elif other != root:
            same.append(other)
    for other in sorted(same, key=lambda p: p.stat().st_mtime, reverse=True)[MAX_STORES - 1 :]:
        shutil.rmtree(other, ignore_errors=True)
    _sweep_temporary(root.parent)


def store_plan(base: Store, keys: list[str]) -> list[tuple[int, int] | list[int]]:
    """How the store of ``keys`` is made from ``base``: its parts in order, each a part of ``base`` or new.

    A part of ``base`` (given as (its number in ``base.layout``, the position of its first
    article in ``base.keys``)) is kept when its articles come next in ``keys``, all of them,
    in order. The articles between kept parts (added, edited, moved, or beside a removed
    one) make new parts (given as their positions in ``keys``) of at most
    :data:`CHUNK_SIZE` articles, cut evenly. Appending or inserting one article per run
    would leave a trail of one-article parts (each one file per frame to open on every
    run): beyond :data:`MAX_SMALL_PARTS` parts of fewer than :data:`SMALL_PART` articles,
    each small part is merged with the part before it (the first, with the one after), and
    those parts are written anew.
    """
    first = {  # key of a part's first article -> (part number, its position)
        base.keys[pos]: (j, pos) for j, pos in enumerate(_part_starts(base.layout)) if base.layout[j][2]
    }
    # (part of base or None for new articles, number of articles), in the order of ``keys``
    runs: list[tuple[tuple[int, int] | None, int]] = []
    i, n = 0, len(keys)
    while i < n:
        hit = first.get(keys[i])
        k = base.layout[hit[0]][2] if hit is not None else 0
        if hit is not None and keys[i : i + k] == base.keys[hit[1] : hit[1] + k]:
            runs.append((hit, k))
            i += k
        elif runs and runs[-1][0] is None:
            runs[-1] = (None, runs[-1][1] + 1)
            i += 1
        else:
            runs.append((None, 1))
            i += 1
    if sum(k < SMALL_PART for _, k in runs) > MAX_SMALL_PARTS:
        merged: list[tuple[tuple[int, int] | None, int]] = []
        for part, k in runs:
            if merged and (k < SMALL_PART or merged[-1][1] < SMALL_PART):
                merged[-1] = (None, merged[-1][1] + k)
            else:
                merged.append((part, k))
        runs = merged
    plan: list[tuple[int, int] | list[int]] = []
    i = 0
    for part, k in runs:
        if part is None:  # cut evenly: parts of at most CHUNK_SIZE articles, none much smaller than the others
            m = -(-k // CHUNK_SIZE)
            for t in range(m):
                size = k // m + (t < k % m)
                plan.append(list(range(i, i + size)))
                i += size
        else:
            plan.append(part)
            i += k
    return plan


STALE_TEMPORARY_S = 6 * 3600  # a temporary folder of the cache untouched this long belongs to a run that died


def _sweep_temporary(cache_dir: Path, now: float | None = None) -> list[Path]:
    """Remove the cache's temporary folders left by runs killed mid-way; return them.

    A run writes its store into ``.store-*`` / ``.segment-*`` folders and renames or
    removes them when it ends, even on an error; only a killed process leaves one. A
    folder's time changes with every file written into it, so one untouched for
    :data:`STALE_TEMPORARY_S` is not being written by a run still going.
    """
    now = time.time() if now is None else now
    gone = []
    for tmp in [*cache_dir.glob(".store-*"), *cache_dir.glob(".segment-*")]:
        try:
            stale = tmp.is_dir() and now - tmp.stat().st_mtime > STALE_TEMPORARY_S
        except OSError:  # removed meanwhile by its own run
            continue
        if stale:
            shutil.rmtree(tmp, ignore_errors=True)
            gone.append(tmp)
    return gone


def _frame_write(df: pd.DataFrame, stem: Path) -> None:
    """Write one stored frame as ``<stem>.arrow`` (Arrow IPC, uncompressed), or ``<stem>.pkl`` if Arrow cannot hold it.

    An IPC file is read back memory-mapped (:func:`_frames_read`): its text columns are used
    in place, not copied, so a rerun reads a large store in a fraction of a second and
    the stored rows stay in the page cache, which the system can reclaim, instead of
    the process's own memory. ``attrs`` go into the schema's metadata.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
        attrs = json.dumps(df.attrs)
    except (pa.ArrowException, TypeError, ValueError):  # mixed-type object columns, non-JSON attrs
        with stem.with_suffix(".pkl").open("wb") as fh:
            pickle.dump(df, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"mali_partners.attrs": attrs.encode()})
    with pa.OSFile(str(stem.with_suffix(".arrow")), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _frame_file(stem: Path) -> Path:
    """The file :func:`_frame_write` wrote for ``stem``: ``.arrow``, else ``.pkl``."""
    arrow = stem.with_suffix(".arrow")
    return arrow if arrow.is_file() else stem.with_suffix(".pkl")


def _frame_table(stem: Path):
    """The Arrow table of a frame written by :func:`_frame_write` (memory-mapped), or the frame itself if pickled."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    path = _frame_file(stem)
    if path.suffix == ".pkl":
        with path.open("rb") as fh:
            return pickle.load(fh)
    return ipc.open_file(pa.memory_map(str(path), "r")).read_all()


MAPPED_MIN_BYTES = 1 << 20  # a fixed-width column of a joined frame this large is read from a file map


def _numpy_types(table) -> dict[str, str]:
    """The numpy dtype pandas gives each column of a stored table (from its pandas metadata)."""
    meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    return {str(c.get("name")): str(c.get("numpy_type")) for c in meta.get("columns", [])}


def _map_name(stems: list[Path]) -> str:
    """The stem of the map files of the frame joined from ``stems``: named after its parts, which never change."""
    return "map-" + hashlib.sha256("\n".join(str(s.name) for s in stems).encode()).hexdigest()[:16]


def _npy_header(dtype, n: int) -> bytes:
    """The ``.npy`` (version 1.0) header of a one-dimensional array of ``n`` values of ``dtype``."""
    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (n,)}
    )
    return buf.getvalue()


def _npy_prefix(path: Path, dtype) -> tuple[int, int] | None:
    """(values, header bytes) of the one-dimensional ``.npy`` file ``path`` of ``dtype``; None if it is not one."""
    import numpy as np

    try:
        with path.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version != (1, 0):
                return None
            shape, fortran, dt = np.lib.format.read_array_header_1_0(fh)
            offset = fh.tell()
    except (OSError, ValueError):
        return None
    if len(shape) != 1 or fortran or dt != np.dtype(dtype) or path.stat().st_size != offset + shape[0] * dt.itemsize:
        return None
    return shape[0], offset


def _copy_range(src, dst, offset: int, count: int) -> None:
    """Copy ``count`` bytes of file ``src`` from ``offset`` to the end of file ``dst`` (in the kernel when it can)."""
    done = 0
    dst.flush()  # the bytes written through the file object go first
    try:
        while done < count:
            n = os.copy_file_range(src.fileno(), dst.fileno(), count - done, offset + done)
            if n == 0:
                raise OSError("source file ended early")
            done += n
        dst.seek(0, os.SEEK_END)
    except (OSError, AttributeError):  # no copy_file_range here (another OS, another file system): read and write
        src.seek(offset + done)
        dst.seek(0, os.SEEK_END)
        left = count - done
        while left:
            block = src.read(min(left, 1 << 24))
            if not block:
                raise OSError("source file ended early") from None
            dst.write(block)
            left -= len(block)


MAP_EXTEND = True  # a map whose predecessor holds exactly the rows both share is extended in place (see _map_extend)


def _map_extend(path: Path, column, dtype, prefix: Path, n: int, header_size: int) -> bool:
    """Make the map file ``path`` of ``column`` by appending to its predecessor ``prefix`` in place; True if done.

    ``prefix`` is a ``.npy`` file of ``dtype`` holding exactly the ``n`` values both share
    behind a header of ``header_size`` bytes (checked by :func:`_mapped_column`), so the new
    values follow its last one (articles added at the end). Done only when it is in the same
    folder and nothing else links to it (its store is gone, as when an analyst reruns the
    same corpus folder; a store still in use keeps its file, which is then copied as
    before). Adding one article to 100k articles then writes that article's values instead
    of copying 1.9 GB of maps. The predecessor is first renamed to a name of this process
    (another process extending it at the same time finds it gone and writes its own map),
    its new values appended, its ``.npy`` header rewritten with the new length (only when
    the header keeps its size), then renamed to ``path``. Other processes mapping the old
    file keep their values: no byte of them changes. Interrupted between the append and the
    header, the file's size no longer matches its header and :func:`_npy_prefix` rejects
    it; the map is then written from the parts.
    """
    if not MAP_EXTEND or prefix.parent != path.parent:
        return False
    header = _npy_header(dtype, len(column))
    if len(header) != header_size:
        return False
    claimed = path.with_name(f".{path.name}.{os.getpid()}.extend")
    try:
        if prefix.stat().st_nlink != 1:
            return False
        os.rename(prefix, claimed)
    except OSError:
        return False
    try:
        with claimed.open("r+b") as fh:
            fh.seek(0, os.SEEK_END)
            for chunk in column.slice(n).chunks:
                chunk.to_numpy(zero_copy_only=False).tofile(fh)
            fh.seek(0)
            fh.write(header)
        os.replace(claimed, path)
    except OSError:  # a full disk: the predecessor is spent; the map is written from the parts instead
        with contextlib.suppress(OSError):
            claimed.unlink()
        return False
    return True


def _same_values(prefix: Path, found: tuple[int, int], column, n: int, dtype) -> bool:
    """Whether the ``.npy`` file ``prefix`` (``found``: its values and header bytes) holds, past its first ``n``
    values, the bytes ``column`` has at the same rows: then the whole file is a prefix of the column's map.

    Parts named alike give ``n``; this is for parts with other names but the same rows, as when
    :func:`store_plan` merges the small parts that appending one article per run leaves (with
    the new article's part after them): there the map used to be copied whole, 1.9 GB at 100k
    articles, every ninth run. Compared part by part, it stops at the first that differs (an
    edited article shifts every row after it).
    """
    import numpy as np

    old = np.memmap(prefix, dtype=dtype, mode="r", offset=found[1], shape=(found[0],))
    pos = n  # the caller checked found[0] <= len(column): the slice has exactly the rows to compare
    for chunk in column.slice(n, found[0] - n).chunks:
        values = chunk.to_numpy(zero_copy_only=False)
        held = old[pos : pos + len(values)]
        if values.dtype != old.dtype or not np.array_equal(  # compared as bytes: NaN and NaT too
            np.ascontiguousarray(values).view(np.uint8), held.view(np.uint8)
        ):
            return False
        pos += len(values)
    return True


def _mapped_column(column, path: Path, prefixes: list[tuple[Path, int]] = ()):
    """A column of several chunks as one array mapped from the ``.npy`` file ``path``, written from them when missing.

    A fixed-width column joined from its parts is otherwise a copy in this process's own
    memory (numbers were a third of a large run's frames); mapped, its pages are the page
    cache's, shared by every process that maps the file (forked table jobs, notebook
    kernels) and reclaimable by the system. Copy-on-write: writing to the array changes
    the process's own copy of a page, never the file. The file belongs to its store
    folder, whose parts never change: written once (atomically), then reused.

    ``prefixes`` are map files of the frame this one was made from (the store before a
    rerun), with the number of leading values both share (the rows of the parts both start
    with): the map is that file extended in place when it can be (:func:`_map_extend`),
    else starts as a copy of those values, in the kernel, and only the others are
    written (a +1 run at 100k articles: 1.9 GB not written from the parts again). The
    predecessor's file, linked into this store folder for that (see :func:`store_save`),
    is then removed from it.
    """
    import numpy as np

    if not path.is_file():
        first = column.chunk(0).to_numpy(zero_copy_only=False)
        source = None  # the first predecessor holding the values both share: (file, values shared, header bytes)
        for prefix, n in prefixes:
            found = _npy_prefix(prefix, first.dtype)
            if found is not None and found[0] >= n and n <= len(column):
                if n < found[0] <= len(column) and _same_values(prefix, found, column, n, first.dtype):
                    n = found[0]  # its parts regrouped, not changed (small parts merged): it holds them all
                if found[0] == n and _map_extend(path, column, first.dtype, prefix, n, found[1]):
                    return np.load(path, mmap_mode="c").view(np.ndarray)
                if prefix.exists():  # not spent by a failed extension
                    source = (prefix, n, found[1])
                break
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as fh:
                fh.write(_npy_header(first.dtype, len(column)))
                start, used = 0, None
                if source is not None:
                    prefix, n, offset = source
                    with prefix.open("rb") as src:
                        _copy_range(src, fh, offset, n * first.dtype.itemsize)
                    start, used = n, prefix
                for chunk in column.slice(start).chunks:
                    chunk.to_numpy(zero_copy_only=False).tofile(fh)
            os.replace(tmp, path)
            if used is not None:  # the store that had those rows alone is gone: its map was linked here to be extended
                used.unlink(missing_ok=True)
        except OSError:  # a read-only or full cache: the column is joined in memory instead
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return None
    return np.load(path, mmap_mode="c").view(np.ndarray)


def _table_frame(table, mapped: Path | None = None, prefixes: list[tuple[Path, int]] = ()) -> pd.DataFrame:
    """A stored table as a frame: text columns use the table's memory in place; with ``mapped`` (a stem
    in the store folder), fixed-width columns of several chunks are mapped from files (:func:`_mapped_column`,
    which may start from the map files of ``prefixes``: (stem, rows) of frames joined from the first parts).
    """
    import pyarrow as pa

    types = _numpy_types(table) if mapped is not None else {}
    names = [
        f.name
        for f in table.schema
        if mapped is not None
        and table.column(f.name).num_chunks > 1
        and table.column(f.name).null_count == 0
        and (
            pa.types.is_integer(f.type)
            or pa.types.is_floating(f.type)
            or pa.types.is_boolean(f.type)
            or (pa.types.is_timestamp(f.type) and f.type.tz is None)
        )
        and table.column(f.name).nbytes >= MAPPED_MIN_BYTES
    ]
    if not names:
        df = table.to_pandas()
    else:
        rest = table.drop_columns(names).to_pandas()
        cols = {}
        for f in table.schema:
            if f.name in names:
                arr = _mapped_column(
                    table.column(f.name),
                    mapped.with_name(f"{mapped.name}.{f.name}.npy"),
                    [(p.with_name(f"{p.name}.{f.name}.npy"), n) for p, n in prefixes],
                )
                if arr is None or str(arr.dtype) != types.get(f.name):  # not written, or pandas makes another type
                    arr = table.select([f.name]).to_pandas()[f.name]
                cols[f.name] = arr
            else:
                cols[f.name] = rest[f.name]
        df = pd.DataFrame(cols, copy=False)
    df.attrs.update(json.loads((table.schema.metadata or {}).get(b"mali_partners.attrs", b"{}")))
    return df


def _columns_meta(table) -> str:
    """What of a stored table's schema metadata decides its pandas columns: all but the frame's attrs."""
    meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    meta.pop("attributes", None)
    return json.dumps(meta, sort_keys=True)


def _frames_read(
    stems: list[Path], opened: dict[str, Any] | None = None, previous: list[Path] | None = None
) -> pd.DataFrame:
    """The frames written at ``stems``, concatenated in order as :func:`_concat` concatenates frames.

    When every non-empty part has the same columns (Arrow types and pandas metadata; the
    usual case) the parts are joined as Arrow tables (no copy) and converted once:
    converting each of hundreds of parts cost ~2.5 ms apiece. Their attrs may differ (a
    segment added by a later run records that run's corpus version): the result keeps them
    only when all parts agree, as ``pd.concat`` does. Otherwise each part is converted
    and concatenated by pandas. ``opened`` (file stem -> table) supplies parts already
    open and receives those opened here. ``previous``: the parts of the frame this one was
    made from (the store before a rerun), whose map files, when in the folder, give this
    one's values for the parts both start with (see :func:`_mapped_column`).
    """
    import pyarrow as pa

    opened = {} if opened is None else opened  # reuse the parts already open, and keep those opened here
    for s in stems:
        if s.name not in opened:
            opened[s.name] = _frame_table(s)
    parts = [opened[s.name] for s in stems]
    keep = [t for t in parts if len(t)] or parts[:1]
    tables = all(isinstance(t, pa.Table) for t in keep)
    first = _columns_meta(keep[0]) if tables else ""
    if tables and all(t.schema.equals(keep[0].schema) and _columns_meta(t) == first for t in keep):
        # the map files of a column are named after the parts it joins (a store folder's parts never change)
        mapped = stems[0].parent / _map_name(stems) if len(keep) > 1 else None
        # those of the frame this one was made from: this one's start with their values for the parts both start with
        prefixes = []
        same = 0
        for a, b in zip(stems, previous or []):
            if a.name != b.name:
                break
            same += 1
        if mapped is not None and same and previous and len(previous) > 1:
            prefixes.append((stems[0].parent / _map_name(previous), sum(len(t) for t in parts[:same])))
        df = _table_frame(keep[0] if len(keep) == 1 else pa.concat_tables(keep), mapped, prefixes)
        attrs = [json.loads((t.schema.metadata or {}).get(b"mali_partners.attrs", b"{}")) for t in keep]
        if any(a != attrs[0] for a in attrs):  # as pd.concat: kept only when every part has the same
            df.attrs = {}
        return df
    frames = [t if isinstance(t, pd.DataFrame) else _table_frame(t) for t in keep]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


MEMO_KEEP = 4  # a memo folder keeps its results of this many runs' blocks (least recently used go first)


class BlockMemo:
    """Results of the corpus-level table jobs for blocks of articles, kept beside the per-article cache.

    The corpus-level tables are sums (or concatenations) over blocks of whole articles
    (:func:`pipeline.article_blocks`). A block's result depends only on its articles'
    frames and the job's parameters, so it is stored under a key over the block's
    article keys (:func:`article_keys`: text, manifest row, configuration and code) and the
    parameters. Block edges are drawn from the article keys (:func:`content_edges`), so
    adding or changing an article changes one block's key and the others are read back:
    adding one article to a large corpus recounts one block. A result that cannot be read
    is computed again. Each result is one file in ``<cache>/tables-<configuration>/<what>/``:
    a DataFrame as Arrow IPC compressed with zstd (a block of KWIC lines: 0.7 MB where a pickle
    took 15, and read back 50x faster), anything else (a :class:`collections.Counter` of
    counts, a block's :class:`frequency.BlockTerms`) as a pickle compressed with LZ4
    (``.pkl.lz4``: a block's term counts take 0.9 MB instead of 6, and decompress in 1 ms). The folders of other
    configurations are removed, since they can never be hit again.
    """

    def __init__(self, cache_dir: str | os.PathLike[str], cfg: str) -> None:
        self.cfg = cfg
        self.root = Path(cache_dir) / f"tables-{cfg[:20]}"
        self.hits = self.misses = 0
        self._bound: dict[str, Any] = {}

    def bind(self, owner: object, names: Iterable[str]) -> None:
        """Serve only these attributes of ``owner`` (the frames and gazetteer of one run), held by weak references."""
        import weakref

        self._bound = {name: weakref.ref(getattr(owner, name)) for name in names}

    def serves(self, owner: object, names: Iterable[str]) -> bool:
        """Whether each of these attributes of ``owner`` is the object the memo was bound to."""
        return all(name in self._bound and self._bound[name]() is getattr(owner, name) for name in names)

    def block_key(self, what: str, params: str, keys: list[str]) -> str:
        """The key of one block's result: the job, its parameters and the block's article keys, in order."""
        h = hashlib.sha256(f"{self.cfg}\x1f{what}\x1f{params}".encode())
        for k in keys:
            h.update(k.encode())
        return h.hexdigest()[:32]

    def get(self, what: str, key: str) -> Any | None:
        """The stored result, or None (missing or unreadable); a hit is marked as recently used."""
        path = self.root / what / f"{key}.arrow"
        try:
            if path.is_file():
                import pyarrow as pa

                with pa.memory_map(str(path)) as source:
                    value = pa.ipc.open_file(source).read_all().to_pandas()
            else:
                import pyarrow as pa

                path = path.with_suffix(".pkl.lz4")
                data = path.read_bytes()
                size = int.from_bytes(data[:8], "little")
                value = pickle.loads(pa.decompress(data[8:], size, codec="lz4", asbytes=True))
            os.utime(path)
        except Exception:  # missing, truncated or foreign: compute it again
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, what: str, key: str, value: Any) -> None:
        """Store a result atomically (a temporary file renamed); a full or read-only disk only loses the memo."""
        folder = self.root / what
        try:
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                for other in self.root.parent.glob("tables-*"):
                    if other != self.root:
                        shutil.rmtree(other, ignore_errors=True)
            suffix = ".arrow" if isinstance(value, pd.DataFrame) else ".pkl.lz4"
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    if suffix == ".arrow":
                        import pyarrow as pa

                        table = pa.Table.from_pandas(value, nthreads=1)
                        options = pa.ipc.IpcWriteOptions(compression="zstd")
                        with pa.ipc.new_file(f, table.schema, options=options) as writer:
                            writer.write_table(table)
                    else:
                        import pyarrow as pa

                        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
                        f.write(len(data).to_bytes(8, "little"))
                        f.write(pa.compress(data, codec="lz4", asbytes=True))
                os.replace(tmp, folder / f"{key}{suffix}")
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            return

    def sweep(self, what: str, used: set[str], now: float | None = None) -> list[Path]:
        """Remove results of ``what`` beyond :data:`MEMO_KEEP` times the ``used`` ones, least recently used first.

        Also removes temporary files older than :data:`STALE_TEMPORARY_S` (left by a killed run).
        Returns what it removed.
        """
        folder = self.root / what
        now = time.time() if now is None else now
        gone: list[Path] = []
        try:
            entries = [(p, p.stat().st_mtime) for p in folder.iterdir()]
        except OSError:
            return gone
        results = []
        for p, mtime in entries:
            if p.name.startswith(".tmp-"):
                if now - mtime > STALE_TEMPORARY_S:
                    gone.append(p)
            elif p.name.split(".")[0] not in used:
                results.append((mtime, p))
        keep_others = max(0, MEMO_KEEP * max(len(used), 1) - len(used))
        gone += [p for _, p in sorted(results, reverse=True)[keep_others:]]
        for p in gone:
            with contextlib.suppress(OSError):
                p.unlink()
        return gone


def content_edges(keys: list[str], size: int) -> list[int]:
    """Where each block of articles starts, drawn from the article keys: edges that move only where articles change.

    An article whose key, read as a number, is a multiple of ``size`` starts a block (so
    blocks hold ``size`` articles on average); a block reaching ``4 * size`` articles is
    cut there. Adding, removing or changing an article moves the edges around it only, so
    the other blocks keep their articles and their keys (see :class:`BlockMemo`).
    """
    size = max(1, size)
    edges: list[int] = []
    for i, k in enumerate(keys):
        if not edges or int(k[:15], 16) % size == 0 or i - edges[-1] >= 4 * size:
            edges.append(i)
    return edges


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link to an unchanging cache file (a copy where links are not possible)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


FILE_INDEX = "file-index.pkl"  # in the cache folder: what read_raw() need not read again (see corpus.FileFacts)


def file_index_load(cache_dir: str | os.PathLike[str]) -> corpus_mod.FileIndex:
    """The file index of the last run with this cache; empty when missing, unreadable or of another format."""
    try:
        with open(Path(cache_dir) / FILE_INDEX, "rb") as fh:
            fmt, index = pickle.load(fh)
    except Exception:  # missing, truncated or foreign: read every file
        return {}
    return index if fmt == corpus_mod.INDEX_FORMAT and isinstance(index, dict) else {}


def file_index_save(cache_dir: str | os.PathLike[str], index: corpus_mod.FileIndex) -> None:
    """Replace the file index (atomically: a run that dies leaves the old one or the new one)."""
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{FILE_INDEX}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((corpus_mod.INDEX_FORMAT, index), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache / FILE_INDEX)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def corpus_load_indexed(
    root: str | os.PathLike[str], cache_dir: str | os.PathLike[str], progress: bool | None = False
) -> tuple[pd.DataFrame, corpus_mod.FileIndex | None]:
    """:func:`corpus.corpus_load` reading only the files changed since the last run with this cache.

    The frame's ``text_raw`` is missing for the others (:func:`corpus.fill_texts` reads
    those that must be analysed). Also returns the index for the next run (only this
    corpus's files), or None when it is the stored one: the caller saves it
    (:func:`file_index_save`) once the run has succeeded, so a failed run leaves the cache as it was.
    """
    old = file_index_load(cache_dir)
    raw = corpus_mod.validate(root, index=old, progress=progress)
    new = raw.index()
    return corpus_mod.corpus_frame(raw), (None if new == old else new)


def cache_bytes(cache_dir: str | os.PathLike[str]) -> int:
    """The disk space the cache folder takes: its files' sizes, each file linked several times counted once.

    Shown after each run: the store is about 23 times the corpus (95 MB per 1,000
    articles of 4 KB), and stores of the same corpus share their parts by hard links.
    """
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [os.fspath(cache_dir)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:  # gone or unreadable meanwhile
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    if (st.st_dev, st.st_ino) not in seen:
                        seen.add((st.st_dev, st.st_ino))
                        total += st.st_size
            except OSError:
                continue
    return total


def default_cache_dir(corpus_dir: str | os.PathLike[str]) -> Path:
    """``$MALI_PARTNERS_CACHE``, else ``.mali_partners_cache/`` beside the corpus folder."""
    env = os.environ.get("MALI_PARTNERS_CACHE")
    if env:
        return Path(env)
    return Path(corpus_dir).resolve().parent / CACHE_DIR_NAME


# ----------------------------------------------------------------------------- engines


def _chunks(n: int, workers: int, size: int = CHUNK_SIZE) -> list[tuple[int, int]]:
    """Index ranges of about ``size`` articles, at least 4 per worker so none idles at the end."""
    size = max(1, min(size, math.ceil(n / (4 * max(workers, 1)))))
    return [(a, min(a + size, n)) for a in range(0, n, size)]


Sink = Callable[[int, Result], None]  # takes chunk j's frames as soon as they are computed


def _collect(slots: list[Result | None], sink: Sink | None, j: int, res: Result) -> None:
    """Chunk ``j``'s frames: handed to ``sink`` (which writes them; nothing is kept), else kept in ``slots``."""
    if sink is not None:
        sink(j, res)
    else:
        slots[j] = res


def _map_local(
    docs: pd.DataFrame,
    gaz,
    lex,
    workers: int,
    timed: bool,
    bar: Progress,
    timings: dict[str, float],
    segment: _PendingSegment | None = None,
) -> list[Result]:
    """The frames of every chunk of ``docs`` in order, or none when they go into ``segment`` (written by the workers)."""
    n = len(docs)
    sink = segment.add if segment is not None else None
    if workers <= 1 or n < PARALLEL_THRESHOLD:
        spans = _chunks(n, 1)
        slots: list[Result | None] = [None] * len(spans)
        for j, (a, b) in enumerate(spans):
            res, t = analyse_chunk(docs.iloc[a:b], gaz, lex, timed)
            _collect(slots, sink, j, res)
            del res
            _add(timings, t)
            bar.update(b - a)
        return [r for r in slots if r is not None]
    spans = _chunks(n, workers)
    slots = [None] * len(spans)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        if segment is not None:  # the workers write their chunks into the store: only the part numbers come back
            folder = str(segment.folder)
            futs = {
                pool.submit(analyse_chunk_part, docs.iloc[a:b], gaz, lex, timed, folder, segment.seg, j): (j, b - a)
                for j, (a, b) in enumerate(spans)
            }
        else:
            futs = {
                pool.submit(analyse_chunk, docs.iloc[a:b], gaz, lex, timed): (j, b - a)
                for j, (a, b) in enumerate(spans)
            }
        try:
            for fut in as_completed(futs):
                j, size = futs.pop(fut)  # as_completed lets go of each future it yields: so does this loop
                if segment is not None:
                    n_articles, names, t = fut.result()
                    segment.written(j, n_articles, names)
                else:
                    res, t = fut.result()
                    slots[j] = res
                    del res
                del fut
                _add(timings, t)
                bar.update(size)
        except BaseException:  # stop at the first error: the chunks not started are dropped, not all analysed first
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [r for r in slots if r is not None]


def _map_dask(
    docs: pd.DataFrame,
    gaz,
    lex,
    workers: int,
    scheduler: str | None,
    timed: bool,
    bar: Progress,
    timings: dict[str, float],
    sink: Sink | None = None,
) -> list[Result]:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_as_completed
    except ImportError as exc:  # pragma: no cover - dask is pinned
        raise InputError(
            [
                Problem(
                    "--engine dask",
                    f"dask.distributed is not installed ({exc})",
                    "pip install 'dask[distributed]' or use --engine local",
                )
            ],
            "engine",
        ) from exc
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
        spans = _chunks(len(docs), n_workers)
        gaz_f, lex_f = client.scatter([gaz, lex], broadcast=True)
        futs = [client.submit(analyse_chunk, docs.iloc[a:b], gaz_f, lex_f, timed, pure=False) for a, b in spans]
        where = {f.key: (j, b - a) for j, (f, (a, b)) in enumerate(zip(futs, spans))}
        slots: list[Result | None] = [None] * len(spans)
        for fut in dask_as_completed(futs):
            j, size = where[fut.key]
            res, t = fut.result()
            futs[j] = None  # the client lets go of the result once nothing refers to its future
            _collect(slots, sink, j, res)
            del res, fut
            _add(timings, t)
            bar.update(size)
        return [r for r in slots if r is not None]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _add(total: dict[str, float], part: dict[str, float]) -> None:
    for k, v in part.items():
        total[k] = total.get(k, 0.0) + v


def _concat(parts: list[Result], consume: bool = False) -> Result:
    """Concatenate frames part by part, in order (empty frames keep their columns).

    ``consume`` removes each frame from its part once concatenated, so the parts' memory
    is freed frame by frame instead of the whole corpus being held twice at the peak.
    """
    if len(parts) == 1:
        out = dict(parts[0])
        if consume:
            parts[0].clear()
        return out
    out = {}
    for name in list(parts[0]):
        frames = [p.pop(name) if consume else p[name] for p in parts]
        nonempty = [f for f in frames if len(f)] or frames[:1]
        del frames
        out[name] = pd.concat(nonempty, ignore_index=True)
        del nonempty
    return out


def map_documents(
    docs: pd.DataFrame,
    gaz,
    lex,
    engine: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    stats: dict[str, Any] | None = None,
) -> list[Result]:
    """The frames of :func:`pipeline.analyse_document` for every article: parts whose concatenation is in corpus order.

    ``engine`` is ``local`` (process pool, or a loop for small corpora) or ``dask``;
    ``workers`` defaults to the number of cores; ``scheduler`` is a Dask scheduler address
    (implies ``dask``). With ``cache_dir`` the rows of articles whose key (text, manifest
    row, configuration) is in the store of the last run are reused and only the others are
    analysed; the store is then saved for this corpus, writing only the parts that changed
    (see :func:`store_plan`). ``progress``: True/False forces
    the bar, None shows it on a terminal only. ``stats``, when given, is filled with
    ``n_articles``, ``n_cached``, ``n_analysed``, ``analysed_ids``, with a cache
    ``article_keys`` (which :func:`pipeline.run` takes out for its block memo) and, when
    ``stats["timed"]`` is set on entry, ``stage_seconds``.
    """
    if scheduler and engine == "local":
        engine = "dask"
    if engine not in ENGINES:
        raise InputError(
            [Problem("--engine", f"unknown engine {engine!r}", f"use one of: {', '.join(ENGINES)}")], "engine"
        )
    workers = int(workers) if workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise InputError(
            [Problem("--workers", f"workers must be at least 1 (got {workers})", "give a positive number")], "engine"
        )
    stats = {} if stats is None else stats
    timed = bool(stats.get("timed"))
    n = len(docs)
    doc_ids = [str(d) for d in docs["doc_id"].tolist()]
    cfg = config_hash(gaz, lex) if cache_dir is not None else ""
    keys = article_keys(docs, cfg) if cache_dir is not None else []
    corpus = str(Path(docs.attrs["corpus_dir"]).resolve()) if docs.attrs.get("corpus_dir") else ""
    store = store_load(cache_dir, cfg, corpus, keys) if cache_dir is not None else None
    stored = set(store.keys) if store is not None else set()
    todo = [i for i in range(n) if not keys or keys[i] not in stored]
    stats.update(n_articles=n, n_cached=n - len(todo), n_analysed=len(todo), analysed_ids=[doc_ids[i] for i in todo])
    if cache_dir is not None:
        stats["article_keys"] = keys  # pipeline.run keys its block memo with them (hashing twice: 0.15 s at 10k)
    timings: dict[str, float] = {}
    # a first run with a cache writes each chunk's frames into the new store as they come in:
    # the rows of the whole corpus are never all held in this process (see _first_run_store)
    streaming = cache_dir is not None and bool(todo) and len(todo) == n
    pending: _PendingSegment | None = _PendingSegment(Path(cache_dir)) if streaming else None  # type: ignore[arg-type]
    bar = Progress(n, progress_enabled(progress))
    bar.update(n - len(todo))
    try:
        fresh: list[Result] = []
        if todo:
            sub = corpus_mod.fill_texts(docs.iloc[todo])  # the texts a file index left unread (see read_raw)
            if engine == "dask":  # its workers need not share this disk: their frames come back and are written here
                sink = pending.add if pending is not None else None
                fresh = _map_dask(sub, gaz, lex, workers, scheduler, timed, bar, timings, sink)
            else:
                fresh = _map_local(sub, gaz, lex, workers, timed, bar, timings, pending)
    except BaseException:
        if pending is not None:
            pending.discard()
        raise
    finally:
        bar.close()
    if timed:
        stats["stage_seconds"] = timings
    if cache_dir is None:
        return fresh
    if pending is not None:
        return [_first_run_store(cache_dir, cfg, Store(keys, doc_ids, {}), corpus, pending)]
    if store is None:  # pragma: no cover - without a store every article is to do, and that streams (above)
        return [_concat(fresh, consume=True)]
    root = _store_dir(cache_dir, cfg, corpus)
    if not todo and store.keys == keys and store.root == root:
        return [store.frames]
    # the store's parts whose articles are unchanged and in place are kept (hard-linked); the others are
    # written anew from the stored rows of their articles and the rows of the articles analysed now. Then the
    # store is read back mapped (its maps start as copies of the old ones, see _mapped_column): the rows of
    # the whole corpus are never joined in this process
    plan = store_plan(store, keys)
    added = _concat(fresh, consume=True) if fresh else None
    del fresh
    new_parts = _new_parts(store, plan, keys, doc_ids, todo, added)
    layout, n_new = [], 0
    for item in plan:
        if isinstance(item, list):
            layout.append((NEW_SEGMENT, n_new, len(item)))
            n_new += 1
        else:
            layout.append(store.layout[item[0]])
    store_save(cache_dir, cfg, Store(keys, doc_ids, {}, layout=tuple(layout)), corpus, base=store, new_parts=new_parts)
    del new_parts, added
    saved = store_load(cache_dir, cfg, corpus, opened=store.parts)
    if saved is None or saved.keys != keys:  # pragma: no cover - the store just written is unreadable
        raise OSError(f"the cache store {root} just written cannot be read; remove it and run again")
    return [saved.frames]


def _row_starts(df: pd.DataFrame, doc_ids: list[str]) -> Any:
    """Where the rows of each article of ``doc_ids`` start in ``df`` (whose rows are in that order), then its length.

    From the runs of equal ids (:func:`pipeline._article_runs`); an article with no rows gets an empty range.
    """
    import numpy as np

    from .pipeline import _article_runs

    counts = np.zeros(len(doc_ids), dtype=np.int64)
    rows, ids = _article_runs(df["doc_id"])
    where = pd.Index(doc_ids).get_indexer(ids.astype(str))
    if (where < 0).any() or (np.diff(where) <= 0).any():  # pragma: no cover - a part holds its articles, in order
        raise ValueError("rows of articles that are not the part's, or not in its order")
    counts[where] = np.diff(np.r_[rows, len(df)])
    return np.r_[0, np.cumsum(counts)]


def _new_parts(
    base: Store,
    plan: list[tuple[int, int] | list[int]],
    keys: list[str],
    doc_ids: list[str],
    todo: list[int],
    added: Result | None,
) -> list[Result]:
    """The frames of each new part of ``plan`` (see :func:`store_plan`), in order.

    An article's rows come from the part of ``base`` that holds it, or, for the articles at
    ``todo`` (positions in ``keys``), from ``added`` (their frames, in that order).
    Consecutive rows of one source are taken as one slice.
    """
    assert base.root is not None
    firsts = _part_starts(base.layout)
    stored = {  # key -> (part number in base.layout, position in the part)
        base.keys[pos + o]: (j, o) for j, ((_, _, k), pos) in enumerate(zip(base.layout, firsts)) for o in range(k)
    }
    fresh = {p: t for t, p in enumerate(todo)}
    names = list(base.frames)
    fresh_starts = {name: _row_starts(added[name], [doc_ids[p] for p in todo]) for name in names} if added else {}
    opened: dict[tuple[int, str], tuple[pd.DataFrame, Any]] = {}

    def part_rows(j: int, name: str) -> tuple[pd.DataFrame, Any]:
        if (j, name) not in opened:
            seg, i, k = base.layout[j]
            stem = _part_stem(base.root, seg, name, i)  # type: ignore[arg-type]
            table = base.parts.get(stem.name)
            if table is None:
                table = base.parts[stem.name] = _frame_table(stem)
            df = table if isinstance(table, pd.DataFrame) else _table_frame(table)
            opened[(j, name)] = (df, _row_starts(df, base.doc_ids[firsts[j] : firsts[j] + k]))
        return opened[(j, name)]

    out = []
    for item in plan:
        if not isinstance(item, list):
            continue
        frames = {}
        for name in names:
            slices: list[tuple[pd.DataFrame, int, int]] = []
            for p in item:
                if p in fresh:
                    assert added is not None
                    df, starts, o = added[name], fresh_starts[name], fresh[p]
                else:
                    j, o = stored[keys[p]]
                    df, starts = part_rows(j, name)
                a, b = int(starts[o]), int(starts[o + 1])
                if slices and slices[-1][0] is df and slices[-1][2] == a:
                    slices[-1] = (df, slices[-1][1], b)
                else:
                    slices.append((df, a, b))
            chunks = [df.iloc[a:b] for df, a, b in slices]
            nonempty = [c for c in chunks if len(c)] or chunks[:1]
            frames[name] = (
                pd.concat(nonempty, ignore_index=True) if len(nonempty) > 1 else nonempty[0].reset_index(drop=True)
            )
        out.append(frames)
    return out


# a first run hands each part it wrote to a thread that waits for the disk to have it (fdatasync), so the store
# is on disk by the end of the per-article step instead of still waiting in memory when the tables are written
STORE_FLUSH = True


def _flush_files(paths: list[Path], drop: bool = False) -> None:
    """Wait until the disk holds these files' data (they stay in the page cache, now clean); a file gone is skipped.

    With ``drop``, their pages then leave the page cache (``POSIX_FADV_DONTNEED``, where there is one).
    """
    sync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # moved or removed meanwhile (the store saved, or the run failed)
            continue
        try:
            sync(fd)
            if drop and hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


class _PendingSegment:
    """A store segment being written part by part, in a temporary folder of the cache, as chunks finish."""

    def __init__(self, cache_dir: Path) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix=".segment-", dir=cache_dir))
        self.seg = f"s0-{os.urandom(4).hex()}"
        self.articles: dict[int, int] = {}  # part -> its number of articles
        self.names: list[str] = []
        self.flusher = None

    def add(self, j: int, frames: Result) -> None:
        """Write chunk ``j`` (chunks arrive in any order; part ``j`` is chunk ``j``)."""
        _part_write(self.folder, self.seg, j, frames)
        self.written(j, len(frames["docs"]), list(frames))  # one row per article

    def written(self, j: int, n_articles: int, names: list[str]) -> None:
        """Record part ``j``, written here (:meth:`add`) or by a worker (:func:`analyse_chunk_part`); queue its flush."""
        self.articles[j] = n_articles
        self.names = self.names or names
        if STORE_FLUSH:
            from concurrent.futures import ThreadPoolExecutor

            if self.flusher is None:
                self.flusher = ThreadPoolExecutor(1, thread_name_prefix="store-flush")
            self.flusher.submit(_flush_files, [_frame_file(_part_stem(self.folder, self.seg, n, j)) for n in names])

    def layout(self) -> tuple[tuple[str, int, int], ...]:
        """The parts written, in order (see :attr:`Store.layout`)."""
        return tuple((self.seg, j, self.articles[j]) for j in sorted(self.articles))

    def discard(self) -> None:
        if self.flusher is not None:  # the parts not yet flushed are moved or removed: their flushes are dropped
            self.flusher.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def _first_run_store(
    cache_dir: str | os.PathLike[str], cfg: str, store: Store, corpus: str, pending: _PendingSegment
) -> Result:
    """Save the segment written as the chunks came in as this corpus's store; return its frames, memory-mapped.

    Reading the parts back and concatenating them is what :func:`_concat` does with the
    chunks in memory, part for chunk (each frame survives its file exactly), so the frames
    are those of a run without the cache (tested).
    """
    try:
        store.layout = pending.layout()
        store_save(cache_dir, cfg, store, corpus, written=(pending.folder, pending.names))
    finally:
        pending.discard()
    root = _store_dir(cache_dir, cfg, corpus)
    index = _read_index(root)
    if index is None:  # pragma: no cover - it was written a moment ago
        raise OSError(f"the cache store {root} just written cannot be read; remove it and run again")
    return _store_read(root, index).frames


# ----------------------------------------------------------------------------- --skip-invalid

_LINE = re.compile(r"^line (\d+)\b")


def corpus_load_valid(
    root: str | os.PathLike[str], progress: bool | None = False
) -> tuple[pd.DataFrame, list[Problem]]:
    """The corpus frame of the articles without problems, and the problems of the others.

    A problem with a text file (not UTF-8, empty, a duplicate) or with a manifest row
    (a missing file, a bad date, a repeated id) drops that article. Problems that leave
    nothing to trust (no readable manifest, a bad header) still raise :class:`InputError`,
    as does a corpus with no valid article left.
    """
    raw = corpus_mod.read_raw(root, progress=progress)
    problems = corpus_mod.check(raw)
    if not problems:
        return corpus_mod.corpus_frame(raw), []
    mname = str(raw.root / corpus_mod.MANIFEST)
    fatal = [p for p in problems if p in raw.problems or (p.file == mname and _line_of(p) in (None, 1))]
    if fatal:
        raise InputError(problems, f"corpus {raw.root} (these problems cannot be skipped)")
    bad_lines = {_line_of(p) for p in problems if p.file == mname}
    bad_files = {Path(p.file).name for p in problems if p.file != mname}
    rows = [(ln, r) for ln, r in raw.rows if ln not in bad_lines and r.get("file") not in bad_files]
    keep = {r["file"] for _, r in rows}
    sub = corpus_mod.RawCorpus(raw.root, raw.header, rows, {f: d for f, d in raw.files.items() if f in keep})
    left = corpus_mod.check(sub)
    if left:  # pragma: no cover - dropping rows should not create problems
        raise InputError(problems + left, f"corpus {raw.root}")
    if not rows:
        raise InputError(problems, f"corpus {raw.root} (no valid article left to analyse)")
    return corpus_mod.corpus_frame(sub), problems


def _line_of(p: Problem) -> int | None:
    m = _LINE.match(p.where or "")
    return int(m[1]) if m else None


def skipped_files(problems: Iterable[Problem]) -> list[str]:
    """One line per skipped problem, for the command line."""
    return [str(p).replace("\n", " ") for p in problems]
