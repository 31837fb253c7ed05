"""`l2r benchmark ...`: the paper's evaluation protocols and speed measurements."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from l2r_cli.console import console, info


@click.group("benchmark")
def benchmark() -> None:
    """Evaluate checkpoints (bfm) and measure speed (speed)."""


@benchmark.command("bfm")
@click.option("--data", required=True, metavar="DIR", help="l2r dataset with GT depth.")
@click.option(
    "--ckpt", "ckpts", multiple=True, metavar="CKPT", help="Checkpoint file or run dir (repeat)."
)
@click.option("--baseline", is_flag=True, help="Add the constant-depth baseline row.")
@click.option("--split", default="test", show_default=True, metavar="NAME")
@click.option(
    "--input",
    "input_field",
    type=click.Choice(["image", "lq"]),
    default="image",
    show_default=True,
    help="Evaluate on the original or the degraded images.",
)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "json_out", metavar="FILE", help="Also write the results as JSON.")
@click.pass_obj
def bfm(g, data, ckpts, baseline, split, input_field, batch_size, json_out) -> None:
    """SIDE and MAD (mean ± std) on a test split, Unsup3D's BFM protocol (paper Table 4).

    \b
    Example:
      l2r benchmark bfm --data data/synth_test --ckpt runs/proxy --baseline --json bfm.json
    """
    from l2r_cli.benchmark.bfm import evaluate_bfm
    from l2r_cli.device import resolve_device
    from l2r_cli.errors import L2RError
    from l2r_cli.predictor import ConstantDepthPredictor, load_predictor

    if not ckpts and not baseline:
        raise L2RError("nothing to evaluate: give --ckpt CKPT (repeatable) and/or --baseline")
    device = resolve_device(g.device)
    predictors = [load_predictor(c, device) for c in ckpts]
    if baseline:
        size = predictors[0].image_size if predictors else 64
        predictors.append(ConstantDepthPredictor(image_size=size))
    rows = []
    for p in predictors:
        res = evaluate_bfm(p, data, split, input_field, batch_size, device)
        rows.append(res.summary())
    t = Table(title=f"BFM protocol on {data} [{split}, input={input_field}]")
    for col in ("model", "n", "SIDE (×10⁻²) ↓", "MAD (deg.) ↓"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            str(r["name"]),
            str(r["n"]),
            f"{r['side_x100_mean']:.3f} ± {r['side_x100_std']:.3f}",
            f"{r['mad_mean']:.2f} ± {r['mad_std']:.2f}",
        )
    console.print(t)
    if json_out:
        payload = {"data": str(data), "split": split, "input": input_field, "results": rows}
        Path(json_out).write_text(json.dumps(payload, indent=2))
        info(f"wrote {json_out}")


@benchmark.command("speed")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--image-size", default=64, show_default=True, type=click.Choice(["32", "64", "128"]))
@click.option("--nf", default=64, show_default=True, type=click.IntRange(min=4))
@click.option("--repeats", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--num-workers", default=2, show_default=True, type=click.IntRange(min=0))
@click.option("--data", metavar="DIR", help="Read batches from this dataset (default: temp data).")
@click.option("--json", "json_out", metavar="FILE", help="Also write the results as JSON.")
@click.pass_obj
def speed(g, batch_size, image_size, nf, repeats, num_workers, data, json_out) -> None:
    """Per-step time of the proxy's nets vs renderer vs losses vs data loading, and img/s.

    \b
    Example:
      l2r benchmark speed --batch-size 16 --image-size 64
    """
    from l2r_cli.benchmark.speed import run_speed
    from l2r_cli.device import resolve_device

    device = resolve_device(g.device)
    res = run_speed(
        batch_size,
        int(image_size),
        nf,
        repeats,
        3,
        num_workers,
        Path(data) if data else None,
        device,
    )
    base = res[0].seconds
    t = Table(title=f"train-proxy step parts, {image_size}px, batch {batch_size}, {device}")
    for col in ("part", "ms / step", "img/s", "× nets fwd+bwd"):
        t.add_column(col)
    for r in res:
        t.add_row(
            r.name,
            f"{r.seconds * 1e3:.1f}",
            f"{r.images_per_second:.1f}",
            f"{r.seconds / base:.3f}",
        )
    console.print(t)
    if json_out:
        payload = {
            "device": str(device),
            "batch_size": batch_size,
            "image_size": int(image_size),
            "nf": nf,
            "torch_threads": __import__("torch").get_num_threads(),
            "timings": [
                {"name": r.name, "seconds": r.seconds, "img_per_s": r.images_per_second}
                for r in res
            ],
        }
        Path(json_out).write_text(json.dumps(payload, indent=2))
        info(f"wrote {json_out}")
