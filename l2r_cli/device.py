"""Device selection for the global ``--device`` option."""

from __future__ import annotations

import torch

from l2r_cli.errors import L2RError


def resolve_device(spec: str) -> torch.device:
    """Turn ``auto | cpu | cuda | cuda:N`` into a torch.device; ``auto`` prefers CUDA."""
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise L2RError(
                f"--device {spec}: CUDA is not available on this machine (try --device cpu)"
            )
        if ":" in spec:
            idx_s = spec.split(":", 1)[1]
            if not idx_s.isdigit() or int(idx_s) >= torch.cuda.device_count():
                raise L2RError(f"--device {spec}: no such GPU (found {torch.cuda.device_count()})")
        return torch.device(spec)
    raise L2RError(f"--device {spec!r}: expected auto, cpu, cuda or cuda:N")
