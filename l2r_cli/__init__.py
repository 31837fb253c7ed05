"""l2r: Learning to Restore 3D faces from degraded images (Zhang et al., CVPR 2022).

The library behind the ``l2r`` command. Sub-packages follow the pipeline:
``data`` (datasets, synth), ``render`` (our differentiable renderer), ``models`` (networks),
``engine`` (one training loop), ``stages`` (what each paper stage trains), ``metrics``.
"""

__version__ = "0.1.0"
