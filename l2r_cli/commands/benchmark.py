"""`l2r benchmark ...`: the paper's evaluation protocols and speed measurements.

Every benchmark reads ``-d/--data DIR`` and takes checkpoints as positional arguments (and
``--ckpt``, repeatable); ``bundled`` names the bundled weights. Tables go to stdout, "wrote X"
lines to stderr (docs/cli.md)."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.table import Table

from l2r_cli.benchmark.report import bfm_columns, mean_std, results_table
from l2r_cli.commands.options import (
    BUNDLED,
    L2RGroup,
    batch_size_option,
    ckpt_option,
    data_option,
    data_root,
    input_option,
    is_bundled,
    resolve_ckpt,
    size_option,
    split_option,
)
from l2r_cli.console import console, log

_report_option = click.option(
    "--report", "report_dir", metavar="DIR", help="Also write DIR/report.md with plots (PNG)."
)


_json_option = click.option(
    "--json", "json_out", metavar="FILE", help="Also write the results as JSON."
)


def _batch_option(default: int) -> Callable:
    """``-b/--batch-size N``: images per forward pass (does not change the numbers)."""
    return batch_size_option(
        "Images per forward pass (does not change the results).",
        default=default,
        show_default=True,
    )


def _ckpts_arg(ckpts: tuple[str, ...], paths: tuple[str, ...]) -> list[str | None]:
    """--ckpt values then positional ones, in order; None where the bundled weights are meant
    (the evaluators name that row 'bundled')."""
    return [None if is_bundled(c) else c for c in (*ckpts, *paths)]


_legacy_data_option = data_option(
    "Benchmark data folder; required (the old form, the folder as the first argument, still "
    "works in this release).",
    required=False,
    type=click.Path(path_type=Path),
)


_compare_option = click.option(
    "--compare",
    is_flag=True,
    help="Paper layout: numbered rows and each row's change against row (1).",
)


def _report(out_dir, title, table, series, xlabel, bars=None) -> None:
    """Write DIR/report.md with the command line, a table and plots, and say so."""
    from l2r_cli.benchmark.report import write_simple_report

    command = "l2r " + " ".join(sys.argv[1:])
    log(f"wrote {write_simple_report(out_dir, title, command, table, series, xlabel, bars)}")


def _write_json(path: str, payload: dict) -> None:
    """Write a benchmark's results as indented JSON and say so."""
    Path(path).write_text(json.dumps(payload, indent=2))
    log(f"wrote {path}")


@click.group("benchmark", cls=L2RGroup)
def benchmark() -> None:
    """Evaluate checkpoints (bfm, texture, identity, 3dfaw, photoface, photos) and measure
    speed.

    \b
    Every benchmark but speed: l2r benchmark NAME -d DATA [CKPT]... (CKPT may be 'bundled').
    """


