"""Markdown reports with plots for ``l2r benchmark bfm --report DIR``.

Writes ``DIR/report.md`` (the table, the command, the data) and PNG plots beside it: histograms
of the per-image SIDE and MAD of every checkpoint, and, when the test split stores the true
view (``l2r synth`` data), SIDE and MAD against |yaw| in 10-degree bins. Plots are drawn with
matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


def write_bfm_report(results, out_dir: str | Path, title: str, command: str) -> Path:
    """results: :class:`l2r_cli.benchmark.bfm.BfmResult` list -> DIR/report.md (+ PNGs)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise L2RError(f"--report {out}: cannot create ({exc.strerror})") from None
    plt = _plt()
    labels = [Path(r.name).name or r.name for r in results]
    lines = [f"# {title}", "", "```bash", command, "```", ""]
    lines += ["| model | n | SIDE (×10⁻²) ↓ | MAD (deg.) ↓ | median MAD |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    for r, label in zip(results, labels, strict=True):
        s = r.summary()
        lines.append(
            f"| {label} | {s['n']} | {s['side_x100_mean']:.3f} ± {s['side_x100_std']:.3f} "
            f"| {s['mad_mean']:.2f} ± {s['mad_std']:.2f} | {np.median(r.mad):.2f} |"
        )
    for key, unit, scale in (("side", "SIDE (×10⁻²)", 100.0), ("mad", "MAD (deg.)", 1.0)):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        vals = [getattr(r, key) * scale for r in results]
        bins = np.linspace(min(v.min() for v in vals), max(v.max() for v in vals), 31)
        for v, label in zip(vals, labels, strict=True):
            ax.hist(v, bins=bins, histtype="step", linewidth=1.5, label=label)
        ax.set_xlabel(f"per-image {unit}")
        ax.set_ylabel("images")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"{key}_hist.png", dpi=100)
        plt.close(fig)
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
