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


def workers_option(help: str, dest: str = "workers", **kw: Any) -> Callable[[F], F]:
    """``-j/--workers N``: worker processes."""
    return click.option(
        "-j", "--workers", dest, type=click.IntRange(min=0), metavar="N", help=help, **kw
    )


def batch_size_option(help: str, **kw: Any) -> Callable[[F], F]:
    """``-b/--batch-size N``: images per batch."""
    kw.setdefault("type", click.IntRange(min=1))
    return click.option("-b", "--batch-size", metavar="N", help=help, **kw)


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

    def list_commands(self, ctx: click.Context) -> list[str]:
        known = [n for n in _PIPELINE_ORDER if n in self.commands]
        return known + sorted(n for n in self.commands if n not in known)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, click.Group):
            cmd.params.extend(_global_params(cmd))
        super().add_command(cmd, name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        from l2r_cli.console import notice_once

        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None:
            rest = rewrite_renamed(cmd, rest, lambda m: notice_once(f"renamed:{m}", m))
        return name, cmd, rest
