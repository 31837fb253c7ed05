"""ARN (paper sec. 4.1): shapes and range, a frozen prior that still passes gradients, the
w+ expansion rule, every ablation switch of Table 3, config validation, the paper preset."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
import torch

from l2r_cli.errors import L2RError
from l2r_cli.models.arn import (
    ARN,
    ArnConfig,
    latent_code_index,
    paper_preset,
)
from l2r_cli.models.stylegan2 import Generator, GeneratorConfig
from l2r_cli.models.stylegan2_io import load_stylegan2

FIXTURES = Path(__file__).parents[2].parent / "shared" / "fixtures"

# 32 px generator, 4 stages (4, 8, 16, 32), 8 w+ rows; narrow everywhere.
TINY_G = GeneratorConfig(size=32, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8})
TINY = ArnConfig(
    generator=TINY_G,
    input_size=16,
    albedo_size=16,
    output_size=32,
    guided_stages=2,
    prior_stages=2,
    nf=4,
    zdim=16,
    mapping_layers=2,
)


def _generator(cfg: ArnConfig = TINY, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    g = Generator(cfg.generator)
    with torch.no_grad():  # non-zero noise strengths, so a noise mistake shows
        for m in g.modules():
            if type(m).__name__ == "NoiseInjection":
                m.weight.fill_(0.3)
    return g


def _arn(cfg: ArnConfig = TINY, seed: int = 0) -> ARN:
    g = _generator(cfg, seed) if cfg.use_prior else None
    torch.manual_seed(seed + 1)
    return ARN(cfg, g)


def _inputs(b: int = 2, lq: int = 8, albedo: int = 16, seed: int = 2):
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.rand(b, 3, lq, lq, generator=gen) * 2 - 1,
        torch.rand(b, 3, albedo, albedo, generator=gen) * 2 - 1,
    )


# ----------------------------------------------------------------------------- forward


def test_output_shape_and_range():
    arn = _arn()
    lq, albedo = _inputs()
    out = arn.restore(lq, albedo)
    assert out.albedo.shape == (2, 3, 32, 32)
    assert torch.isfinite(out.albedo).all()
    assert out.albedo.abs().max() <= 1
    assert out.styles.shape == (2, 4, 16)
    assert out.latents.shape == (2, TINY_G.n_latent, 16)
    assert out.generator_image.shape == (2, 3, 32, 32)
    assert torch.equal(arn(lq, albedo), out.albedo)


def test_input_is_resized_and_checked():
    arn = _arn()
    _, albedo = _inputs()
    for side in (8, 16, 32):  # up, as is, down
        assert arn(torch.zeros(2, 3, side, side), albedo).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="lq must be"):
        arn(torch.zeros(2, 3, 8, 16), albedo)
    with pytest.raises(ValueError, match="proxy_albedo must be"):
        arn(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="required"):
        arn(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="batch sizes"):
        arn(torch.zeros(2, 3, 8, 8), albedo[:1])


def test_deterministic_with_constant_noise():
    lq, albedo = _inputs()
    for noise in ("zero", "stored"):
        arn = _arn(dataclasses.replace(TINY, noise=noise))
        assert torch.equal(arn(lq, albedo), arn(lq, albedo))
    zero = _arn(TINY)(lq, albedo)
    stored = _arn(dataclasses.replace(TINY, noise="stored"))(lq, albedo)
    assert not torch.allclose(zero, stored)


def test_priors_larger_than_output_are_pooled():
    arn = _arn(dataclasses.replace(TINY, output_size=8, prior_stages=3))
    lq, albedo = _inputs()
    assert arn(lq, albedo).shape == (2, 3, 8, 8)


def test_state_dict_round_trip():
    arn = _arn()
    other = _arn(seed=5)
    lq, albedo = _inputs()
    assert not torch.allclose(arn(lq, albedo), other(lq, albedo))
    other.load_state_dict(arn.state_dict(), strict=True)
    assert torch.equal(arn(lq, albedo), other(lq, albedo))


# ----------------------------------------------------------------------------- frozen prior


def test_frozen_generator_gets_no_gradient_and_stays_unchanged():
    arn = _arn()
    arn.train()
    assert not arn.generator.training  # eval even when the ARN trains
    assert arn.style_encoder.training
    gen_ids = {id(p) for p in arn.generator.parameters()}
    trainable = arn.trainable_parameters()
    assert trainable and not gen_ids & {id(p) for p in trainable}
    assert all(not p.requires_grad for p in arn.generator.parameters())

    gen_before = {k: v.clone() for k, v in arn.generator.state_dict().items()}
    rest_before = {
        n: p.detach().clone() for n, p in arn.named_parameters() if not n.startswith("generator.")
    }
    opt = torch.optim.Adam(trainable, lr=1e-2)
    lq, albedo = _inputs()
    loss = (arn(lq, albedo) - 0.5).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    assert all(p.grad is None for p in arn.generator.parameters())
    for part in ("style_encoder", "albedo_encoder", "fusion", "decoder"):  # gradient reaches all
        grads = [p.grad for p in getattr(arn, part).parameters()]
        assert all(g is not None for g in grads), part
        assert sum(g.abs().sum() for g in grads) > 0, part
    opt.step()
    for k, v in arn.generator.state_dict().items():
        assert torch.equal(v, gen_before[k]), k
    params = dict(arn.named_parameters())
    changed = {n for n, v in rest_before.items() if not torch.equal(params[n], v)}
    for prefix in ("style_encoder.", "albedo_encoder.", "fusion.", "decoder."):
        assert any(n.startswith(prefix) for n in changed), prefix
    arn.eval()
    assert not arn.training and not arn.generator.training


def test_guidance_fusion_starts_as_identity_on_generator_features():
    arn = _arn()
    fuse = arn.fusion[0]
    feat = torch.randn(2, 16, 4, 4)
    guide = torch.zeros(2, arn.albedo_encoder.channels[0], 4, 4)
    assert torch.allclose(fuse(guide, feat), feat, atol=1e-6)


def test_latent_avg_offsets_the_codes():
    g = _generator()
    avg = torch.randn(16)
    a0 = ARN(TINY, g)
    torch.manual_seed(1)
    a1 = ARN(TINY, _generator(), latent_avg=avg)
    a1.style_encoder.load_state_dict(a0.style_encoder.state_dict())
    lq, _ = _inputs()
    assert torch.allclose(a1.style_codes(lq), a0.style_codes(lq) + avg)
    with pytest.raises(L2RError, match="latent_avg"):
        ARN(TINY, _generator(), latent_avg=torch.zeros(15))


# ----------------------------------------------------------------------------- w+ expansion


def test_latent_code_index_rule():
    # rows: conv1 | to_rgb1+conv | conv | to_rgb+conv | conv | to_rgb+conv | conv | to_rgb
    assert latent_code_index(4, 4) == [0, 1, 1, 2, 2, 3, 3, 3]
    assert latent_code_index(4, 2) == [0, 0, 0, 1, 1, 1, 1, 1]
    assert latent_code_index(4, 1) == [0] * 8
    assert latent_code_index(9, 9) == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 8]
    with pytest.raises(ValueError):
        latent_code_index(4, 5)


def test_multi_style_codes_reach_their_rows():
    arn = _arn()
    out = arn.restore(*_inputs())
    for j, c in enumerate(latent_code_index(4, 4)):
        assert torch.equal(out.latents[:, j], out.styles[:, c])
    assert not torch.allclose(out.latents[:, 0], out.latents[:, -1])


# ----------------------------------------------------------------------------- ablations


def test_single_style_broadcasts_one_code():
    arn = _arn(dataclasses.replace(TINY, multi_style=False, n_styles=3))  # n_styles ignored
    out = arn.restore(*_inputs())
    assert out.styles.shape == (2, 1, 16)
    assert torch.equal(out.latents, out.styles.expand(-1, TINY_G.n_latent, -1))
    assert arn.style_encoder.head.weight.shape[0] == 16


def test_no_spatial_guidance_ignores_the_albedo():
    arn = _arn(dataclasses.replace(TINY, spatial_guidance=False))
    assert arn.albedo_encoder is None and arn.fusion is None
    assert not any(n.startswith(("albedo_encoder.", "fusion.")) for n, _ in arn.named_parameters())
    lq, a1 = _inputs(seed=3)
    _, a2 = _inputs(seed=4)
    out = arn(lq, a1)
    assert torch.equal(out, arn(lq, a2))
    assert torch.equal(out, arn(lq))
    guided = _arn()  # the full model does depend on it
    assert not torch.allclose(guided(lq, a1), guided(lq, a2))


def test_no_prior_trains_a_random_generator():
    cfg = dataclasses.replace(TINY, use_prior=False)
    with pytest.raises(L2RError, match="from scratch"):
        ARN(cfg, _generator())
    torch.manual_seed(0)
    arn = ARN(cfg)
    arn.train()
    assert arn.generator.training
    trainable = {id(p) for p in arn.trainable_parameters()}
    for n, p in arn.generator.named_parameters():
        unused = n.startswith(("style.", "to_rgb1.", "to_rgbs."))
        assert (id(p) in trainable) != unused, n
    before = {n: p.detach().clone() for n, p in arn.generator.named_parameters()}
    opt = torch.optim.Adam(arn.trainable_parameters(), lr=1e-2)
    loss = (arn(*_inputs()) - 0.5).pow(2).mean()
    loss.backward()
    opt.step()
    after = dict(arn.generator.named_parameters())
    for n in ("input.input", "conv1.conv.weight", "convs.0.conv.weight", "convs.5.activate.bias"):
        assert not torch.equal(after[n], before[n]), n
    assert torch.equal(after["style.1.weight"], before["style.1.weight"])


def test_no_prior_decoder_uses_the_generator_rgb():
    arn = _arn(dataclasses.replace(TINY, prior_decoder=False, prior_stages=99))  # m ignored
    assert arn.decoder is None
    out = arn.restore(*_inputs())
    assert torch.equal(out.albedo, out.generator_image.clamp(-1, 1))
    small = _arn(dataclasses.replace(TINY, prior_decoder=False, output_size=16))
    out = small.restore(*_inputs())
    pooled = torch.nn.functional.avg_pool2d(out.generator_image, 2).clamp(-1, 1)
    assert torch.allclose(out.albedo, pooled)
    torch.manual_seed(0)
    scratch = ARN(dataclasses.replace(TINY, prior_decoder=False, use_prior=False))
    trainable = {id(p) for p in scratch.trainable_parameters()}
    assert id(scratch.generator.to_rgbs[0].conv.weight) in trainable  # RGB in use: trainable
    assert id(scratch.generator.style[1].weight) not in trainable


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"guided_stages": 5}, "guided_stages"),
        ({"guided_stages": 0}, "guided_stages"),
        ({"guided_stages": 4}, "finer than"),  # 32x32 guidance from a 16x16 albedo
        ({"prior_stages": 5}, "prior_stages"),
        ({"prior_stages": 0}, "prior_stages"),
        ({"n_styles": 0}, "n_styles"),
        ({"n_styles": 5}, "n_styles"),
        ({"output_size": 24}, "output_size"),
        ({"output_size": 64}, "output_size"),
        ({"input_size": 8}, "input_size"),
        ({"albedo_size": 48}, "albedo_size"),
        ({"nf": 0}, "nf"),
        ({"mapping_layers": 0}, "mapping_layers"),
        ({"mapping_lr_mul": 0.0}, "mapping_lr_mul"),
        ({"noise": "fresh"}, "noise"),
        ({"generator": GeneratorConfig(size=48)}, "power of two"),
    ],
)
def test_impossible_configs_are_refused(change, message):
    with pytest.raises(L2RError, match=message):
        dataclasses.replace(TINY, **change)


def test_generator_must_match_and_is_required():
    with pytest.raises(L2RError, match="needs the pretrained"):
        ARN(TINY)
    other = Generator(dataclasses.replace(TINY_G, channels={4: 16, 8: 16, 16: 8, 32: 4}))
    with pytest.raises(L2RError, match="does not match"):
        ARN(TINY, other)


def test_loaded_checkpoint():
    ckpt = FIXTURES / "stylegan2_rosinality_64.pt"
    if not ckpt.is_file():
        pytest.skip(f"StyleGAN2 fixture not found in {FIXTURES}")
    g, _, latent_avg, info = load_stylegan2(ckpt)
    cfg = dataclasses.replace(TINY, generator=info.generator, output_size=32, prior_stages=3)
    arn = ARN(cfg, g, latent_avg)
    lq, albedo = _inputs(b=1)
    out = arn.restore(lq, albedo)
    assert out.albedo.shape == (1, 3, 32, 32)
    assert torch.allclose(arn.w_avg, latent_avg)
    assert out.latents.shape == (1, 10, 64)


# ----------------------------------------------------------------------------- paper preset


def test_paper_preset_values():
    cfg = paper_preset()
    assert cfg.generator.size == 1024 and cfg.generator.style_dim == 512
    assert cfg.generator.widths()[1024] == 32 and cfg.num_stages == 9
    assert (cfg.num_codes, cfg.guided_stages, cfg.prior_stages) == (9, 4, 4)
    assert (cfg.input_size, cfg.albedo_size, cfg.output_size) == (64, 64, 256)
    # the defaults are the paper's (n = None means one code per stage: 9 here)
    assert dataclasses.replace(cfg, n_styles=None) == ArnConfig()


def test_paper_preset_forward_batch1():
    cfg = paper_preset()
    torch.manual_seed(0)
    arn = ARN(cfg, Generator(cfg.generator)).eval()
    lq = torch.rand(1, 3, 32, 32) * 2 - 1  # the paper's degraded input
    albedo = torch.rand(1, 3, 64, 64) * 2 - 1
    t0 = time.perf_counter()
    with torch.no_grad():
        out = arn.restore(lq, albedo)
    print(f"paper preset forward (batch 1): {time.perf_counter() - t0:.1f} s")
    assert out.albedo.shape == (1, 3, 256, 256)
    assert out.latents.shape == (1, 18, 512)
    assert torch.isfinite(out.albedo).all() and out.albedo.abs().max() <= 1
