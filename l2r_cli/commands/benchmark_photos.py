"""`l2r benchmark photos --data DIR [CKPT]...`: pose and relief on real photos against null rows
(:mod:`l2r_cli.benchmark.photos`, docs/photos_benchmark.md)."""

from __future__ import annotations

import click

from l2r_cli.benchmark.report import results_table
from l2r_cli.commands.benchmark import (
    _batch_option,
    _ckpts_arg,
    _compare_option,
    _json_option,
    _legacy_data_option,
    _report,
    _report_option,
    _write_json,
)
from l2r_cli.commands.options import BUNDLED, ckpt_option, data_root, resolve_ckpt
from l2r_cli.console import info, log


def _cell(key: str, fmt: str):
    def cell(r: dict) -> str:
        if f"{key}_mean" not in r:
            return "—"
        return f"{r[f'{key}_mean']:{fmt}} ± {r[f'{key}_se']:{fmt}}"

    return cell


def _num(v: float | None, fmt: str) -> str:
    return "n/a" if v is None else format(v, fmt)


def _verdict_line(summary: dict) -> str:
    """'NAME works on real photos for: ...; not for: ...' from a result summary."""
    from l2r_cli.benchmark.photos import METRICS, VERDICT_SE

    good = [label for key, label, _ in METRICS if summary["verdict"][key]["works"]]
    bad = [label for key, label, _ in METRICS if not summary["verdict"][key]["works"]]
    rule = f"(beats every null row by > {VERDICT_SE:g} SE, paired)"
    parts = [f"works on real photos for: {', '.join(good)} {rule}" if good else ""]
    parts.append(f"not for: {', '.join(bad)}" if bad else "")
    return f"verdict {summary['name']}: " + "; ".join(p for p in parts if p)


def _margin_table(summary: dict) -> list[str]:
    """Print, and return as Markdown, the model's paired margin over each null row per metric
    (positive = the model is better; z = margin / its standard error)."""
    from l2r_cli.benchmark.photos import METRICS, ROWS, VERDICT_SE

    def cell(row: str):
        def f(r: dict) -> str:
            if row not in r["vs"]:
                return "—"
            m = r["vs"][row]
            z = m["mean"] / m["se"] if m["se"] > 0 else float("inf")
            return f"{m['mean']:+.3f} ± {m['se']:.3f} (z {z:.2f})"

        return f

    rows = [{"metric": label, **summary["verdict"][key]} for key, label, _ in METRICS]
    cols = [("metric", lambda r: r["metric"])]
    present = [r["row"] for r in summary["rows"]]
    cols += [(f"vs {row}", cell(row)) for row in ROWS[1:] if row in present]
    cols += [("works", lambda r: "yes" if r["works"] else "no")]
    title = f"{summary['name']}: paired margin over each null row (works: every z > {VERDICT_SE:g})"
    return results_table(title, rows, cols)


