"""Charts: matplotlib figures in one house style, each drawn from one tidy table.

Every ``textplot_*`` function takes a frame returned by an analysis function and
returns a :class:`matplotlib.figure.Figure`; none computes statistics. Colours come
from the Okabe-Ito palette (safe for the common colour-vision deficiencies), France
is always blue and Russia always vermillion, axes say their units.
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

OKABE_ITO = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "green": "#009E73",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#999999",
}
PARTNER_COLOURS = {
    "France": OKABE_ITO["blue"],
    "Russia": OKABE_ITO["vermillion"],
    "EU": OKABE_ITO["sky"],
    "ECOWAS": OKABE_ITO["green"],
    "AES": OKABE_ITO["orange"],
    "the West": OKABE_ITO["purple"],
}
# Diverging map from vermillion (conflict / Russia side) through white to blue
DIVERGING = LinearSegmentedColormap.from_list("okabe_div", [OKABE_ITO["vermillion"], "#f7f7f7", OKABE_ITO["blue"]])
SEQUENTIAL = LinearSegmentedColormap.from_list("okabe_seq", ["#f7f7f7", OKABE_ITO["sky"], OKABE_ITO["blue"]])

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e5e5",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "font.family": "DejaVu Sans",
}


@contextmanager
def house_style():
    """Apply the house style for the figures made inside the block.

    Figures are closed in pyplot on the way out: a notebook shows the returned figure
    once (as the cell's value), never a second copy from pyplot's own list.
    """
    before = set(plt.get_fignums())
    with plt.rc_context(STYLE):
        yield
    for num in set(plt.get_fignums()) - before:
        plt.close(num)


def colour(partner: str, i: int = 0) -> str:
    """The partner's fixed colour, else a palette colour by position."""
    others = [OKABE_ITO[k] for k in ("green", "orange", "purple", "sky", "grey", "black")]
    return PARTNER_COLOURS.get(partner, others[i % len(others)])


def _wrap(s: str, width: int = 28) -> str:
    return "\n".join(textwrap.wrap(str(s), width)) or str(s)


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=OKABE_ITO["grey"])
    ax.set_axis_off()


PER_ARTICLE_MAX = 40  # above this many articles, charts of one row per article show counts per period instead
PERIOD_HEATMAP_PARTNERS = 15  # partners (beside Mali) in the per-period heatmap of a large corpus: a page's width


def textplot_publication_timeline(docs: pd.DataFrame, max_articles: int = PER_ARTICLE_MAX) -> Figure:
    """Each article's publication date as an interval (bar) with its midpoint, one row per article.

    A corpus of more than ``max_articles`` articles is drawn as
    :func:`textplot_publication_counts` of :func:`~mali_partners.corpus.publication_counts`
    instead: one row per article would be taller than a page (and than matplotlib's limit).
    """
    if len(docs) > max_articles:
        from .corpus import publication_counts

        return textplot_publication_counts(publication_counts(docs))
    with house_style():
        d = docs.sort_values("date_mid").reset_index(drop=True)
        fig, ax = plt.subplots(figsize=(9, 0.55 * len(d) + 1.4))
        for i, r in d.iterrows():
            lo, hi = mdates.date2num(r["date_earliest"]), mdates.date2num(r["date_latest"])
            ax.plot([lo, hi], [i, i], lw=7, color=OKABE_ITO["sky"], solid_capstyle="butt", alpha=0.9)
            ax.plot(mdates.date2num(r["date_mid"]), i, "o", color=OKABE_ITO["blue"], ms=5)
        ax.set_yticks(range(len(d)), [f"{a} · {_wrap(t, 40).splitlines()[0]}" for a, t in zip(d["doc_id"], d["title"])])
        ax.invert_yaxis()
        ax.xaxis_date()
        loc = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
        ax.set_xlabel("publication date (bar: possible interval; dot: midpoint)")
        ax.set_title("When the articles were published")
        ax.grid(axis="y", visible=False)
        fig.tight_layout()
        return fig


