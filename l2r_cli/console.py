"""The one rich Console of the program, plus progress and message helpers.

Everything user-facing goes through here so that distributed workers other than rank 0
stay quiet and errors land on stderr.
"""

from __future__ import annotations

import os
import sys

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
    """Print an informational line (rank 0 only)."""
    if is_main_process():
        console.print(msg)


def notice_once(key: str, msg: str) -> None:
    """Print ``msg`` to stderr the first time ``key`` is seen in this process (rank 0 only)."""
    if key in _notices_given or not is_main_process():
        return
    _notices_given.add(key)
    err_console.print(f"[yellow]note:[/yellow] {msg}")


def error(msg: str) -> None:
    """Print a one-line error to stderr."""
    err_console.print(f"[bold red]error:[/bold red] {msg}", soft_wrap=True)


def progress(transient: bool = False) -> Progress:
    """A rich progress bar with count, elapsed time and ETA; disabled off rank 0 or off a TTY
    when stdout is not interactive it still prints a final state."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=transient,
        disable=not is_main_process(),
        refresh_per_second=2 if not sys.stdout.isatty() else 10,
    )