@click.command("photos")
@click.argument("paths", nargs=-1, metavar="[CKPT]...")
@_legacy_data_option
@ckpt_option()
@click.option("--largest", is_flag=True, help="Keep only the largest detected face of each photo.")
@click.option(
    "--min-score",
    default=0.3,
    show_default=True,
    type=float,
    metavar="S",
    help="dlib HOG score below which detections are dropped (photos without .pts).",
)
@click.option(
    "--pts-origin",
    type=click.Choice(["1", "0"]),
    default="1",
    show_default=True,
    help="Coordinate of the first pixel's centre in .pts files: 1 (iBUG/300-W) or 0.",
)
@_batch_option(16)
@_compare_option
@_json_option
@_report_option
@click.pass_obj
def photos(
    g,
    paths,
    data,
    ckpts,
    largest,
    min_score,
    pts_origin,
    batch_size,
    compare,
    json_out,
    report_dir,
) -> None:
    """Pose and relief on real photos: yaw and pitch error against a reference pose from the
    68 landmarks (a generic 3D face fitted by PnP) and the Pearson r of the predicted depth
    with the posed generic face's depth at the landmarks, each against null rows (shuffled
    references, non-face images in the same crops, the model's own mean prediction, and for
    depth r its own mean canonical surface seen from its predicted views).

    DATA holds photos (recursive); an iBUG .pts file beside a photo (same stem) gives its
    68 landmarks, else dlib detects them. Without CKPT: the bundled weights. The table, the
    pose summary and the verdict go to stdout; notes on skipped photos to stderr.

    \b
    Example:
      l2r benchmark photos --data photos/ --json photos.json
      l2r benchmark photos --data photos/ runs/proxy runs/mutual --compare --report rep/
    """
    import numpy as np

    from l2r_cli.benchmark.photos import METRICS, evaluate_photos, load_photo_faces
    from l2r_cli.device import resolve_device
    from l2r_cli.predictor import load_predictor, renderer_of

    root, paths = data_root(data, paths, "photos")
    device = resolve_device(g.device)
    ckpts = _ckpts_arg(ckpts, paths) or [None]
    predictors = [load_predictor(resolve_ckpt(c), device) for c in ckpts]
    sizes = tuple(dict.fromkeys(p.image_size for p in predictors))
    faces, notes = load_photo_faces(root, sizes, largest, float(pts_origin), min_score, seed=g.seed)
    for note in notes:
        log(f"[yellow]note:[/] {note}")
    n_pts = sum(f.landmark_source == "pts" for f in faces)
    log(f"{len(faces)} face(s) from {root} ({n_pts} from .pts files, the others from dlib)")
    results = []
    for c, p in zip(ckpts, predictors, strict=True):
        name = BUNDLED if c is None else str(c)
        r = renderer_of(p, device)
        results.append(evaluate_photos(p, faces, r, device, batch_size, name))
    summaries = [r.summary() for r in results]
    rows = [row for s in summaries for row in s["rows"]]
    title = f"Real photos: pose and relief against null rows on {root}"
    cols = [("model", lambda r: str(r["name"])), ("row", lambda r: r["row"]),
            ("n", lambda r: str(r["n"])),
            ("yaw err. (deg.) ↓", _cell("yaw_err", ".2f")),
            ("pitch err. (deg.) ↓", _cell("pitch_err", ".2f")),
            ("depth r ↑", _cell("depth_r", ".3f"))]  # fmt: skip
    table = results_table(title, rows, cols, compare, ("Δdepth r vs (1)", "depth_r_mean", "+.3f"))
    for s in summaries:
        table += ["", *_margin_table(s)]
        pose = s["pose"]
        info(
            f"{s['name']}: predicted vs reference yaw r = {_num(pose['yaw_corr'], '.3f')}, "
            f"pitch r = {_num(pose['pitch_corr'], '.3f')}; mean signed error yaw "
            f"{pose['yaw_bias_deg']:+.2f}, "
            f"pitch {pose['pitch_bias_deg']:+.2f} deg.; reference fit rms "
            f"{pose['ref_fit_rms_px_mean']:.2f} px"
        )
        info(_verdict_line(s))
        table += ["", _verdict_line(s)]
    if json_out:
        payload = {
            "root": str(root),
            "faces": len(faces),
            "skipped": notes,
            "seed": g.seed,
            "metrics": {key: label for key, label, _ in METRICS},
            "results": summaries,
        }
        _write_json(json_out, payload)
    if report_dir:
        series = {
            f"{r.name}: {row}": np.asarray(r.scores[row]["yaw_err"])
            for r in results
            for row in r.scores
            if "yaw_err" in r.scores[row]
        }
        bars = {
            f"{row['name']}: {row['row']}": {
                "yaw err.": row["yaw_err_mean"],
                "pitch err.": row["pitch_err_mean"],
                "depth r x 10": 10 * row["depth_r_mean"],
            }
            for row in rows
            if "yaw_err_mean" in row
        }
        _report(report_dir, title, table, series, "per-face yaw error (deg.)", bars)