@benchmark.command("bfm")
@click.argument("paths", nargs=-1, metavar="[CKPT]...")
@data_option("l2r dataset with GT depth.")
@ckpt_option()
@click.option(
    "--compare",
    is_flag=True,
    help="Paper layout (Tables 2 and 4): numbered rows, stage names, change against row (1).",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    type=click.Choice(["constant", "template"]),
    is_flag=False,
    flag_value="constant",
    metavar="constant|template",
    help="Add a baseline row (repeat): 'constant' depth, or the 'template' (see --template) "
    "posed with each face's true view. A bare --baseline means constant.",
)
@click.option(
    "--template",
    "template_src",
    metavar="DIR|FILE.npy",
    help="The template: mean canonical depth of DIR's 'train' split, or an (S, S) .npy "
    "canonical depth. [default: DATA's 'train' split]",
)
@click.option(
    "--views",
    "views_from",
    metavar="DIR",
    help="l2r synth dataset holding the true views of DATA's faces (matched by name), for the "
    "template baseline when DATA itself stores none (e.g. an `l2r degrade` copy).",
)
@split_option()
@input_option()
@_batch_option(32)
@_json_option
@click.option(
    "--report",
    "report_dir",
    metavar="DIR",
    help="Also write DIR/report.md with error histograms and per-pose curves (PNG).",
)
@click.option(
    "--diagnose",
    is_flag=True,
    help="Also fit predicted pose and relief to the true ones (l2r synth data only).",
)
@click.pass_obj
def bfm(
    g,
    paths,
    data,
    ckpts,
    compare,
    baselines,
    template_src,
    views_from,
    split,
    input_field,
    batch_size,
    json_out,
    report_dir,
    diagnose,
) -> None:
    """SIDE and MAD (mean ± std) on a test split, Unsup3D's BFM protocol (paper Tables 2, 4).

    Any stage's checkpoint works: proxy, arn (its proxy's geometry), grn, mutual. Checkpoints
    go after the options or with --ckpt; rows keep the order given. Every checkpoint also gets
    its own template (its mean canonical surface over the split, posed with its own predicted
    views) and its shape gain over that row: 1 - model / own template, for SIDE and MAD.

    \b
    Example:
      l2r benchmark bfm --data data/synth_test --ckpt runs/proxy \\
          --baseline constant --baseline template --template data/synth_train --json bfm.json
      l2r benchmark bfm --data data/deg_test --input lq --compare --baseline template \\
          --template data/synth_train --views data/synth_test runs/proxy runs/mutual
    """
    from l2r_cli.benchmark.bfm import evaluate_bfm, template_predictor, true_views
    from l2r_cli.device import resolve_device
    from l2r_cli.errors import L2RError
    from l2r_cli.predictor import STAGE_LABELS, ConstantDepthPredictor, load_predictor

    ckpts = _ckpts_arg(ckpts, paths)
    baselines = tuple(dict.fromkeys(baselines))
    if not ckpts and not baselines:
        raise L2RError("nothing to evaluate: give checkpoints (CKPT... or --ckpt), or --baseline")
    if (template_src or views_from) and "template" not in baselines:
        raise L2RError("--template and --views go with --baseline template")
    device = resolve_device(g.device)
    predictors = [load_predictor(resolve_ckpt(c), device) for c in ckpts]
    for c, p in zip(ckpts, predictors, strict=True):
        if c is None:
            p.name = BUNDLED
    size = predictors[0].image_size if predictors else 64
    views = None
    if "constant" in baselines:
        predictors.append(ConstantDepthPredictor(image_size=size))
    if "template" in baselines:
        views = true_views(data, split, views_from)
        predictors.append(template_predictor(template_src, data, size))
    rows, results = [], []
    for p in predictors:
        own = p.kind not in ("baseline", "template")
        res = evaluate_bfm(
            p, data, split, input_field, batch_size, device, own_template=own, views=views
        )
        results.append(res)
        rows.append({**res.summary(), "stage": p.kind})
    title = f"BFM protocol on {data} [{split}, input={input_field}]"
    results_table(title, rows, bfm_columns(rows, compare, STAGE_LABELS), compare)
    payload = {"data": str(data), "split": split, "input": input_field, "results": rows}
    if diagnose:
        payload["diagnosis"] = _diagnose_table(predictors, data, split, batch_size, device)
    if json_out:
        _write_json(json_out, payload)
    if report_dir:
        from l2r_cli.benchmark.report import write_bfm_report

        command = "l2r " + " ".join(sys.argv[1:])
        log(f"wrote {write_bfm_report(results, report_dir, title, command)}")


