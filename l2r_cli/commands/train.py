"""The ``l2r train-KIND`` commands, one per registered stage (``l2r_cli.engine.registry``).

Every command has the same frame: ``-d/--data``, ``-o/--out``, ``--config``, the stage's own
options (from its ``StageSpec``), the engine's options (epochs, batch size, budgets, workers,
checkpoints, TensorBoard), ``--resume`` and ``--dry-run``. Values resolve as defaults < TOML
file < flags; the defaults shown in help are the stage config's own.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import click

from l2r_cli.commands.options import renamed
from l2r_cli.config import resolve, to_dict, to_toml
from l2r_cli.console import console
from l2r_cli.engine.registry import CliOption, StageSpec, stage_specs

ENGINE_OPTIONS = (
    CliOption(("--epochs",), "train.epochs", "Passes over the training split.", click.IntRange(1)),
    CliOption(
        ("-b", "--batch-size"),
        "train.batch_size",
        "Global batch size (split over torchrun processes).",
        click.IntRange(1),
    ),
    CliOption(
        ("--max-steps",),
        "train.max_steps",
        "Stop after N optimizer steps in all (0 = no limit).",
        click.IntRange(0),
    ),
    CliOption(
        ("--max-minutes",),
        "train.max_minutes",
        "Stop after M minutes of training in all, then finish as at the end (0 = none).",
        click.FloatRange(min=0),
        metavar="M",
    ),
    CliOption(("--lr",), "optim.lr", "Learning rate.", click.FloatRange(min=0, min_open=True), "X"),
    CliOption(
        ("-j", "--workers"),
        "train.num_workers",
        "DataLoader worker processes per training process.",
        click.IntRange(0),
    ),
    CliOption(
        ("--val-images",),
        "train.val_images",
        "Items of the 'val' split scored after every epoch (0 = off).",
        click.IntRange(0),
    ),
    CliOption(
        ("--tensorboard/--no-tensorboard",),
        "train.tensorboard",
        "Also write TensorBoard event files into OUT/tensorboard.",
    ),
    CliOption(
        ("--ckpt-every",),
        "train.ckpt_every",
        "Write a checkpoint every STEPS steps (and at every epoch's end).",
        click.IntRange(1),
        metavar="STEPS",
    ),
)
"""The options every training command shares (the engine's settings)."""

RENAMED = {"--num-workers": "--workers"}
"""Old spellings every training command still accepts (with a note) in this release."""


def config_default(cls: type, key: str) -> Any:
    """The default of dotted ``key`` in run config class ``cls`` (None if it has none)."""
    node: Any = cls()
    for part in key.split("."):
        if not is_dataclass(node) or part not in {f.name for f in fields(node)}:
            return None
        node = getattr(node, part)
    return node


def _help_with_default(opt: CliOption, cls: type) -> str:
    default = config_default(cls, opt.key)
    if default is None or default == "":
        return opt.help
    if isinstance(default, bool):
        default = "yes" if default else "no"
    return f"{opt.help} [default: {default}]"


def _param_name(key: str) -> str:
    return "cfg__" + key.replace(".", "__")


def _click_option(opt: CliOption, cls: type) -> click.Option:
    kw: dict[str, Any] = {"help": _help_with_default(opt, cls)}
    if opt.is_switch:
        kw["default"] = None
    else:
        kw["type"] = opt.type
        kw["metavar"] = opt.metavar or _metavar(opt.type)
    return click.Option([*opt.flags, _param_name(opt.key)], **kw)


def _metavar(typ: Any) -> str | None:
    if isinstance(typ, click.Choice):
        return None
    if isinstance(typ, (click.IntRange,)) or typ is int:
        return "N"
    if isinstance(typ, click.FloatRange) or typ is float:
        return "X"
    return "VALUE" if typ is not None else None


def make_train_command(spec: StageSpec) -> click.Command:
    """The ``l2r train-KIND`` command of ``spec``."""
    own = tuple(spec.options)
    converters = {_param_name(o.key): o for o in own + ENGINE_OPTIONS}
    params: list[click.Parameter] = [
        click.Option(
            ["-d", "--data"],
            required=True,
            metavar="DIR",
            help="l2r dataset folder (made by `l2r synth` or `l2r degrade`).",
        ),
        click.Option(
            ["-o", "--out"], required=True, metavar="DIR", help="Run folder: checkpoints, logs."
        ),
        click.Option(
            ["--config", "config_file"], metavar="FILE.toml", help="TOML config (see --dry-run)."
        ),
        *(_click_option(o, spec.config) for o in own),
        *(_click_option(o, spec.config) for o in ENGINE_OPTIONS),
        click.Option(["--resume"], is_flag=True, help="Continue from OUT's last checkpoint."),
        click.Option(["--dry-run"], is_flag=True, help="Print the resolved config and exit."),
    ]

    @click.pass_obj
    def callback(g: Any, data: str, out: str, config_file: str | None, **kw: Any) -> None:
        resume, dry_run = kw.pop("resume"), kw.pop("dry_run")
        overrides: dict[str, Any] = {}
        for name, value in kw.items():
            opt = converters[name]
            if value is not None and opt.convert is not None:
                value = opt.convert(value)
            overrides[opt.key] = value
        run_command(spec, config_file, overrides, dry_run, data, out, resume, g)

    cmd = click.Command(
        spec.command, callback=callback, params=params, help=spec.help, short_help=spec.summary
    )
    return renamed({**RENAMED, **spec.renamed})(cmd)


def run_command(
    spec: StageSpec,
    config_file: str | None,
    overrides: dict[str, Any],
    dry_run: bool,
    data: str,
    out: str,
    resume: bool,
    g: Any,
) -> None:
    """Defaults < TOML < flags; print the resolved config with ``--dry-run``, else train."""
    cfg = resolve(spec.config, config_file, overrides)
    if dry_run:
        console.print(to_toml(to_dict(cfg)), end="", markup=False, highlight=False)
        return
    from l2r_cli.stages.run import run_stage

    run_stage(spec.kind, cfg, data=Path(data), out=Path(out), resume=resume, g=g)


def train_commands() -> list[click.Command]:
    """The training commands, in pipeline order."""
    return [make_train_command(s) for s in stage_specs()]


def pipeline_lines(indent: str = "      ") -> str:
    """The training steps of ``l2r --help``'s pipeline, one line per stage."""
    return f"\n{indent}".join(f"{s.command:<17} {s.pipeline}" for s in stage_specs())
