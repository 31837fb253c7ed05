"""The stage registry: every training stage declared once, read by the CLI, the run start-up,
the inference loader, the predictor and ``l2r info``.

A stage is two files: its ``Stage`` subclass (``l2r_cli/stages/NAME.py``) and its config
(``l2r_cli/configs/NAME.py``), which holds the run config dataclass and ends with
``register_stage(StageSpec(...))``. From that one declaration come

- the ``l2r train-NAME`` command: the shared options (``--data``, ``--out``, ``--config``,
  the engine's ``--epochs``, ``--batch-size``, ...) plus the spec's own :class:`CliOption`\\ s,
  each mapped onto a dotted config key; the defaults shown in help are the config's;
- the run: ``stages/run.py`` calls the stage class's ``prepare`` (checks before any process
  starts) and ``create`` (the stage and its training dataset);
- inference: a spec with a ``loader`` names a checkpoint kind that holds a model to run
  (``inference.MODEL_KINDS``, ``load_model``), labelled ``label`` in benchmark tables;
- ``l2r --help``'s pipeline line (``pipeline``) and ``l2r info``'s description of a checkpoint
  of that kind.

This module is torch-free: the CLI reads it to build ``l2r --help`` without loading models.
Built-in specs are found by importing every module of ``l2r_cli.configs``; a stage defined
elsewhere (a plug-in, a test) calls :func:`register_stage` itself.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CliOption:
    """One command-line option of a stage, mapped onto a config key.

    ``flags``: click's spelling (``("--nf",)`` or ``("--use-prior/--no-use-prior",)`` for a
    switch); ``key``: the dotted config key (``"model.nf"``); ``help``: one line, to which the
    help adds the config's default; ``type``: a click type (None for a switch); ``convert``:
    applied to the parsed value before it reaches the config (e.g. ``int`` for a size Choice).
    """

    flags: tuple[str, ...]
    key: str
    help: str
    type: Any = None
    metavar: str | None = None
    convert: Callable[[Any], Any] | None = None

    @property
    def is_switch(self) -> bool:
        """A ``--x/--no-x`` boolean option."""
        return any("/" in f for f in self.flags)


@dataclass(frozen=True)
class StageSpec:
    """What the rest of l2r needs to know about a training stage.

    ``kind``: the name stored in checkpoints and used in ``train-KIND``; ``config``: its run
    config dataclass (sections ``train`` and ``optim`` with the engine's fields); ``stage``:
    ``"module:Class"`` of its ``Stage`` subclass (imported only to train); ``summary``: the
    one-line help; ``help``: the command's long help (paper section, examples); ``pipeline``:
    what it reads and writes, one line for ``l2r --help``; ``order``: its place in the
    pipeline; ``options``: its own command-line options; ``sources``: config keys naming input
    checkpoints (``"sources.proxy"``; ``l2r info`` shows them, ``bundled`` is accepted there);
    ``loader``: ``"module:function"`` reading one of its checkpoints for inference
    (``(path, device, ckpt) -> inference.LoadedModel``), None when its checkpoints hold no
    model to run; ``label``: its name in benchmark tables; ``renamed``: old option spellings
    that still work (``{"--image-size": "--size"}``).
    """

    kind: str
    config: type
    stage: str
    summary: str
    help: str
    pipeline: str
    order: int
    options: tuple[CliOption, ...] = ()
    sources: tuple[str, ...] = ()
    loader: str | None = None
    label: str = ""
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The CLI command that trains it."""
        return f"train-{self.kind}"


_SPECS: dict[str, StageSpec] = {}
_BUILTINS_LOADED = False


def register_stage(spec: StageSpec) -> StageSpec:
    """Add ``spec`` (a second spec of the same kind replaces the first: tests re-register)."""
    _SPECS[spec.kind] = spec
    return spec


def unregister_stage(kind: str) -> None:
    """Remove a registered stage (tests that add a toy stage clean up with this)."""
    _SPECS.pop(kind, None)


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    import l2r_cli.configs as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def stage_specs() -> list[StageSpec]:
    """Every registered stage, in pipeline order."""
    _load_builtins()
    return sorted(_SPECS.values(), key=lambda s: (s.order, s.kind))


def stage_spec(kind: str) -> StageSpec:
    """The spec of ``kind`` (KeyError naming the known kinds otherwise)."""
    _load_builtins()
    if kind not in _SPECS:
        raise KeyError(f"unknown stage {kind!r} (known: {', '.join(sorted(_SPECS))})")
    return _SPECS[kind]


def model_kinds() -> tuple[str, ...]:
    """Checkpoint kinds holding a model to run (specs with a loader), in pipeline order."""
    return tuple(s.kind for s in stage_specs() if s.loader)


def resolve_ref(ref: str) -> Any:
    """Import ``"module:name"``."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)
