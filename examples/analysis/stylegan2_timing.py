"""Forward+backward time of a small StyleGAN2 generator and discriminator on the CPU
(docs/MEASUREMENTS.md, "StyleGAN2 prior and ARN"): 32 px, widths 64, style_dim 64, batch 16.

    OMP_NUM_THREADS=1 python examples/analysis/stylegan2_timing.py
"""

import time

import torch

from l2r_cli.models.stylegan2 import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

ch = {4: 64, 8: 64, 16: 64, 32: 64}
g = Generator(GeneratorConfig(size=32, style_dim=64, n_mlp=2, channels=ch))
d = Discriminator(DiscriminatorConfig(size=32, channels=ch))
z = torch.randn(16, 64)
x = torch.randn(16, 3, 32, 32, requires_grad=True)
for name, fn in (("G", lambda: g(z).mean().backward()), ("D", lambda: d(x).mean().backward())):
    fn()
    t = time.perf_counter()
    for _ in range(3):
        fn()
    print(f"{name} fwd+bwd {(time.perf_counter() - t) / 3:.3f} s")
