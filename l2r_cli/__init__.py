"""l2r: Learning to Restore 3D faces from degraded images (Zhang et al., CVPR 2022).

The library behind the ``l2r`` command. Sub-packages follow the pipeline:
``data`` (datasets, synth), ``render`` (our differentiable renderer), ``models`` (networks),
``engine`` (one training loop), ``stages`` (what each paper stage trains), ``metrics``.
"""

__version__ = "0.1.0"

__all__ = ["Reconstructor", "__version__"]


def __getattr__(name: str):
    # Lazy, so that `import l2r_cli` (and `l2r --help`) does not load torch and dlib.
    if name == "Reconstructor":
        from l2r_cli.reconstruct import Reconstructor

        return Reconstructor
    raise AttributeError(f"module 'l2r_cli' has no attribute {name!r}")