def _diagnose_table(predictors, data, split, batch_size, device) -> list[dict]:
    """Print pose and relief fits of the trained predictors; returns their summaries."""
    from l2r_cli.benchmark.diagnose import diagnose

    rows = []
    t = Table(title="Pose and relief against the true factors (slope 1 / ratio 1 = right scale)")
    cols = ("model", "yaw corr", "yaw slope", "pitch corr", "pitch slope", "relief ratio")
    for col in (*cols, "SIDE pose only", "SIDE shape only"):
        t.add_column(col)
    for p in predictors:
        if p.kind in ("baseline", "template"):
            continue
        d = diagnose(p, data, split, batch_size, device).summary()
        rows.append({"name": p.name, **d})
        t.add_row(
            p.name,
            f"{d['yaw_corr']:.3f}",
            f"{d['yaw_slope']:.3f}",
            f"{d['pitch_corr']:.3f}",
            f"{d['pitch_slope']:.3f}",
            f"{d['relief_ratio']:.2f} ({d['relief_pred']:.4f} / {d['relief_true']:.4f})",
            f"{d['side_pose_only']:.3f}",
            f"{d['side_shape_only']:.3f}",
        )
    console.print(t)
    return rows


@benchmark.command("texture")
@click.argument("paths", nargs=-1, metavar="[CKPT]...")
@data_option("l2r dataset with 'image' and 'lq'.")
@ckpt_option(
    "proxy, arn, grn or mutual checkpoint, run folder or 'bundled' (repeat); all but proxy add "
    "its proxy."
)
@split_option()
@size_option(
    "Evaluation resolution (0 = the dataset's GT size; paper: 256).",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
)
@input_option()
@_batch_option(32)
@_compare_option
@_json_option
@_report_option
@click.pass_obj
def texture(
    g, paths, data, ckpts, split, size, input_field, batch_size, compare, json_out, report_dir
) -> None:
    """Texture SSIM and HF ratio on the face region, re-render vs. ground truth (paper sec. 5).

    The original image (or with --input lq its first degraded variant) goes in; the proxy's
    render (and, for an 'arn', 'grn' or 'mutual' checkpoint, the re-render of the restored
    albedo on its geometry) is compared with the GT image by 11x11 Gaussian SSIM averaged over
    the ground truth's face mask (its 'mask', else GT depth below the background); only data
    with neither falls back to the render mask, and the column says which. The HF ratio is the
    render's Laplacian energy over the GT image's on that mask (1 = as much detail as the truth,
    < 1 = oversmoothed).

    \b
    Example:
      l2r benchmark texture --data data/deg --input lq runs/proxy runs/arn --json tex.json
    """
    from l2r_cli.benchmark.texture import evaluate_texture
    from l2r_cli.device import resolve_device
    from l2r_cli.errors import L2RError

    ckpts = _ckpts_arg(ckpts, paths)
    if not ckpts:
        raise L2RError("give at least one checkpoint (as an argument or with --ckpt)")
    device = resolve_device(g.device)
    results = []
    for c in ckpts:
        path = resolve_ckpt(c)
        for r in evaluate_texture(path, data, split, batch_size, device, size, input_field):
            if c is None:  # name the bundled weights by the word, not the install's path
                r = dataclasses.replace(r, name=r.name.replace(str(path), BUNDLED))
            results.append(r)
    rows = [r.summary() for r in results]
    title = f"Texture SSIM on {data} [{split}, input={input_field}]"
    label = f"{results[0].label} ↑"
    cols = [("model", lambda r: str(r["name"])), ("n", lambda r: str(r["n"])),
            (label, lambda r: f"{r['ssim_mean']:.4f} ± {r['ssim_std']:.4f}"),
            ("HF ratio (1 = GT)", lambda r: mean_std(r, "hf_ratio", ".3f"))]  # fmt: skip
    table = results_table(title, rows, cols, compare, ("ΔSSIM vs (1)", "ssim_mean", "+.4f"))
    if json_out:
        payload = {
            "data": str(data), "split": split, "input": input_field, "size": size, "results": rows
        }  # fmt: skip
        _write_json(json_out, payload)
    if report_dir:
        series = {r.name: r.ssim for r in results}
        _report(report_dir, title, table, series, f"per-image {results[0].label}")


