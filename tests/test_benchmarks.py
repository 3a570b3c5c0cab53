"""The benchmark harness (issue 9) runs end to end on a tiny corpus: it is what `make bench` reports from."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mali_partners.pipeline import TABLES

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not of the package
    sys.path.insert(0, str(ROOT))


@pytest.fixture()
def bench(tmp_path, monkeypatch):
    """benchmarks.run with its corpora, results and README in a temporary folder."""
    from benchmarks import generate as gen
    from benchmarks import run

    monkeypatch.setattr(gen, "CORPORA", tmp_path / "corpora")
    monkeypatch.setattr(run, "CORPORA", tmp_path / "corpora")
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\n{run.MARK_BEGIN}\nold table\n{run.MARK_END}\n\nafter\n", encoding="utf-8")
    monkeypatch.setattr(run, "README", readme)
    return run


def test_harness_times_every_stage_and_checks_the_incremental_run(bench, tmp_path, monkeypatch):
    splits = []  # the full run's frames are split by article once, for the seven reference checks
    real_split = bench.article_frames
    monkeypatch.setattr(bench, "article_frames", lambda previous: splits.append(1) or real_split(previous))
    replaced = []  # each command run replaces the output of the run before it, as an analyst's rerun does
    real_run = bench.subprocess.run

    def command(argv, **kw):
        if "analyse" in argv:
            out = Path(argv[argv.index("--out") + 1])
            replaced.append(sorted(p.name for p in out.glob("*.csv")) == sorted(f"{t}.csv" for t in TABLES))
        return real_run(argv, **kw)

    monkeypatch.setattr(bench.subprocess, "run", command)
    assert bench.main(["--sizes", "60", "--workers", "2"]) == 0
    assert splits == [1]
    assert replaced == [True, True, True, True]
    res = json.loads((tmp_path / "results" / "bench-60.json").read_text(encoding="utf-8"))
    full, inc = res["full"], res["incremental"]
    assert full["n_analysed"] == 60 and full["n_cached"] == 0
    assert (
        inc["n_analysed"] == 1 and inc["n_cached"] == 60 and inc["tables_identical"] and inc["tables_differing"] == []
    )
    runs = inc["runs"]  # three articles into the same folder, each run reading the store the run before wrote
    assert [r["article"] for r in runs] == [60, 61, 62] and runs[0]["total_s"] == inc["total_s"]
    assert [(r["n_analysed"], r["n_cached"], r["tables_identical"]) for r in runs] == [
        (1, 60, True),
        (1, 61, True),
        (1, 62, True),
    ]
    assert inc["median_total_s"] == sorted(r["total_s"] for r in runs)[1]
    assert inc["median_analysis_s"] == sorted(r["analysis_s"] for r in runs)[1]
    assert inc["next"] == runs[1]
    commands = inc["command_runs"]  # then three more through `mali-partners analyse`, in a new process each
    assert [(r["article"], r["tables_identical"]) for r in commands] == [(63, True), (64, True), (65, True)]
    edit = inc["edit_command"]  # then an article in the middle edited: its store part rewritten, the tables equal
    assert (edit["article_id"], edit["position"], edit["tables_identical"]) == ("000030", 30, True)
    assert edit["total_s"] > 0
    assert inc["command_median_s"] == sorted(r["total_s"] for r in commands)[1] > 0
    for run in (full, *runs):
        stages = run["stages_s"]
        assert {"load_validate", "write", *bench.PER_ARTICLE, *bench.TABLE_STAGES} <= set(stages)
        assert all(v >= 0 for v in stages.values())
        assert sum(stages.values()) == pytest.approx(run["total_s"], rel=1e-6)  # the stages account for all the time
        # this run's CPU and faults, not this process's since it started: at most every core for the whole run
        used = run["os"]
        assert used["user_s"] > 0 and used["system_s"] >= 0 and used["minor_faults"] > 0
        assert used["user_s"] + used["system_s"] <= run["total_s"] * 3 * 1.1 + 0.5  # main process + 2 workers
    if sys.platform.startswith("linux"):  # what the kernel says of this process now (PR_GET_THP_DISABLE)
        import ctypes

        off = ctypes.CDLL(None).prctl(42, 0, 0, 0, 0) == 1
        assert res["machine"]["transparent_huge_pages"] == ("off" if off else "as the system has them")
    assert res["corpus"]["articles"] == 60 and res["corpus"]["bytes"] > 60 * 1000
    assert res["baselines_s"]["regex_floor"] > 0 and res["ratio_to_regex_floor"] > 1
    assert res["peak_rss_mb"]["main"] > 0
    assert res["system_peak_mb"] >= res["peak_rss_mb"]["main"] * 0.5  # this process at least, give or take sampling
    # per stage: MB/s from the corpus bytes and the stage's seconds; the peak memory of each phase, sampled as it
    # starts and ends, so each phase has one however short, and none above the run's peak
    assert full["stages_mb_s"]["relations"] == pytest.approx(
        res["corpus"]["bytes"] / 1e6 / full["stages_s"]["relations"]
    )
    peaks = full["phase_peak_mb"]
    assert set(peaks) == set(bench.PHASES.values())
    assert all(0 < v <= res["system_peak_mb"] for v in peaks.values())
    assert full["phases_s"]["per_article"][0][0] >= full["phases_s"]["run"][0][0] == 0
    assert all("phase_peak_mb" not in r for r in runs)  # the +1 runs are not sampled
    assert (tmp_path / "results" / "bench.png").stat().st_size > 10_000
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "old table" not in text and "| 60 |" in text and text.endswith("after\n")
    # which per-article modules ran compiled, in the JSON and on the results' machine line
    from mali_partners import speedups

    compiled = res["machine"]["compiled_modules"]
    assert set(compiled) <= set(speedups.MODULES) and bench._compiled_note(compiled) in text
    assert bench._compiled_note(None) == ""  # runs before session 24 did not record it
    assert bench._compiled_note([]) == "; per-article modules run as Python"
    assert bench._compiled_note(list(speedups.MODULES)) == "; per-article modules compiled (Cython)"
    assert bench._compiled_note(["text"]) == "; compiled: text"
    each = ", ".join(f"{r['total_s']:.1f}" for r in runs)
    median = f"{inc['median_total_s']:.1f} / {inc['median_analysis_s']:.1f} ({each}); command {inc['command_median_s']:.1f}; edit {edit['total_s']:.1f} | yes |"
    assert median in text
    relations = f"| relations | per_article | {full['stages_s']['relations']:.2f} / {full['stages_mb_s']['relations']:.1f} / {peaks['per_article']:.0f} |"
    assert relations in text
    assert not list((tmp_path / "corpora").glob(".tables-*")) and not (tmp_path / "corpora" / "60-plus1").exists()


def test_memory_estimate_uses_the_same_size_else_extrapolates(bench, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    assert bench.memory_needed_mb(1000) is None
    for size, main in ((1000, 200.0), (10000, 1500.0)):
        res = {"size": size, "workers": 2, "peak_rss_mb": {"main": main, "worker": 100.0}}
        (results / f"bench-{size}.json").write_text(json.dumps(res), encoding="utf-8")
    assert bench.memory_needed_mb(10000) == 1500 + 2 * 100  # measured at that size
    assert bench.memory_needed_mb(5000) == 200 * 5 + 2 * 100  # from 1,000: the largest size below
    assert bench.memory_needed_mb(100000) == 1500 * 10 + 2 * 100
    res = {"size": 10000, "workers": 2, "peak_rss_mb": {"main": 1500.0, "worker": 100.0}, "system_peak_mb": 1800.0}
    (results / "bench-10000.json").write_text(json.dumps(res), encoding="utf-8")
    assert bench.memory_needed_mb(100000) == 18000  # the system-wide measure, when recorded, wins


def test_tables_equal_names_the_table_whose_file_differs(bench, tmp_path):
    from mali_partners.pipeline import TABLES

    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        for name in TABLES:
            (folder / f"{name}.csv").write_text("x\n1\n", encoding="utf-8")
            (folder / f"{name}.parquet").write_bytes(b"PAR1")
    assert bench.tables_equal(a, b) == []
    (b / "kwic.parquet").write_bytes(b"PAR2")
    (b / "events.csv").unlink()
    assert sorted(bench.tables_equal(a, b)) == ["events", "kwic"]


def test_regex_floor_is_the_best_of_its_runs(monkeypatch):
    from benchmarks import run

    texts = ["Bamako and Paris, Moscow and Niamey."] * 50
    runs: list[float] = []
    base = run.baselines(texts, runs)
    assert len(runs) == run.FLOOR_REPEATS and base["regex_floor"] == min(runs)
    monkeypatch.setattr(run, "FLOOR_BUDGET_S", 0.0)  # no time for a second run: one run only
    assert len(run.regex_floor_runs(texts)) == 1


def test_edit_article_replaces_the_file_and_leaves_a_hard_linked_original_alone(bench, tmp_path):
    from benchmarks import generate as gen

    base = gen.generate(5, tmp_path / "corpora" / "5")
    before = {p.name: p.read_bytes() for p in base.glob("*.txt")}
    copy = bench.plus_one(base, 5)  # hard links to base's files, and article 5 added
    doc_id = gen.edit_article(copy, 2)
    assert doc_id == "000002"
    assert {p.name: p.read_bytes() for p in base.glob("*.txt")} == before  # the original corpus is untouched
    edited = next(copy.glob("000002_*.txt"))
    original = before[edited.name]
    assert edited.read_bytes().startswith(original) and len(edited.read_bytes()) > len(original)
    assert edited.stat().st_nlink == 1 and not list(copy.glob(".*"))  # replaced, no temporary file left


def test_phase_peaks_take_the_largest_sample_within_each_phase():
    from benchmarks.run import phase_peaks

    samples = [(0.0, 100.0), (1.0, 250.0), (2.0, 180.0), (3.0, 400.0), (4.0, 120.0), (6.0, 90.0)]
    windows = {
        "load": [(0.0, 1.0)],  # both edges count
        "step": [(1.5, 2.5), (3.5, 4.0)],  # a phase run twice: 180 in the first, 120 in the second
        "short": [(4.2, 4.4)],  # no sample in it
        "all": [(0.0, 6.0)],
    }
    assert phase_peaks(samples, windows) == {"load": 250.0, "step": 180.0, "short": None, "all": 400.0}
    assert phase_peaks([], {"load": [(0.0, 1.0)]}) == {"load": None}


def test_system_memory_marks_a_sample_at_each_call_and_its_peak_is_the_largest():
    from benchmarks import run

    used: dict = {}
    with run.system_memory(used, every=60.0):  # the sampling thread takes none within the block
        used["mark"]()
        used["mark"]()
        inside = list(used["samples"])
    if not inside:  # no /proc/meminfo: nothing sampled
        pytest.skip("no MemAvailable on this system")
    assert len(inside) == 3  # the start and the two marks
    assert "mark" not in used and len(used["samples"]) == 4  # and the end
    assert used["mb"] == max(mb for _, mb in used["samples"])
    times = [t for t, _ in used["samples"]]
    assert times == sorted(times)


def test_stage_table_gives_seconds_throughput_and_the_peak_of_each_stage_phase():
    from benchmarks.run import stage_markdown

    def result(size: int, mb: float, stages: dict, peaks: dict | None) -> dict:
        full = {"stages_s": stages, **({"phase_peak_mb": peaks} if peaks is not None else {})}
        return {"size": size, "corpus": {"bytes": mb * 1e6}, "full": full}

    results = [
        result(
            10000, 40.0, {"load_validate": 2.0, "relations": 8.0, "write": 0.5, "combine": 0.0, "rows": 0.004}, None
        ),
        result(
            1000,
            4.0,
            {"load_validate": 0.5, "relations": 1.0, "write": 0.0, "combine": 0.0},
            {"per_article": 300.4, "load_validate": 120.0, "tables": 250.0, "combine": -448.6},
        ),
    ]
    text = stage_markdown(results)
    lines = text.splitlines()
    assert lines[2] == "| stage | phase | 1,000: s / MB/s / peak MB | 10,000: s / MB/s / peak MB |"  # sizes in order
    assert "| load_validate | load_validate | 0.50 / 8.0 / 120 | 2.00 / 20.0 / - |" in lines  # 4 MB / 0.5 s; no peaks
    assert "| relations | per_article | 1.00 / 4.0 / 300 | 8.00 / 5.0 / - |" in lines
    assert "| write | tables | 0.00 / - / 250 | 0.50 / 80.0 / - |" in lines  # no seconds: no MB/s
    assert "| rows | tables | 0.00 / - / 250 | 0.00 / - / - |" in lines  # under 0.005 s: no MB/s
    assert not [line for line in lines if line.startswith("| combine ")]  # 0 s at every size: left out
    results[1]["full"]["stages_s"]["combine"] = 0.01
    lines = stage_markdown(results).splitlines()
    assert "| combine | combine | 0.01 / 400.0 / - | 0.00 / - / - |" in lines  # a negative peak is no figure
