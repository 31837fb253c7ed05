"""`l2r degrade SRC OUT`: photos -> ground truth + degraded inputs (docs/degradation.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from l2r_cli.commands.options import workers_option
from l2r_cli.console import log, progress
from l2r_cli.errors import L2RError


def _parse_split(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, ...]:
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise L2RError(
            f"--split expects three non-negative numbers like 0.8,0.1,0.1, got {value!r}"
        )
    return parts


def _parse_rgb(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int, int]:
    try:
        rgb = tuple(int(x) for x in value.split(","))
    except ValueError:
        rgb = ()
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise L2RError(
            f"--background expects three integers in 0..255 like 255,255,255, got {value!r}"
        )
    return rgb  # type: ignore[return-value]


class _CropOption(click.Option):
    """``--crop center|none|bbox FILE``: after ``bbox`` the next word is the box list.

    click options take a fixed number of values, so the parser entry is wrapped to pull the
    FILE after ``bbox`` from the remaining arguments. ``--crop bbox:FILE`` works too.
    """

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for opt in self.opts:
            entry = getattr(parser, "_long_opt", {}).get(opt)
            if entry is None:
                continue
            process = entry.process

            def take_file(value: Any, state: Any, _process=process) -> None:
                if value == "bbox" and state.rargs and not state.rargs[0].startswith("-"):
                    value = f"bbox:{state.rargs.pop(0)}"
                _process(value, state)

            entry.process = take_file


def _parse_crop(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, str | None]:
    mode, _, file = value.partition(":")
    if mode not in ("center", "none", "bbox"):
        raise L2RError(f"--crop expects center, none or 'bbox FILE', got {value!r}")
    if mode == "bbox" and not file:
        raise L2RError("--crop bbox needs the box list: --crop bbox FILE")
    if mode != "bbox" and file:
        raise L2RError(f"--crop {mode} takes no file")
    return mode, file or None


def _default_workers() -> int:
    from l2r_cli.data.degrade_run import available_cpus

    return available_cpus()


@click.command("degrade")
@click.argument("src", type=click.Path(path_type=Path), metavar="SRC")
@click.argument("out", type=click.Path(path_type=Path), metavar="OUT")
@click.option(
    "--gt-size",
    type=click.IntRange(8, 4096),
    default=256,
    show_default=True,
    metavar="PX",
    help="Ground-truth size (square); a multiple of --lq-size.",
)
@click.option(
    "--lq-size",
    type=click.IntRange(4, 1024),
    default=32,
    show_default=True,
    metavar="PX",
    help="Degraded size (square); smaller images are skipped.",
)
@click.option(
    "--variants",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    metavar="K",
    help="Degraded variants per image, each with its own random parameters.",
)
@click.option(
    "--split",
    default="0.8,0.1,0.1",
    show_default=True,
    callback=_parse_split,
    metavar="TRAIN,VAL,TEST",
    help="Split fractions; a file's split depends only on the seed and its path.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    metavar="INT",
    help="Random seed.  [default: the global --seed, 0]",
)
@workers_option(
    "Worker processes; 0 = all in this process. Does not change the output.",
    default=_default_workers,
    show_default="number of CPUs",
)
@click.option(
    "--crop",
    cls=_CropOption,
    default="center",
    show_default=True,
    callback=_parse_crop,
    metavar="center|none|bbox FILE",
    help="Centre square; whole image (stretched if not square); or a square around each "
    "file's box from FILE (CelebA: 'fname [split] x0 y0 w h').",
)
@click.option(
    "--crop-scale",
    type=float,
    default=1.0,
    show_default=True,
    metavar="F",
    help="With --crop center: the square's side as a fraction of the shorter side "
    "(Unsup3D's BFM test set: 170/256 = 0.6640625).",
)
@click.option(
    "--layout",
    type=click.Choice(["auto", "folder", "synface"]),
    default="auto",
    show_default=True,
    help="synface: SPLIT/image + SPLIT/depth folders (depth kept, splits kept).",
)
@click.option(
    "--background",
    default="255,255,255",
    show_default=True,
    callback=_parse_rgb,
    metavar="R,G,B",
    help="Colour under transparent pixels.",
)
@click.option(
    "--gt-filter",
    type=click.Choice(["lanczos", "bicubic", "bilinear", "area"]),
    default="lanczos",
    show_default=True,
    help="Resize filter for the ground truth.",
)
@click.option(
    "--shard-size",
    type=click.IntRange(min=1),
    default=128,
    hidden=True,
    help="Files per resumable shard (testing).",
)
@click.option("--overwrite", is_flag=True, help="Replace a different earlier output in OUT.")
@click.pass_context
def degrade(
    ctx: click.Context, src: Path, out: Path, seed: int | None, crop: tuple, **options
) -> None:
    """Turn the photos in SRC into an l2r dataset in OUT: ground truth (GT) at --gt-size and
    K degraded variants at --lq-size with their parameters, per split (paper sec. 5).

    SRC is searched recursively (png, jpg, webp, bmp, ppm, tif, gif), or read as Unsup3D's
    synface layout, whose depth maps are carried along. Unusable files are listed in
    OUT/skipped.tsv. Interrupted runs resume when the same command is run again; the output is
    the same whatever --workers is. See docs/degradation.md.

    \b
    Example:
      l2r degrade ffhq/ data/ffhq_deg --gt-size 256 --lq-size 32 --variants 4 --seed 0
      l2r degrade celeba/img_celeba data/celeba --crop bbox celeba/list_bbox_celeba.txt
      l2r degrade data/synth/synface data/synth_deg --gt-size 64 --lq-size 16
    """
    from l2r_cli.data.degrade_run import DegradeRunConfig, run_degrade, summary_line

    if seed is None:
        seed = getattr(ctx.obj, "seed", 0)
    mode, bbox_file = crop
    cfg = DegradeRunConfig(
        src=str(src), out=str(out), seed=seed, crop=mode, bbox_file=bbox_file, **options
    )
    with progress() as bar:
        task = bar.add_task("degrade", total=None, status="scanning")

        class _Progress:
            def start(self, total: int, done: int) -> None:
                bar.update(task, total=total, completed=done, status="")

            def advance(self, n: int, written: int, skipped: int) -> None:
                bar.update(task, advance=n, status=f"written {written}, skipped {skipped}")

        summary = run_degrade(cfg, _Progress())
    log(summary_line(summary))