@benchmark.command("identity")
@click.argument("paths", nargs=-1, metavar="[CKPT]...")
@data_option("l2r dataset (GT image, and lq).")
@ckpt_option()
@split_option()
@input_option()
@click.option(
    "--embedder",
    default="dlib",
    show_default=True,
    metavar="dlib|FILE",
    help="Face-recognition model: dlib's ResNet, or a torch.export (.pt2) or TorchScript file "
    "(e.g. your ArcFace).",
)
@click.option(
    "--limit",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    metavar="N",
    help="First N faces (0: all).",
)
@_batch_option(16)
@_compare_option
@_json_option
@_report_option
@click.pass_obj
def identity(
    g,
    paths,
    data,
    ckpts,
    split,
    input_field,
    embedder,
    limit,
    batch_size,
    compare,
    json_out,
    report_dir,
) -> None:
    """Cross-view identity (paper Table 7): mean cosine similarity of face embeddings of
    renders (predicted view, frontal, +-45 deg yaw and pitch) to the original image's.

    \b
    Example:
      l2r benchmark identity --data data/deg_test --input lq runs/proxy_lq runs/mutual
      l2r benchmark identity --data data/deg_test runs/mutual --embedder arcface_ts.pt
    """
    from l2r_cli.benchmark.identity import evaluate_identity, load_embedder
    from l2r_cli.device import resolve_device
    from l2r_cli.errors import L2RError

    all_ckpts = [BUNDLED if c is None else c for c in _ckpts_arg((), (*paths, *ckpts))]
    if not all_ckpts:
        raise L2RError("give at least one checkpoint (as an argument or with --ckpt)")
    device = resolve_device(g.device)
    emb = load_embedder(embedder, device)
    results = [
        evaluate_identity(c, data, emb, split, input_field, batch_size, device, limit)
        for c in all_ckpts
    ]
    rows = [r.summary() for r in results]
    title = f"Cross-view identity on {data} [{split}, input={input_field}, {emb.name}]"

    def worst(r: dict) -> str:
        view = min(r["per_view"], key=r["per_view"].get)
        return f"{view} {r['per_view'][view]:.4f}"

    cols = [("model", lambda r: str(r["name"])), ("n", lambda r: str(r["n"])),
            ("cosine ↑", lambda r: f"{r['cos_mean']:.4f} ± {r['cos_std']:.4f}"),
            ("worst view", worst), ("chance", lambda r: f"{r['chance_mean']:.4f}")]  # fmt: skip
    table = results_table(title, rows, cols, compare, ("Δcosine vs (1)", "cos_mean", "+.4f"))
    if json_out:
        payload = {"data": str(data), "split": split, "input": input_field, "results": rows}
        _write_json(json_out, payload)
    if report_dir:
        series = {r.name: r.scores for r in results}
        bars = {r["name"]: {**r["per_view"], "chance": r["chance_mean"]} for r in rows}
        _report(report_dir, title, table, series, "per-face mean cosine", bars)


