"""The one rich Console of the program, plus progress and message helpers.

Everything user-facing goes through here so that distributed workers other than rank 0
stay quiet. The streams rule (docs/cli.md): results (tables, verdicts, JSON printed without a
file) go to stdout (``console``, :func:`info`); progress bars, per-item lines, "wrote X"
lines, notes and errors go to stderr (``err_console``, :func:`progress`, :func:`log`,
:func:`notice_once`, :func:`error`), so ``l2r ... > results.txt`` keeps only the results.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)

_notices_given: set[str] = set()


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a torchrun job."""
    return int(os.environ.get("RANK", "0")) == 0


def info(msg: str) -> None:
    """Print a result line to stdout (rank 0 only)."""
    if is_main_process():
        console.print(msg)


def log(msg: str) -> None:
    """Print a progress or status line ("wrote X", one line per item) to stderr (rank 0 only)."""
    if is_main_process():
        err_console.print(msg, soft_wrap=True)


def note(msg: str) -> None:
    """Print ``msg`` as a note to stderr (rank 0 only), every time."""
    if is_main_process():
        err_console.print(f"[yellow]note:[/yellow] {msg}", soft_wrap=True)


def notice_once(key: str, msg: str) -> None:
    """Print ``msg`` to stderr the first time ``key`` is seen in this process (rank 0 only)."""
    if key in _notices_given or not is_main_process():
        return
    _notices_given.add(key)
    err_console.print(f"[yellow]note:[/yellow] {msg}", soft_wrap=True)


def error(msg: str) -> None:
    """Print a one-line error to stderr."""
    err_console.print(f"[bold red]error:[/bold red] {msg}", soft_wrap=True)


class _Progress(Progress):
    """A progress bar that leaves nothing behind when the block it wraps fails, so that an
    error stays one line on stderr."""

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        if exc_type is not None:
            self.live.transient = True
        super().__exit__(exc_type, exc_val, exc_tb)


def progress(transient: bool = False) -> Progress:
    """A rich progress bar on stderr with count, elapsed time and ETA; disabled off rank 0;
    when stderr is not interactive it still prints a final state."""
    return _Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        transient=transient,
        disable=not is_main_process(),
        refresh_per_second=2 if not sys.stderr.isatty() else 10,
    )