PRECISION_COLOURS = {
    "day": OKABE_ITO["blue"],
    "month": OKABE_ITO["sky"],
    "year": OKABE_ITO["orange"],
    "range": OKABE_ITO["grey"],
}


def textplot_publication_counts(counts: pd.DataFrame) -> Figure:
    """Articles per publication period, stacked by how precisely each is dated (a table of
    :func:`~mali_partners.corpus.publication_counts`)."""
    with house_style():
        fig, ax = plt.subplots(figsize=(9, 3.6))
        if counts.empty:
            _empty(ax, "no articles")
            return fig
        wide = counts.pivot(index="period_start", columns="date_precision", values="n_articles")
        unit = counts.attrs.get("period", "period")
        x = mdates.date2num(pd.DatetimeIndex(wide.index))
        steps = np.diff(x)
        days = {"month": 30.4, "quarter": 91.3, "year": 365.25}
        width = 0.85 * days.get(unit, steps.min() if len(steps) else 30.0)  # one period wide, also when there is one
        bottom = np.zeros(len(wide))
        for precision in [p for p in PRECISION_COLOURS if p in wide.columns]:
            v = wide[precision].to_numpy()
            ax.bar(
                x,
                v,
                width,
                bottom=bottom,
                align="edge",
                color=PRECISION_COLOURS[precision],
                label=f"dated to the {precision}" if precision != "range" else "dated by a range",
            )
            bottom += v
        ax.xaxis_date()
        loc = mdates.AutoDateLocator(maxticks=10)
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
        ax.set_ylabel(f"articles per {unit}")
        ax.set_xlabel("publication date (an article's midpoint when it is dated by a month, a year or a range)")
        ax.set_title(f"When the {int(counts['n_articles'].sum()):,} articles were published")
        ax.set_ylim(0, max(1.0, bottom.max()) * 1.18)  # headroom for the legend
        ax.legend(loc="upper left", fontsize=8, ncol=4)
        ax.grid(axis="x", visible=False)
        fig.tight_layout()
        return fig


def textplot_actor_counts(counts: pd.DataFrame, top: int = 15) -> Figure:
    """Horizontal bars: mentions per actor alone, and with its children as a lighter extension."""
    with house_style():
        d = counts[~counts["focal"]].head(top).iloc[::-1]
        fig, ax = plt.subplots(figsize=(8, 0.32 * len(d) + 1.4))
        y = np.arange(len(d))
        ax.barh(y, d["mentions_with_children"], color=OKABE_ITO["sky"], label="with children (e.g. France + Barkhane)")
        ax.barh(
            y,
            d["mentions"],
            color=[colour(a, i) if a in PARTNER_COLOURS else OKABE_ITO["grey"] for i, a in enumerate(d["actor"])],
            label="the actor itself",
        )
        for yy, n, nd in zip(y, d["mentions_with_children"], d["n_docs_with_children"]):
            ax.text(n + 0.3, yy, f"{n} ({nd} art.)", va="center", fontsize=8)
        ax.set_yticks(y, d["actor"])
        ax.set_xlabel("mentions in the corpus (articles in brackets)")
        ax.set_title("Who the coverage names (Mali itself left out)")
        ax.legend(loc="lower right")
        ax.grid(axis="y", visible=False)
        fig.tight_layout()
        return fig


def textplot_doc_actor_heatmap(matrix: pd.DataFrame, titles: dict[str, str] | None = None) -> Figure:
    """Articles x actors heatmap of mention counts, with the count in each cell."""
    with house_style():
        fig, ax = plt.subplots(figsize=(max(6, 0.55 * matrix.shape[1] + 2), 0.5 * matrix.shape[0] + 2))
        if matrix.empty:
            _empty(ax, "no mentions")
            return fig
        im = ax.imshow(matrix.to_numpy(), cmap=SEQUENTIAL, aspect="auto")
        ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=45, ha="right")
        labels = [f"{d} · {_wrap(titles[d], 30).splitlines()[0]}" if titles else d for d in matrix.index]
        ax.set_yticks(range(matrix.shape[0]), labels)
        vmax = matrix.to_numpy().max()
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                v = matrix.iat[i, j]
                if v:
                    ax.text(
                        j, i, str(v), ha="center", va="center", fontsize=8, color="white" if v > vmax * 0.6 else "black"
                    )
        ax.grid(False)
        fig.colorbar(im, ax=ax, label="mentions", shrink=0.8)
        ax.set_title("Which article names whom")
        fig.tight_layout()
        return fig


