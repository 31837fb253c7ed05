"""The command line's one vocabulary: the options every command spells the same way.

One name per idea, with the short flags of tools people know:

=================  =========================================================================
``-o/--out``       the folder a command writes (runs, results, datasets)
``-d/--data``      the dataset (or benchmark data) folder a command reads
``-j/--workers``   worker processes (data loading, degradation)
``-b/--batch-size`` images per batch
``-s/--size``      the resolution a command works at
``--split``        one dataset split (``train``/``val``/``test``)
``--input``        which image field a model sees (``image``, ``lq``, ``lq_<variant>``)
``--ckpt``         a checkpoint file or run folder, or ``bundled`` (also positional)
=================  =========================================================================

Renamed options keep working for one release: :func:`renamed` records the old spelling on a
command and the ``l2r`` group rewrites it (with a one-line note on stderr) before parsing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

RENAMED_ATTR = "l2r_renamed_options"
"""Attribute of a click command holding ``{old flag: new flag}`` (see :func:`renamed`)."""


def out_option(help: str, required: bool = True, **kw: Any) -> Callable[[F], F]:
    """``-o/--out DIR``: the folder the command writes."""
    return click.option("-o", "--out", required=required, metavar="DIR", help=help, **kw)


def data_option(help: str, required: bool = True, **kw: Any) -> Callable[[F], F]:
    """``-d/--data DIR``: the folder the command reads."""
    return click.option("-d", "--data", required=required, metavar="DIR", help=help, **kw)


def detector_option(help: str) -> Callable[[F], F]:
    """``--detector SPEC``: a face detector of :mod:`l2r_cli.detectors` (default
    :data:`l2r_cli.detectors.DEFAULT_DETECTOR`)."""
    from l2r_cli.detectors import DEFAULT_DETECTOR

    return click.option(
        "--detector", default=DEFAULT_DETECTOR, show_default=True, metavar="SPEC", help=help
    )


def model_option(help: str) -> Callable[[F], F]:
    """``--model auto|proxy|l2r``: which path reconstructs a face (docs/reconstruct.md)."""
    return click.option(
        "--model", type=click.Choice(["auto", "proxy", "l2r"]), default="auto",
        show_default=True, help=help,
    )  # fmt: skip


def workers_option(help: str, dest: str = "workers", **kw: Any) -> Callable[[F], F]:
    """``-j/--workers N``: worker processes."""
    return click.option(
        "-j", "--workers", dest, type=click.IntRange(min=0), metavar="N", help=help, **kw
    )


def batch_size_option(help: str, **kw: Any) -> Callable[[F], F]:
    """``-b/--batch-size N``: images per batch."""
    kw.setdefault("type", click.IntRange(min=1))
    return click.option("-b", "--batch-size", metavar="N", help=help, **kw)


def size_option(help: str, **kw: Any) -> Callable[[F], F]:
    """``-s/--size PX``: the resolution the command works at."""
    kw.setdefault("metavar", "PX")
    return click.option("-s", "--size", help=help, **kw)


def split_option(help: str = "Dataset split to read.", default: str = "test") -> Callable[[F], F]:
    """``--split NAME``: one split of a dataset (``train``, ``val``, ``test``)."""
    return click.option("--split", default=default, show_default=True, metavar="NAME", help=help)


INPUT_DEFAULT = "image"
"""The default of ``--input`` in every command that has it: the original (GT) images, as
``train-proxy`` trains by default; ``--input lq`` is the first degraded variant."""


def input_option(help: str | None = None, **kw: Any) -> Callable[[F], F]:
    """``--input image|lq``: which image field the model sees; the default is
    :data:`INPUT_DEFAULT` in every command."""
    return click.option(
        "--input",
        "input_field",
        type=click.Choice(["image", "lq"]),
        default=INPUT_DEFAULT,
        show_default=True,
        help=help
        or "Which images the model sees: the original 'image' (the paper's 'origin' rows) or "
        "the first degraded variant 'lq'.",
        **kw,
    )


BUNDLED = "bundled"
#: The word for the bundled L2R weights (l2r_cli/weights.py, ``DEFAULT_L2R_WEIGHTS``).
BUNDLED_L2R = "bundled-l2r"
"""The word that names the bundled weights wherever a checkpoint is taken."""


def ckpt_option(help: str = "", **kw: Any) -> Callable[[F], F]:
    """``--ckpt CKPT`` (repeatable): a checkpoint file, a run folder, or ``bundled``; the same
    checkpoints may be given as positional arguments."""
    return click.option(
        "--ckpt",
        "ckpts",
        multiple=True,
        metavar="CKPT",
        help=help or "Checkpoint file, run folder or 'bundled' (repeat; or give them as CKPT...).",
        **kw,
    )


def is_bundled(ckpt: str | Path | None) -> bool:
    """True for ``None`` and the word ``bundled`` (the bundled weights)."""
    return ckpt is None or str(ckpt) == BUNDLED


def resolve_ckpt(ckpt: str | Path | None) -> str | Path:
    """A checkpoint argument as a path: ``bundled`` (or None) -> the bundled weights' file
    (:func:`l2r_cli.weights.default_weights`, the one place that knows it); anything else as
    given (a file or run folder, checked by whoever loads it)."""
    if is_bundled(ckpt):
        from l2r_cli.weights import default_weights

        return default_weights()
    return ckpt  # type: ignore[return-value]


def data_root(data: Path | None, paths: tuple[str, ...], command: str) -> tuple[Path, tuple]:
    """``(data folder, checkpoints)`` of a benchmark taking ``-d/--data DIR [CKPT]...``.

    The old form ``l2r benchmark COMMAND ROOT [CKPT]...`` still works for one release: without
    ``--data`` the first positional argument is taken as the data folder, with a note."""
    if data is not None:
        return Path(data), paths
    if not paths:
        raise click.UsageError("Missing option '-d' / '--data'.")
    from l2r_cli.console import note

    note(
        f"`l2r benchmark {command} ROOT` is now `l2r benchmark {command} --data ROOT` "
        "(the old form goes in the next release)",
    )
    return Path(paths[0]), paths[1:]


def renamed(mapping: dict[str, str]) -> Callable[[click.Command], click.Command]:
    """Keep old option spellings working: ``@renamed({"--out-dir": "--out"})`` above
    ``@click.command`` makes ``--out-dir X`` (and ``--out-dir=X``) mean ``--out X`` with a
    deprecation note; the command's help ends with the list of renamed options."""

    def deco(cmd: click.Command) -> click.Command:
        old = dict(getattr(cmd, RENAMED_ATTR, {}))
        old.update(mapping)
        setattr(cmd, RENAMED_ATTR, old)
        lines = ", ".join(f"{o} -> {n}" for o, n in old.items())
        epilog = f"Renamed options (old names still work in this release): {lines}."
        cmd.epilog = epilog if not cmd.epilog else f"{cmd.epilog}\n\n{epilog}"
        return cmd

    return deco


