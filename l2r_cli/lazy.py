"""Names a module exports but loads only on first use (PEP 562), so that importing it stays
cheap: ``l2r --help`` must not load torch, reading a checkpoint must not load the trainer."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_attributes(module: str, sources: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``module``: ``name`` in ``sources`` is imported from
    the module path ``sources[name]`` on first use and cached in ``module``; any other name is
    an AttributeError."""

    def __getattr__(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(sources[name]), name)
        setattr(sys.modules[module], name, value)
        return value

    return __getattr__