def textplot_period_actor_heatmap(shares: pd.DataFrame) -> Figure:
    """Periods x actors heatmap of the share of articles naming each actor (a table of
    :func:`~mali_partners.actors.actor_period_matrix`), with the percentage in each cell."""
    with house_style():
        fig, ax = plt.subplots(figsize=(max(6, 0.7 * shares.shape[1] + 2.5), 0.32 * shares.shape[0] + 2))
        if shares.empty:
            _empty(ax, "no mentions")
            return fig
        im = ax.imshow(shares.to_numpy() * 100, cmap=SEQUENTIAL, aspect="auto", vmin=0, vmax=100)
        ax.set_xticks(range(shares.shape[1]), shares.columns, rotation=45, ha="right")
        n = shares.attrs.get("n_articles") or [None] * shares.shape[0]
        ax.set_yticks(
            range(shares.shape[0]), [f"{p} ({k:,} art.)" if k is not None else str(p) for p, k in zip(shares.index, n)]
        )
        for i in range(shares.shape[0]):
            for j in range(shares.shape[1]):
                v = shares.iat[i, j] * 100
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white" if v > 60 else "black")
        ax.grid(False)
        fig.colorbar(im, ax=ax, label="% of the period's articles naming the actor", shrink=0.8)
        ax.set_title("Which share of the articles names whom")
        fig.tight_layout()
        return fig


def textplot_top_terms(freq: pd.DataFrame, top: int = 20) -> Figure:
    """Top terms by count, bars coloured by dispersion (Juilland's D) and labelled with article counts."""
    with house_style():
        d = freq.head(top).iloc[::-1]
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(d) + 1.6))
        cmap = SEQUENTIAL
        bars = ax.barh(
            range(len(d)), d["n"], color=[cmap(0.25 + 0.75 * (0 if np.isnan(x) else x)) for x in d["juilland_d"]]
        )
        for b, n, df_ in zip(bars, d["n"], d["doc_freq"]):
            ax.text(b.get_width() + 0.2, b.get_y() + b.get_height() / 2, f"{n} · {df_} art.", va="center", fontsize=8)
        ax.set_yticks(range(len(d)), d["surface"])
        ax.set_xlabel("occurrences (label: count · articles containing it)")
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
        fig.colorbar(sm, ax=ax, label="dispersion over articles (Juilland's D: 1 = even)", shrink=0.7)
        ax.set_title("Most frequent terms (stopwords removed)")
        ax.grid(axis="y", visible=False)
        fig.tight_layout()
        return fig


def textplot_keyness(key: pd.DataFrame, top: int = 12) -> Figure:
    """Diverging bars of signed G2: terms key for the target to the right, for the reference to the left."""
    with house_style():
        t, r = key.attrs.get("target", "target"), key.attrs.get("reference", "reference")
        a = key[key["key_for"] == t].head(top)
        b = key[key["key_for"] == r].sort_values("g2", ascending=False).head(top)
        d = pd.concat([a.assign(s=a["g2"]), b.assign(s=-b["g2"])]).sort_values("s")
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(d) + 1.8))
        if d.empty:
            _empty(ax, "no term reaches the minimum frequency")
            return fig
        cols = [colour(t) if s > 0 else colour(r) for s in d["s"]]
        ax.barh(range(len(d)), d["s"], color=cols)
        ax.set_yticks(
            range(len(d)), [f"{term} ({nt}:{nr})" for term, nt, nr in zip(d["term"], d["n_target"], d["n_reference"])]
        )
        ax.set_ylabel(f"term (count {t}:{r})")
        ax.axvline(0, color="black", lw=0.8)
        ax.axvline(3.84, color=OKABE_ITO["grey"], ls=":", lw=0.8)
        ax.axvline(-3.84, color=OKABE_ITO["grey"], ls=":", lw=0.8)
        ax.set_xlabel(f"log-likelihood G2 (← key near {r} · key near {t} →; dotted: p = 0.05)")
        ax.set_title(f"Key terms: sentences naming {t} vs {r}")
        ax.grid(axis="y", visible=False)
        fig.tight_layout()
        return fig