def rewrite_renamed(cmd: click.Command, args: list[str], note: Callable[[str], None]) -> list[str]:
    """``args`` with every old spelling recorded on ``cmd`` by :func:`renamed` replaced by the
    new one; ``note`` is called once per old spelling used. Stops at ``--``."""
    table: dict[str, str] = getattr(cmd, RENAMED_ATTR, {})
    if not table:
        return args
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            out.extend(args[i:])
            break
        flag, eq, value = a.partition("=")
        if flag in table:
            note(f"{flag} is now {table[flag]} (the old name goes in the next release)")
            a = table[flag] + eq + value
        out.append(a)
    return out


@dataclass(frozen=True)
class GlobalOptions:
    """Options given before the subcommand, shared by all of them."""

    device: str = "auto"
    seed: int = 0
    verbose: bool = False


_PIPELINE_ORDER = (
    "synth",
    "degrade",
    "train-proxy",
    "train-prior",
    "train-arn",
    "train-grn",
    "train-mutual",
    "reconstruct",
    "render-views",
    "benchmark",
    "export-weights",
    "info",
)
"""The order ``l2r --help`` lists the commands in: the pipeline's, then the tools."""


def _set_global(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """Callback of a global option given after the subcommand: it overrides the group's."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or (name == "verbose" and not value):
            return
        ctx.obj = replace(
            ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions(), **{name: value}
        )

    return callback


def _global_params(cmd: click.Command) -> list[click.Option]:
    """``--device``, ``--seed`` and ``-v/--verbose`` for a subcommand that has none of its own
    (synth and degrade keep their ``--seed``, the seed of the data they make)."""
    taken = {o for p in cmd.params for o in getattr(p, "opts", [])}
    made = [
        click.Option(
            ["--device"],
            metavar="auto|cpu|cuda[:N]",
            expose_value=False,
            callback=_set_global("device"),
            help="Where to compute (as `l2r --device`).",
        ),
        click.Option(
            ["--seed"],
            type=int,
            expose_value=False,
            callback=_set_global("seed"),
            help="Global random seed (as `l2r --seed`).",
        ),
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_set_global("verbose"),
            help="Show tracebacks and debug output (as `l2r -v`).",
        ),
    ]
    return [o for o in made if not taken & set(o.opts)]


class L2RGroup(click.Group):
    """A click group that lists commands in pipeline order, accepts the global options after
    the subcommand too, and rewrites renamed options (see commands/options.py)."""

    command_sources: list[Callable[[], list[click.Command]]]
    """Callables giving commands made from a registry (the train-KIND commands); read on
    every lookup, so a stage registered after start-up gets its command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_sources = []
        self._sourced: set[str] = set()

    def _refresh(self) -> None:
        if not self.command_sources:
            return
        current = {c.name: c for source in self.command_sources for c in source()}
        for name in self._sourced - set(current):  # a stage unregistered since
            self.commands.pop(name, None)
        for name, cmd in current.items():
            if name not in self.commands:
                self.add_command(cmd)
        self._sourced = set(current)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._refresh()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._refresh()
        known = [n for n in _PIPELINE_ORDER if n in self.commands]
        return known + sorted(n for n in self.commands if n not in known)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, click.Group):
            cmd.params.extend(_global_params(cmd))
        super().add_command(cmd, name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        from l2r_cli.console import note

        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None:
            rest = rewrite_renamed(cmd, rest, note)
        return name, cmd, rest
