"""`l2r synth OUT`: procedural faces with exact depth, albedo, view and light (docs/synth.md)."""

from __future__ import annotations

from pathlib import Path

import click

from l2r_cli.commands.options import batch_size_option, renamed, size_option
from l2r_cli.console import log, progress


def _parse_splits(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, ...]:
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        raise click.BadParameter("expected three numbers like 0.8,0.1,0.1") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise click.BadParameter("expected three non-negative numbers like 0.8,0.1,0.1")
    return parts


@renamed({"--splits": "--split"})
@click.command("synth")
@click.argument("out", type=click.Path(path_type=Path, file_okay=False), metavar="OUT")
@click.option(
    "--n",
    "n",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    metavar="N",
    help="Number of faces over all splits.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    metavar="INT",
    help="Random seed; face i depends only on (seed, i).  [default: the global --seed, 0]",
)
@size_option(
    "Image size (square).",
    type=click.IntRange(min=16, max=1024),
    default=64,
    show_default=True,
)
@click.option(
    "--split",
    "splits",
    default="0.8,0.1,0.1",
    show_default=True,
    callback=_parse_splits,
    metavar="TRAIN,VAL,TEST",
    help="Split fractions (normalised to sum to 1).",
)
@click.option(
    "--yaw-range",
    type=click.FloatRange(0, 90),
    default=60.0,
    show_default=True,
    metavar="DEG",
    help="Yaw is uniform in +-DEG.",
)
@click.option(
    "--pitch-range",
    type=click.FloatRange(0, 90),
    default=30.0,
    show_default=True,
    metavar="DEG",
    help="Pitch is uniform in +-DEG.",
)
@click.option(
    "--roll-range",
    type=click.FloatRange(0, 180),
    default=10.0,
    show_default=True,
    metavar="DEG",
    help="Roll is uniform in +-DEG.",
)
@click.option(
    "--xy-trans-range",
    type=click.FloatRange(0, 0.05),
    default=0.01,
    show_default=True,
    metavar="T",
    help="x/y translation is uniform in +-T (the frame is 0.175 wide at depth 1).",
)
@click.option(
    "--supersample",
    type=click.IntRange(1, 8),
    default=3,
    show_default=True,
    metavar="K",
    help="Render at K x the size and area-average (anti-aliasing).",
)
@batch_size_option("Faces rendered at once (does not change the data).", default=32,
                   show_default=True)  # fmt: skip
@click.option(
    "--preview",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE.png",
    help="Also save a sheet of the first 8 faces: image, depth, canonical albedo and depth.",
)
@click.option(
    "--version",
    type=click.IntRange(1, 2),
    default=2,
    show_default=True,
    metavar="1|2",
    help="Generator version: 1 = the original faces (bit for bit), 2 = varied identities, "
    "expressions, fine detail, occluders and cluttered backgrounds.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output in OUT.")
@click.pass_context
def synth(ctx: click.Context, out: Path, seed: int | None, preview: Path | None, **options) -> None:
    """Make procedural faces with exact ground truth: an l2r dataset in OUT (for train-proxy and
    benchmark bfm) and the same faces in Unsup3D's synface PNG layout in OUT/synface.

    Each face is a random parametric surface and albedo, Lambertian-shaded and posed by the
    renderer the 3D proxy learns; depth, mask, canonical depth/albedo, view and light are stored.
    See docs/synth.md.

    \b
    Example:
      l2r synth data/synth --n 2000 --seed 1
      l2r synth data/synth_v1 --n 2000 --seed 1 --version 1
      l2r synth /tmp/tiny --n 16 --size 64 --split 0.5,0.25,0.25 --preview /tmp/tiny.png
    """
    from l2r_cli.data.synth import SynthConfig, generate, write_preview

    if seed is None:
        seed = getattr(ctx.obj, "seed", 0)
    cfg = SynthConfig(out=str(out), seed=seed, **options)
    with progress() as bar:
        task = bar.add_task("synth", total=cfg.n, status="")
        counts = generate(cfg, on_batch=lambda k: bar.advance(task, k))
    if preview is not None:
        write_preview(cfg, preview)
    log(
        f"wrote {cfg.n} faces to {out} (train {counts['train']}, val {counts['val']}, "
        f"test {counts['test']}); PNGs in {out / 'synface'}"
    )