def textplot_cooccurrence_heatmap(matrix: pd.DataFrame, counts: pd.DataFrame | None = None, title: str = "") -> Figure:
    """Actor x actor heatmap of NPMI with the observed count written in each cell."""
    with house_style():
        fig, ax = plt.subplots(figsize=(0.6 * len(matrix) + 3, 0.55 * len(matrix) + 2))
        if matrix.empty:
            _empty(ax, "no pair co-occurs")
            return fig
        im = ax.imshow(matrix.to_numpy(dtype=float), cmap=DIVERGING, vmin=-1, vmax=1)
        ax.set_xticks(range(len(matrix)), matrix.columns, rotation=45, ha="right")
        ax.set_yticks(range(len(matrix)), matrix.index)
        if counts is not None:
            for i, a in enumerate(matrix.index):
                for j, b in enumerate(matrix.columns):
                    v = counts.loc[a, b] if a in counts.index and b in counts.columns else np.nan
                    if not np.isnan(v):
                        ax.text(j, i, f"{int(v)}", ha="center", va="center", fontsize=8)
        ax.grid(False)
        fig.colorbar(im, ax=ax, label="NPMI (−1 avoid · 0 chance · +1 always together)", shrink=0.8)
        ax.set_title(title or "Partners named together (cell: count)")
        fig.tight_layout()
        return fig


def textplot_cooccurrence_network(
    cooc: pd.DataFrame, level: str = "sentence", min_observed: int = 1, seed: int = 7
) -> Figure:
    """Network of partners: edge width by observed count, edge colour by NPMI, node size by degree."""
    with house_style():
        d = cooc[(cooc["level"] == level) & (cooc["observed"] >= min_observed)]
        fig, ax = plt.subplots(figsize=(8, 6))
        if d.empty:
            _empty(ax, "no pair co-occurs")
            return fig
        g = nx.Graph()
        for r in d.itertuples(index=False):
            g.add_edge(r.actor_a, r.actor_b, weight=r.observed, npmi=r.npmi)
        heaviest = max(g[u][v]["weight"] for u, v in g.edges)
        for u, v in g.edges:  # the layout pulls by the share of the largest count: raw counts of thousands crushed it
            g[u][v]["pull"] = g[u][v]["weight"] / heaviest
        pos = nx.spring_layout(g, seed=seed, weight="pull", k=1.2 / np.sqrt(len(g)))
        # relative to the largest count: absolute widths (1.6 pt per sentence) covered the figure at 10k articles
        widths = [0.8 + MAX_EDGE_WIDTH * g[u][v]["weight"] / heaviest for u, v in g.edges]
        ecol = [g[u][v]["npmi"] for u, v in g.edges]
        edges = nx.draw_networkx_edges(
            g, pos, ax=ax, width=widths, edge_color=ecol, edge_cmap=DIVERGING, edge_vmin=-1, edge_vmax=1, alpha=0.9
        )
        sizes = [250 + 120 * g.degree(n) for n in g.nodes]
        nx.draw_networkx_nodes(
            g, pos, ax=ax, node_size=sizes, node_color=[colour(n, i) for i, n in enumerate(g.nodes)], edgecolors="white"
        )
        nx.draw_networkx_labels(
            g, pos, ax=ax, font_size=9, bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1}
        )
        fig.colorbar(edges, ax=ax, label="NPMI", shrink=0.7)
        ax.set_title(f"Partners named in the same {level} (edge width: count, widest {int(heaviest):,})")
        ax.set_axis_off()
        fig.tight_layout()
        return fig


