"""The import rules of docs/architecture.md that a refactor could silently break: inference
code does not pull in training code, and the modules worker processes import load no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded(module: str) -> set[str]:
    """The l2r_cli modules (and torch) that importing ``module`` in a fresh interpreter loads."""
    code = (
        f"import sys, {module}; "
        "print(' '.join(m for m in sys.modules if m.startswith('l2r_cli') or m == 'torch'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["l2r_cli.inference", "l2r_cli.predictor"])
def test_inference_does_not_import_training(module):
    loaded = _loaded(module)
    assert module in loaded
    assert not {m for m in loaded if m.startswith("l2r_cli.stages")}, loaded
    assert "l2r_cli.engine.trainer" not in loaded


@pytest.mark.parametrize(
    "module",
    ["l2r_cli.data.ingest", "l2r_cli.data.degrade_workers", "l2r_cli.data.schema",
     "l2r_cli.data.writer", "l2r_cli.data.degrade_state", "l2r_cli.fileio",
     "l2r_cli.data.face_template", "l2r_cli.faces", "l2r_cli.data.ingest_scan",
     "l2r_cli.data.ingest_image", "l2r_cli.data.ingest_crop"],
)  # fmt: skip
def test_worker_side_modules_load_no_torch(module):
    loaded = _loaded(module)
    assert module in loaded and "torch" not in loaded, loaded


def test_the_stage_registry_and_the_cli_help_load_no_torch():
    """`l2r --help` builds every train-KIND command from the registry without loading a model:
    the registry, every stage config and the CLI module are torch-free."""
    code = (
        "import sys; from l2r_cli.engine.registry import stage_specs; "
        "import l2r_cli.cli; kinds = [s.kind for s in stage_specs()]; "
        "print(' '.join(kinds), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["proxy", "prior", "arn", "grn", "mutual", "False"]
