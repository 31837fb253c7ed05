"""Benchmark tables (rich on the console, the same as Markdown) and Markdown reports with plots
for ``l2r benchmark ... --report DIR``.

Writes ``DIR/report.md`` (the table, the command, the data) and PNG plots beside it: histograms
of the per-image SIDE and MAD of every checkpoint, and, when the test split stores the true
view (``l2r synth`` data), SIDE and MAD against |yaw| in 10-degree bins. Plots are drawn with
matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from l2r_cli.console import console
from l2r_cli.errors import L2RError

#: |yaw| bin edges in degrees of the per-pose curves.
YAW_EDGES = (0, 10, 20, 30, 40, 50, 60, 90)


def binned_means(x: np.ndarray, y: np.ndarray, edges) -> tuple[np.ndarray, np.ndarray]:
    """Mean of y over the bins [e_i, e_i+1) of x (the last bin includes its right edge) and
    the count per bin; empty bins give NaN. x, y: (N,) -> ((len(edges) - 1,), (len(edges) - 1,))."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    inside = (x >= edges[0]) & (x <= edges[-1])
    counts = np.bincount(idx[inside], minlength=len(edges) - 1)
    sums = np.bincount(idx[inside], weights=y[inside], minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means, counts


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _make_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise L2RError(f"--report {out}: cannot create ({exc.strerror})") from None
    return out


def _histogram(path: Path, series: dict[str, np.ndarray], xlabel: str) -> None:
    """One step histogram per labelled series, on shared bins."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    lo = min(float(np.min(v)) for v in series.values())
    hi = max(float(np.max(v)) for v in series.values())
    bins = np.linspace(lo, hi if hi > lo else lo + 1e-6, 31)
    for label, v in series.items():
        ax.hist(v, bins=bins, histtype="step", linewidth=1.5, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_simple_report(
    out_dir: str | Path,
    title: str,
    command: str,
    table: list[str],
    series: dict[str, np.ndarray],
    xlabel: str,
    bars: dict[str, dict[str, float]] | None = None,
) -> Path:
    """DIR/report.md with a Markdown ``table``, a histogram of the per-image ``series``
    (``hist.png``) and, when given, grouped bars (``bars.png``: label -> {group: value})."""
    out = _make_dir(out_dir)
    lines = [f"# {title}", "", "```bash", command, "```", "", *table, "", "![per image](hist.png)"]
    _histogram(out / "hist.png", series, xlabel)
    if bars:
        plt = _plt()
        groups = list(next(iter(bars.values())))
        fig, ax = plt.subplots(figsize=(7, 3.5))
        width = 0.8 / len(bars)
        for i, (label, vals) in enumerate(bars.items()):
            x = np.arange(len(groups)) + i * width
            ax.bar(x, [vals[g] for g in groups], width, label=label)
        ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups)
        lo = min(min(v.values()) for v in bars.values())
        hi = max(max(v.values()) for v in bars.values())
        ax.set_ylim(lo - 0.1 * (hi - lo + 1e-6), hi + 0.1 * (hi - lo + 1e-6))
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "bars.png", dpi=100)
        plt.close(fig)
        lines += ["", "![per group](bars.png)"]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def mean_std(row: dict, key: str, fmt: str) -> str:
    """ "mean ± std" of row[key_mean] and row[key_std], or "—" when the row has no such key."""
    if row.get(f"{key}_mean") is None:  # no such key, or no image kept for it
        return "—"
    return f"{format(row[f'{key}_mean'], fmt)} ± {format(row[f'{key}_std'], fmt)}"


def write_bfm_report(results, out_dir: str | Path, title: str, command: str) -> Path:
    """results: :class:`l2r_cli.benchmark.bfm.BfmResult` list -> DIR/report.md (+ PNGs)."""
    out = _make_dir(out_dir)
    plt = _plt()
    labels = [Path(r.name).name or r.name for r in results]
    lines = [f"# {title}", "", "```bash", command, "```", ""]
    lines += [
        "| model | n | SIDE (×10⁻²) ↓ | MAD (deg.) ↓ | median MAD "
        "| detail MAD (deg.) ↓ | band SIDE (×10⁻²) ↓ |"
    ]
    lines += ["| --- | --- | --- | --- | --- | --- | --- |"]
    for r, label in zip(results, labels, strict=True):
        s = r.summary()
        dm, bs = mean_std(s, "detail_mad", ".2f"), mean_std(s, "band_side_x100", ".4f")
        lines.append(
            f"| {label} | {s['n']} | {s['side_x100_mean']:.3f} ± {s['side_x100_std']:.3f} "
            f"| {s['mad_mean']:.2f} ± {s['mad_std']:.2f} | {np.median(r.mad):.2f} | {dm} | {bs} |"
        )
    for key, unit, scale in (("side", "SIDE (×10⁻²)", 100.0), ("mad", "MAD (deg.)", 1.0)):
        series = {lb: getattr(r, key) * scale for r, lb in zip(results, labels, strict=True)}
        _histogram(out / f"{key}_hist.png", series, f"per-image {unit}")
        lines += ["", f"![per-image {unit}]({key}_hist.png)"]
    yaws = [r.yaw for r in results if r.yaw is not None]
    if len(yaws) == len(results) and results:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        centres = (np.array(YAW_EDGES[:-1]) + np.array(YAW_EDGES[1:])) / 2
        table = ["", "| model | " + " | ".join(
            f"{a}–{b}°" for a, b in zip(YAW_EDGES[:-1], YAW_EDGES[1:], strict=True)
        ) + " |", "| --- |" + " --- |" * (len(YAW_EDGES) - 1)]  # fmt: skip
        for r, label in zip(results, labels, strict=True):
            ay = np.abs(r.yaw)
            m_side, counts = binned_means(ay, r.side * 100, YAW_EDGES)
            m_mad, _ = binned_means(ay, r.mad, YAW_EDGES)
            axes[0].plot(centres, m_side, marker="o", label=label)
            axes[1].plot(centres, m_mad, marker="o", label=label)
            cells = [f"{a:.2f} / {b:.1f} (n={c})" if c else "—"
                     for a, b, c in zip(m_side, m_mad, counts, strict=True)]  # fmt: skip
            table.append(f"| {label} | " + " | ".join(cells) + " |")
        for ax, unit in zip(axes, ("SIDE (×10⁻²)", "MAD (deg.)"), strict=True):
            ax.set_xlabel("|true yaw| (deg.)")
            ax.set_ylabel(f"mean {unit}")
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "by_yaw.png", dpi=100)
        plt.close(fig)
        lines += ["", "## By pose (true |yaw|): SIDE (×10⁻²) / MAD (deg.)", *table, "",
                  "![by yaw](by_yaw.png)"]  # fmt: skip
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def results_table(
    title: str, rows: list[dict], cols: list, compare: bool = False, delta: tuple | None = None
) -> list[str]:
    """Print the rows as a rich table and return the same table as Markdown lines.

    cols: [(header, row -> str)]; with ``compare`` a 'No.' column leads and, when ``delta`` =
    (header, key, format) is given, a last column holds row[key] - rows[0][key]."""
    heads = [h for h, _ in cols]
    lines = []
    for i, r in enumerate(rows):
        cells = [f(r) for _, f in cols]
        if compare:
            cells.insert(0, f"({i + 1})")
            if delta:
                cells.append(format(r[delta[1]] - rows[0][delta[1]], delta[2]))
        lines.append(cells)
    if compare:
        heads = ["No.", *heads] + ([delta[0]] if delta else [])
    t = Table(title=title)
    for h in heads:
        t.add_column(h)
    for cells in lines:
        t.add_row(*cells)
    console.print(t)
    md = ["| " + " | ".join(heads) + " |", "|" + " --- |" * len(heads)]
    return md + ["| " + " | ".join(cells) + " |" for cells in lines]


def bfm_columns(rows: list[dict], compare: bool, labels: dict[str, str]) -> list:
    """The bfm table's columns [(header, row -> str)]: SIDE and MAD, the detail metrics (detail
    MAD, band SIDE), the own-template row's SIDE and MAD and the shape gains (blank for
    baselines), with ``compare`` the stage and the change vs (1)."""

    def own(key: str, fmt: str):
        return lambda r: format(r["own_template"][key], fmt) if "own_template" in r else "—"

    def gain(key: str):
        def cell(r):
            if f"shape_gain_{key}" not in r:
                return "—"
            return f"{100 * r[f'shape_gain_{key}']:+.1f} ± {100 * r[f'shape_gain_{key}_se']:.1f} %"

        return cell

    cols = [("method", lambda r: labels.get(r["stage"], r["stage"]))] if compare else []
    cols += [
        ("model", lambda r: str(r["name"])),
        ("n", lambda r: str(r["n"])),
        ("SIDE (×10⁻²) ↓", lambda r: f"{r['side_x100_mean']:.3f} ± {r['side_x100_std']:.3f}"),
        ("MAD (deg.) ↓", lambda r: f"{r['mad_mean']:.2f} ± {r['mad_std']:.2f}"),
        ("detail MAD (deg.) ↓", lambda r: mean_std(r, "detail_mad", ".2f")),
        ("band SIDE (×10⁻²) ↓", lambda r: mean_std(r, "band_side_x100", ".4f")),
        ("own template SIDE", own("side_x100_mean", ".3f")),
        ("own template MAD", own("mad_mean", ".2f")),
        ("shape gain SIDE", gain("side")),
        ("shape gain MAD", gain("mad")),
    ]
    if compare:
        first = rows[0]
        cols += [
            ("ΔSIDE vs (1)", lambda r: f"{r['side_x100_mean'] - first['side_x100_mean']:+.3f}"),
            ("ΔMAD vs (1)", lambda r: f"{r['mad_mean'] - first['mad_mean']:+.2f}"),
        ]
    return cols