def textplot_collocates(coll: pd.DataFrame, actors: list[str], top: int = 10) -> Figure:
    """Side-by-side bars of each partner's top collocates by G2, with counts."""
    with house_style():
        fig, axes = plt.subplots(1, len(actors), figsize=(4.2 * len(actors), 0.3 * top + 1.8), squeeze=False)
        for i, (ax, a) in enumerate(zip(axes[0], actors)):
            d = coll[coll["actor"] == a].head(top).iloc[::-1]
            if d.empty:
                _empty(ax, f"no collocate of {a}")
                continue
            ax.barh(range(len(d)), d["g2"], color=colour(a, i))
            ax.set_yticks(range(len(d)), [f"{t} ({o})" for t, o in zip(d["term"], d["observed"])])
            ax.set_xlabel("G2 (count near the partner in brackets)")
            ax.set_title(f"Near {a}")
            ax.grid(axis="y", visible=False)
        fig.tight_layout()
        return fig


MAX_YEAR_TICKS = 16  # a year axis labels every 1, 2, 5, 10, ... years so that at most this many labels show
YEAR_STEPS = (1, 2, 5, 10, 20, 25, 50, 100)


def year_step(first: int, last: int, max_ticks: int = MAX_YEAR_TICKS) -> int:
    """The smallest of :data:`YEAR_STEPS` whose multiples between ``first`` and ``last`` are at most ``max_ticks``.

    A year axis labels the years that are multiples of the step (``YearLocator``).

    >>> year_step(2012, 2025), year_step(1950, 2030)
    (1, 10)
    """
    first, last = int(first), int(last)
    return next((s for s in YEAR_STEPS if last // s - -(-first // s) + 1 <= max_ticks), YEAR_STEPS[-1])


def _year_axis(ax) -> None:
    """Label a date axis by year, every :func:`year_step` years over its limits (one label per year
    overlapped from ~20 years on). Call it once everything is drawn."""
    lo, hi = (mdates.num2date(v).year for v in ax.get_xlim())
    ax.xaxis.set_major_locator(mdates.YearLocator(year_step(lo, hi)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))


def evidence_sizes(n: np.ndarray, largest: int) -> np.ndarray:
    """Marker areas for points backed by ``n`` scored sentences: 25 to 200 pt², by the square root of the share of ``largest``.

    Relative to the chart's largest count, so a point stays a point at any corpus size
    (a fixed area per sentence drew discs wider than the panel at 10k articles).
    """
    return 25 + 175 * np.sqrt(np.asarray(n, dtype=float) / max(int(largest), 1))


MAX_EVENT_MARKERS = 12  # the trajectory chart numbers at most this many events: the strongest (largest |score|)
MAX_POINT_LABELS = 12  # "n=" beside each point only for partners with at most this many scored years
MAX_EDGE_WIDTH = 7.2  # points: the widest edge of a co-occurrence network


def _runs(years: np.ndarray) -> list[np.ndarray]:
    """Index runs of consecutive years, so that lines break at periods with no data."""
    if not len(years):
        return []
    return np.split(np.arange(len(years)), np.where(np.diff(years) != 1)[0] + 1)


def textplot_trajectory(
    series: pd.DataFrame,
    events: pd.DataFrame | None = None,
    partners: list[str] | None = None,
    first_year: int | None = None,
) -> Figure:
    """Two panels on one time axis: salience (media attention) and mean relation score with CI bands.

    Points are sized by the evidence behind them; hollow points mark low evidence;
    periods without mentions are gaps (lines break there); dated events are numbered
    on the score panel (the events table lists them). Periods before ``first_year``
    (default: ten years before the first period with at least three mentions) are
    left off the axis and counted in a note.
    """
    with house_style():
        partners = partners or list(dict.fromkeys(series["partner"]))
        years_all = pd.to_datetime(series["period_start"]).dt.year
        if first_year is None:
            busy = series.loc[series["mentions"] >= 3, "period_start"]
            first_year = (pd.to_datetime(busy).dt.year.min() - 10) if len(busy) else int(years_all.min())
        hidden = series[years_all < first_year]
        series = series[years_all >= first_year]
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6.6), sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
        scored = series.dropna(subset=["score"])
        largest = int(scored["n_evidence"].max()) if len(scored) else 1
        unlabelled = False
        for i, p in enumerate(partners):
            d = series[series["partner"] == p].sort_values("period_start")
            if d.empty:
                continue
            c = colour(p, i)
            x = pd.to_datetime(d["period_start"]) + pd.Timedelta(days=182)
            for run in _runs(pd.to_datetime(d["period_start"]).dt.year.to_numpy()):
                ax1.plot(x.iloc[run], d["salience"].iloc[run], "-o", color=c, ms=5, label=p if run[0] == 0 else None)
            sc = d.dropna(subset=["score"])
            xs = pd.to_datetime(sc["period_start"]) + pd.Timedelta(days=182)
            for run in _runs(pd.to_datetime(sc["period_start"]).dt.year.to_numpy()):
                ax2.plot(xs.iloc[run], sc["score"].iloc[run], "-", color=c, lw=1.5)
                band = sc.iloc[run].dropna(subset=["ci_low", "ci_high"])
                if len(band) > 1:
                    ax2.fill_between(
                        pd.to_datetime(band["period_start"]) + pd.Timedelta(days=182),
                        band["ci_low"],
                        band["ci_high"],
                        color=c,
                        alpha=0.15,
                        lw=0,
                    )
                for r in band.itertuples(index=False):
                    xx = pd.to_datetime(r.period_start) + pd.Timedelta(days=182)
                    ax2.plot([xx, xx], [r.ci_low, r.ci_high], color=c, alpha=0.4, lw=3, solid_capstyle="butt")
            sizes = evidence_sizes(sc["n_evidence"].to_numpy(), largest)
            face = [c if not low else "white" for low in sc["low_evidence"]]
            ax2.scatter(xs, sc["score"], s=sizes, facecolors=face, edgecolors=c, linewidths=1.5, zorder=3, label=p)
            if len(sc) > MAX_POINT_LABELS:  # the labels would overlap: the trajectory table has the counts
                unlabelled = True
                continue
            for xx, yy, n in zip(xs, sc["score"], sc["n_evidence"]):
                ax2.annotate(
                    f"n={n:,}",
                    (xx, yy),
                    textcoords="offset points",
                    xytext=(7, -13 if p == "Russia" else 7),
                    fontsize=7,
                    color=c,
                )
        ax1.set_ylabel("salience\n(share of partner mentions)")
        ax1.set_ylim(0, 1.05)
        ax1.set_title("Media attention: share of all partner mentions")
        ax1.legend(loc="upper left", ncol=len(partners))
        ax2.axhline(0, color="black", lw=0.8)
        ax2.set_ylim(-1.2, 1.3)
        ax2.set_ylabel("relation score\n(−1 conflict · +1 cooperation)")
        ax2.set_title("Tone of the relation with Mali (mean per year, 95% bootstrap interval)")
        marked, n_events = _event_markers(events, partners, first_year)
        if len(marked):
            for r in marked.itertuples(index=False):
                c = colour(r.partner, partners.index(r.partner))
                ax2.axvline(r.date, color=c, lw=0.6, ls="--", alpha=0.5)
                ax2.annotate(
                    str(r.no),
                    (r.date, 1.2),
                    fontsize=7,
                    color="white",
                    ha="center",
                    va="center",
                    bbox={"boxstyle": "circle,pad=0.2", "fc": c, "ec": "none"},
                )
        _year_axis(ax2)
        ax2.set_xlabel("year the sentence speaks of (its own date, else the article's)")
        note = "Filled points: at least 3 scored sentences; hollow: fewer. Gaps: no mention that year. Numbered lines: dated events (see the events table)."
        if unlabelled:
            note += (
                f" Point area: scored sentences (largest {largest:,}; each year's count is in the trajectory table)."
            )
        if len(marked) < n_events:
            note += f" Numbered: the {len(marked)} strongest of {n_events:,} events."
        if len(hidden):
            note += f" Not shown: {int(hidden['mentions'].sum()):,} mention(s) dated before {first_year}."
        fig.text(0.01, 0.005, _wrap(note, 150), fontsize=7, color=OKABE_ITO["grey"])
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        return fig


def _event_markers(events: pd.DataFrame | None, partners: list[str], first_year: int) -> tuple[pd.DataFrame, int]:
    """The events to mark on the trajectory chart, numbered as in the events table (its row order, from 1).

    Only the partners drawn and years shown; when more than :data:`MAX_EVENT_MARKERS`
    remain, the strongest of each partner and day, strongest first (largest absolute
    score; ties: the earlier), up to that many. Returns them
    (columns no, partner, date) and how many there were before the cut.
    """
    if events is None or not len(events):
        return pd.DataFrame(columns=["no", "partner", "date"]), 0
    ev = events.reset_index(drop=True).assign(
        no=lambda e: np.arange(1, len(e) + 1), date=lambda e: pd.to_datetime(e["date"])
    )
    ev = ev[ev["partner"].isin(partners) & (ev["date"].dt.year >= first_year)]
    n = len(ev)
    if n > MAX_EVENT_MARKERS:  # one per partner and day (markers of one day would stack), then the strongest
        ev = ev.assign(_s=ev["score"].abs()).sort_values(["_s", "date", "no"], ascending=[False, True, True])
        ev = ev.drop_duplicates(["partner", "date"]).head(MAX_EVENT_MARKERS)
    return ev.sort_values("no")[["no", "partner", "date"]].reset_index(drop=True), n


def textplot_crossover(cross: pd.DataFrame, a: str = "France", b: str = "Russia", value: str = "salience") -> Figure:
    """The difference b minus a per period as bars (b ahead: b's colour), with the first lead marked."""
    with house_style():
        fig, ax = plt.subplots(figsize=(9, 3.2))
        d = cross.dropna(subset=["difference"])
        if d.empty:
            _empty(ax, "no period names both partners")
            return fig
        x = pd.to_datetime(d["period_start"]) + pd.Timedelta(days=182)
        ax.bar(x, d["difference"], width=200, color=[colour(b) if v > 0 else colour(a) for v in d["difference"]])
        ax.axhline(0, color="black", lw=0.8)
        first = cross.attrs.get("first_lead")
        if first is not None:
            row = cross[cross["period"] == first].iloc[0]
            ax.annotate(
                f"{b} overtakes {a}: {first}",
                (pd.to_datetime(row["period_start"]) + pd.Timedelta(days=182), row["difference"]),
                textcoords="offset points",
                xytext=(0, 12),
                ha="center",
                fontsize=8,
            )
        _year_axis(ax)
        ax.set_ylabel(f"{value}: {b} − {a}")
        ax.set_title(f"Crossover: when {b} leads {a} ({value})")
        fig.tight_layout()
        return fig


def textplot_confusion(conf: pd.DataFrame) -> Figure:
    """Confusion matrix of gold labels (rows) against predicted labels (columns), counts in cells."""
    with house_style():
        fig, ax = plt.subplots(figsize=(4.8, 4))
        im = ax.imshow(conf.to_numpy(), cmap=SEQUENTIAL)
        ax.set_xticks(range(conf.shape[1]), conf.columns)
        ax.set_yticks(range(conf.shape[0]), conf.index)
        ax.set_xlabel("scorer")
        ax.set_ylabel("gold (read by a person)")
        vmax = conf.to_numpy().max()
        for i in range(conf.shape[0]):
            for j in range(conf.shape[1]):
                v = conf.iat[i, j]
                ax.text(j, i, str(v), ha="center", va="center", color="white" if v > 0.6 * vmax else "black")
        ax.grid(False)
        fig.colorbar(im, ax=ax, shrink=0.8, label="sentence-partner pairs")
        ax.set_title("Relation scorer vs gold")
        fig.tight_layout()
        return fig