@benchmark.command("3dfaw")
@click.argument("paths", nargs=-1, metavar="[CKPT]...")
@_legacy_data_option
@ckpt_option()
@click.option(
    "--split",
    type=click.Choice(["test", "valid"]),
    default="test",
    show_default=True,
    help="Which of the release's lists to score.",
)
@_batch_option(16)
@_compare_option
@_json_option
@_report_option
@click.pass_obj
def threedfaw(g, paths, data, ckpts, split, batch_size, compare, json_out, report_dir) -> None:
    """3DFAW keypoint depth correlation (paper Table 5): sum over 66 keypoints of |Pearson r|
    between predicted and ground-truth depth across the test faces (max 66).

    DATA holds list_valid_test.txt, valid_img/ and valid_lm/ (DepthNet's layout of the 3DFAW
    release). Without CKPT: the bundled weights.

    \b
    Example:
      l2r benchmark 3dfaw --data ~/data/3dfaw runs/proxy runs/mutual --compare --json faw.json
    """
    from l2r_cli.benchmark.threedfaw import evaluate_3dfaw
    from l2r_cli.device import resolve_device

    root, paths = data_root(data, paths, "3dfaw")
    device = resolve_device(g.device)
    ckpts = _ckpts_arg(ckpts, paths) or [None]
    results = [evaluate_3dfaw(c, root, split, device, batch_size) for c in ckpts]
    rows = [r.summary() for r in results]
    title = f"3DFAW keypoint depth correlation on {root} [{split}]"
    cols = [("model", lambda r: str(r["name"])), ("n", lambda r: str(r["n"])),
            ("depth corr. ↑ (max 66)", lambda r: f"{r['depth_corr']:.2f}"),
            ("mean |r|", lambda r: f"{r['mean_abs_r']:.3f}")]  # fmt: skip
    table = results_table(title, rows, cols, compare, ("Δcorr. vs (1)", "depth_corr", "+.2f"))
    if json_out:
        _write_json(json_out, {"root": str(root), "split": split, "results": rows})
    if report_dir:
        series = {r.name: r.r for r in results}
        _report(report_dir, title, table, series, "per-keypoint |r| (66 keypoints)")


@benchmark.command("photoface")
@click.argument("paths", nargs=-1, metavar="[CKPT]...")
@_legacy_data_option
@ckpt_option()
@click.option(
    "--list",
    "list_file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Session folders to score, relative to DATA, one a line (a test split).",
)
@click.option(
    "--image",
    type=click.Choice(["mean", "im0", "im1", "im2", "im3"]),
    default="mean",
    show_default=True,
    help="Model input: the mean of the four images, or one of them.",
)
@_batch_option(16)
@_compare_option
@_json_option
@_report_option
@click.pass_obj
def photoface(
    g, paths, data, ckpts, list_file, image, batch_size, compare, json_out, report_dir
) -> None:
    """Photoface facial normals (paper Table 6): MAD and % of face pixels within 20/25/30 deg
    of the normals photometric stereo gives from each session's four images.

    DATA is the release's PhotofaceDB folder (SUBJECT/SESSION/im0..im3.bmp + LightSource.m);
    the protocol's choices (input, crop, mask, light convention) are in docs/benchmarks.md.
    Without CKPT: the bundled weights.

    \b
    Example:
      l2r benchmark photoface --data ~/data/PhotofaceDB runs/mutual --list test_sessions.txt
    """
    from l2r_cli.benchmark.photoface import evaluate_photoface
    from l2r_cli.device import resolve_device

    root, paths = data_root(data, paths, "photoface")
    device = resolve_device(g.device)
    results, prepared = [], None
    for c in _ckpts_arg(ckpts, paths) or [None]:
        res = evaluate_photoface(c, root, device, batch_size, list_file, image, None, prepared)
        prepared = res.prepared
        results.append(res)
    rows = [r.summary() for r in results]
    title = f"Photoface normals on {root} [input={image}]"
    cols = [("model", lambda r: str(r["name"])), ("n", lambda r: str(r["n"])),
            ("skipped", lambda r: str(r["n_skipped"])),
            ("MAD (deg.) ↓", lambda r: f"{r['mad_mean']:.2f} ± {r['mad_std']:.2f}"),
            *((f"< {t}° ↑", lambda r, t=t: f"{r[f'pct_under_{t}']:.1f}%")
              for t in (20, 25, 30))]  # fmt: skip
    table = results_table(title, rows, cols, compare, ("ΔMAD vs (1)", "mad_mean", "+.2f"))
    if json_out:
        payload = {"root": str(root), "list": str(list_file) if list_file else None,
                   "image": image, "results": rows}  # fmt: skip
        _write_json(json_out, payload)
    if report_dir:
        series = {r.name: r.mad for r in results}
        _report(report_dir, title, table, series, "per-face MAD (deg.)")
