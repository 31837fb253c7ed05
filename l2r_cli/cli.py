"""The ``l2r`` command group: global options, subcommand registry, error -> exit code.

Exit codes: 0 success, 1 internal error (a bug: please report it), 2 bad input or usage,
130 interrupted.
"""

from __future__ import annotations

import os
import sys

import click

from l2r_cli import __version__
from l2r_cli.commands.options import GlobalOptions, L2RGroup
from l2r_cli.console import error
from l2r_cli.errors import L2RError


@click.group(
    cls=L2RGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    metavar="auto|cpu|cuda[:N]",
    help="Where to compute; auto picks CUDA when available.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Global random seed.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks and debug output.")
@click.version_option(__version__, prog_name="l2r")
@click.pass_context
def cli(ctx: click.Context, device: str, seed: int, verbose: bool) -> None:
    """l2r: restore high-quality 3D faces (geometry and albedo) from degraded photos.

    \b
    The pipeline, in order (each step reads what the one before wrote):
      synth / degrade   faces -> a dataset DATA (GT 'image', degraded 'lq')
    {stages}
      reconstruct       photos + a checkpoint (any run above, or bundled) -> meshes
      benchmark         DATA + checkpoints -> tables and JSON

    \b
    Example:
      l2r synth data/synth --n 2000 --seed 1
      l2r train-proxy --data data/synth --out runs/proxy --epochs 5
      l2r benchmark bfm --data data/synth runs/proxy

    The global options (--device, --seed, -v) may also follow the subcommand.
    """
    # Denormal floats (tiny gradients, Adam's second moments) slow CPU kernels by orders of
    # magnitude; flushing them to zero changes nothing a model can notice.
    import torch

    torch.set_flush_denormal(True)
    ctx.obj = GlobalOptions(device=device, seed=seed, verbose=verbose)


def _register() -> None:
    # Imported here so that `l2r --help` stays cheap and a broken optional command
    # cannot take the whole CLI down at import time of this module.
    from l2r_cli.commands import benchmark, degrade, info, reconstruct, synth, train
    from l2r_cli.commands.benchmark_detect import detect
    from l2r_cli.commands.benchmark_photos import photos
    from l2r_cli.commands.benchmark_speed import speed

    cli.add_command(synth.synth)
    cli.add_command(degrade.degrade)
    cli.command_sources.append(train.train_commands)  # one train-KIND per registered stage
    cli.add_command(reconstruct.reconstruct)
    cli.add_command(reconstruct.render_views)
    cli.add_command(reconstruct.export_weights)
    cli.add_command(info.info)
    benchmark.benchmark.add_command(detect)
    benchmark.benchmark.add_command(photos)
    benchmark.benchmark.add_command(speed)
    cli.add_command(benchmark.benchmark)
    lines = train.pipeline_lines(indent="      ")
    cli.help = (cli.help or "").replace("    {stages}", "      " + lines)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every failure into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in args or "-v" in args or os.environ.get("L2R_VERBOSE") == "1"
    try:
        cli.main(args=args, prog_name="l2r", standalone_mode=False)
    except click.exceptions.Abort:
        error("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except L2RError as exc:
        if verbose:
            raise
        error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence for users
        if verbose:
            raise
        error(f"internal error: {type(exc).__name__}: {exc} (rerun with --verbose for a traceback)")
        sys.exit(1)
    sys.exit(0)
