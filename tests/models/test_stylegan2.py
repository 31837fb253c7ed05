"""StyleGAN2 prior: reference outputs of a rosinality checkpoint, key/shape inference for the
official layouts, refusal of unsafe or mismatched files, save/load round trip, feature hook."""

from __future__ import annotations

import argparse
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from l2r_cli.errors import L2RError
from l2r_cli.models.stylegan2 import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    default_channels,
    minibatch_stddev,
)
from l2r_cli.models.stylegan2_io import (
    discriminator_from_state_dict,
    generator_from_state_dict,
    load_stylegan2,
    save_stylegan2,
    stylegan2_from_checkpoint,
)

FIXTURES = Path(__file__).parents[2].parent / "shared" / "fixtures"
CKPT = FIXTURES / "stylegan2_rosinality_64.pt"
IO = FIXTURES / "stylegan2_rosinality_64_io.pt"
FIXTURE_WIDTHS = {4: 64, 8: 64, 16: 48, 32: 32, 64: 32}


@pytest.fixture(scope="module")
def reference():
    if not (CKPT.is_file() and IO.is_file()):
        pytest.skip(f"StyleGAN2 fixtures not found in {FIXTURES}")
    torch.set_num_threads(1)
    g, d, latent_avg, info = load_stylegan2(CKPT)
    io = torch.load(IO, map_location="cpu", weights_only=True)
    return g, d, latent_avg, info, io


@pytest.fixture(scope="module")
def raw_ckpt(reference):
    return torch.load(CKPT, map_location="cpu", weights_only=True)


# ----------------------------------------------------------------------------- key/shape spec
# Rosinality's layout written out independently of the model code, from REFERENCE.md and the
# fixture README; test_spec_matches_fixture pins it to the real file.


def _styled(p: str, cin: int, cout: int, sd: int, up: bool) -> dict[str, tuple[int, ...]]:
    s = {f"{p}.conv.weight": (1, cout, cin, 3, 3)}
    if up:
        s[f"{p}.conv.blur.kernel"] = (4, 4)
    s |= {
        f"{p}.conv.modulation.weight": (cin, sd),
        f"{p}.conv.modulation.bias": (cin,),
        f"{p}.noise.weight": (1,),
        f"{p}.activate.bias": (cout,),
    }
    return s


def _to_rgb(p: str, cin: int, sd: int, up: bool) -> dict[str, tuple[int, ...]]:
    s: dict[str, tuple[int, ...]] = {f"{p}.bias": (1, 3, 1, 1)}
    if up:
        s[f"{p}.upsample.kernel"] = (4, 4)
    s |= {
        f"{p}.conv.weight": (1, 3, cin, 1, 1),
        f"{p}.conv.modulation.weight": (cin, sd),
        f"{p}.conv.modulation.bias": (cin,),
    }
    return s


def g_spec(size: int, sd: int, n_mlp: int, ch: dict[int, int]) -> dict[str, tuple[int, ...]]:
    s: dict[str, tuple[int, ...]] = {}
    for i in range(1, n_mlp + 1):
        s |= {f"style.{i}.weight": (sd, sd), f"style.{i}.bias": (sd,)}
    s["input.input"] = (1, ch[4], 4, 4)
    s |= _styled("conv1", ch[4], ch[4], sd, False) | _to_rgb("to_rgb1", ch[4], sd, False)
    cin, r, i = ch[4], 8, 0
    while r <= size:
        s |= _styled(f"convs.{2 * i}", cin, ch[r], sd, True)
        s |= _styled(f"convs.{2 * i + 1}", ch[r], ch[r], sd, False)
        cin, r, i = ch[r], r * 2, i + 1
    n_up = i
    for i in range(n_up):
        s |= _to_rgb(f"to_rgbs.{i}", ch[8 * 2**i], sd, True)
    for k in range(2 * n_up + 1):
        r = 2 ** ((k + 5) // 2)
        s[f"noises.noise_{k}"] = (1, 1, r, r)
    return s


def d_spec(size: int, ch: dict[int, int]) -> dict[str, tuple[int, ...]]:
    s = {"convs.0.0.weight": (ch[size], 3, 1, 1), "convs.0.1.bias": (ch[size],)}
    r, n = size, 1
    while r > 4:
        cin, cout = ch[r], ch[r // 2]
        s |= {
            f"convs.{n}.conv1.0.weight": (cin, cin, 3, 3),
            f"convs.{n}.conv1.1.bias": (cin,),
            f"convs.{n}.conv2.0.kernel": (4, 4),
            f"convs.{n}.conv2.1.weight": (cout, cin, 3, 3),
            f"convs.{n}.conv2.2.bias": (cout,),
            f"convs.{n}.skip.0.kernel": (4, 4),
            f"convs.{n}.skip.1.weight": (cout, cin, 1, 1),
        }
        r, n = r // 2, n + 1
    c4 = ch[4]
    s |= {
        "final_conv.0.weight": (c4, c4 + 1, 3, 3),
        "final_conv.1.bias": (c4,),
        "final_linear.0.weight": (c4, c4 * 16),
        "final_linear.0.bias": (c4,),
        "final_linear.1.weight": (1, c4),
        "final_linear.1.bias": (1,),
    }
    return s


def meta_state_dict(spec: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Tensors with the right shapes and no storage: official sizes cost nothing."""
    return {k: torch.empty(shape, device="meta") for k, shape in spec.items()}


def test_spec_matches_fixture(raw_ckpt):
    got_g = {k: tuple(v.shape) for k, v in raw_ckpt["g_ema"].items()}
    got_d = {k: tuple(v.shape) for k, v in raw_ckpt["d"].items()}
    assert got_g == g_spec(64, 64, 2, FIXTURE_WIDTHS)
    assert got_d == d_spec(64, FIXTURE_WIDTHS)


# ----------------------------------------------------------------------------- reference outputs


def test_fixture_architecture_inferred(reference):
    g, d, latent_avg, info, _ = reference
    assert (info.generator.size, info.generator.style_dim, info.generator.n_mlp) == (64, 64, 2)
    assert info.generator.widths() == FIXTURE_WIDTHS
    assert info.discriminator is not None and info.discriminator.widths() == FIXTURE_WIDTHS
    assert g.n_latent == 10 and g.num_layers == 9 and g.num_stages == 5
    assert latent_avg is not None and latent_avg.shape == (64,)
    assert info.has_latent_avg and info.ignored == ()


def test_reproduces_reference_outputs(reference):
    g, d, latent_avg, _, io = reference
    tol = {"atol": 1e-5, "rtol": 1e-5}
    with torch.no_grad():
        w = g.mapping(io["z"])
        torch.testing.assert_close(w, io["w"], **tol)
        img = g.synthesis(w, noise="stored")
        torch.testing.assert_close(img, io["img"], **tol)
        torch.testing.assert_close(g.synthesis(w[:1], noise="stored"), io["img_batch1"], **tol)
        torch.testing.assert_close(d(io["img"]), io["d_out"], **tol)
        torch.testing.assert_close(g.synthesis(io["wplus"], noise="stored"), io["img_wplus"], **tol)
        trunc = g.synthesis(w[:1], noise="stored", truncation=0.5, truncation_latent=latent_avg)
        torch.testing.assert_close(trunc, io["img_trunc05"], **tol)
        # forward(z) is synthesis(mapping(z)); random noise changes the image, stored does not.
        torch.testing.assert_close(g(io["z"], noise="stored"), io["img"], **tol)
        assert not torch.allclose(g(io["z"][:1]), io["img_batch1"], atol=1e-3)


def test_features_and_feature_hook(reference):
    g, _, _, _, io = reference
    w = io["w"][:2]
    with torch.no_grad():
        out = g.synthesis(w, noise="stored", return_features=True)
        assert [tuple(f.shape) for f in out.features] == [
            (2, c, r, r) for r, c in FIXTURE_WIDTHS.items()
        ]
        assert out.latents.shape == (2, 10, 64)
        torch.testing.assert_close(out.image, io["img"][:2], atol=1e-5, rtol=1e-5)

        seen: list[int] = []

        def identity(stage: int, x: torch.Tensor) -> torch.Tensor:
            seen.append(stage)
            return x

        same = g.synthesis(w, noise="stored", feature_fn=identity)
        assert seen == [0, 1, 2, 3, 4]
        torch.testing.assert_close(same, out.image, atol=0, rtol=0)

        def guide_first_two(stage: int, x: torch.Tensor) -> torch.Tensor:
            return x + 0.5 if stage < 2 else x

        guided = g.synthesis(w, noise="stored", return_features=True, feature_fn=guide_first_two)
        assert not torch.allclose(guided.image, out.image)
        torch.testing.assert_close(guided.features[0], out.features[0] + 0.5)

        with pytest.raises(ValueError, match="feature_fn changed stage 0"):
            g.synthesis(w, feature_fn=lambda s, x: x[:, :1])
        with pytest.raises(ValueError, match="truncation_latent"):
            g.synthesis(w, truncation=0.7)


def test_minibatch_stddev_groups():
    x = torch.randn(6, 5, 4, 4)
    y = minibatch_stddev(x, 4)  # 4 does not divide 6: groups of 3
    assert y.shape == (6, 6, 4, 4)
    # samples i and i + B/G share a group, so rows 0 and 2 (B/G = 2) see the same statistic
    torch.testing.assert_close(y[0, 5], y[2, 5])
    ref = torch.sqrt(x[0::2].var(0, unbiased=False) + 1e-8).mean()
    torch.testing.assert_close(y[0, 5, 0, 0], ref)


# ----------------------------------------------------------------------------- official layouts


def test_default_channels_are_rosinality_table():
    assert default_channels(1024, 2) == {
        4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32
    }  # fmt: skip
    assert default_channels(256, 1) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128,
                                        256: 64}  # fmt: skip
    with pytest.raises(ValueError):
        default_channels(48)


@pytest.mark.parametrize(("size", "mult", "n_noise"), [(1024, 2, 17), (256, 2, 13), (256, 1, 13)])
def test_official_layouts_load(size, mult, n_noise):
    ch = default_channels(size, mult)
    gsd = meta_state_dict(g_spec(size, 512, 8, ch))
    assert sum(k.startswith("noises.") for k in gsd) == n_noise
    g = generator_from_state_dict(gsd)
    assert g.cfg == GeneratorConfig(size=size, style_dim=512, n_mlp=8, channel_multiplier=mult)
    assert g.n_latent == 2 * (size.bit_length() - 1) - 2
    d = discriminator_from_state_dict(meta_state_dict(d_spec(size, ch)))
    assert d.cfg == DiscriminatorConfig(size=size, channel_multiplier=mult)
    if size == 1024:
        assert g.n_latent == 18 and len(g.convs) == 16 and len(g.to_rgbs) == 8
        # the parameter count printed for the official config-f generator
        assert sum(p.numel() for p in g.parameters()) == 30_370_060


def test_official_checkpoint_dict_with_extras():
    ch = default_channels(1024, 2)
    gsd = meta_state_dict(g_spec(1024, 512, 8, ch))
    ckpt = {
        "g_ema": gsd,
        "g": gsd,
        "d": meta_state_dict(d_spec(1024, ch)),
        "latent_avg": torch.zeros(512),
        "args": argparse.Namespace(size=1024),
    }
    g, d, latent_avg, info = stylegan2_from_checkpoint(ckpt, "ffhq.pt")
    assert g.size == 1024 and d is not None and d.size == 1024
    assert latent_avg is not None and latent_avg.shape == (512,)
    assert info.ignored == ("args", "g")


# ----------------------------------------------------------------------------- bad files


def _write(path: Path, obj) -> Path:
    torch.save(obj, path)
    return path


def test_missing_key_named(raw_ckpt, tmp_path):
    g = dict(raw_ckpt["g_ema"])
    del g["convs.3.noise.weight"]
    del g["to_rgbs.1.conv.weight"]  # a width source: inference must still find the width
    p = _write(tmp_path / "m.pt", {"g_ema": g})
    with pytest.raises(L2RError) as e:
        load_stylegan2(p)
    msg = str(e.value)
    assert "\n" not in msg and "missing" in msg
    assert "convs.3.noise.weight" in msg and "to_rgbs.1.conv.weight" in msg


def test_missing_last_stage_key_named(raw_ckpt, tmp_path):
    g = dict(raw_ckpt["g_ema"])
    del g["noises.noise_8"]  # dropping the last noise map must not shrink the model
    with pytest.raises(L2RError, match=r"missing noises\.noise_8"):
        load_stylegan2(_write(tmp_path / "n.pt", {"g_ema": g}))


def test_wrong_shape_named(raw_ckpt, tmp_path):
    g = dict(raw_ckpt["g_ema"])
    g["convs.3.conv.weight"] = torch.zeros(1, 48, 40, 3, 3)
    p = _write(tmp_path / "s.pt", {"g_ema": g})
    with pytest.raises(L2RError, match=r"wrong shape convs\.3\.conv\.weight \[1, 48, 40, 3, 3\]"):
        load_stylegan2(p)
    d = dict(raw_ckpt["d"])
    d["final_linear.1.weight"] = torch.zeros(2, 64)
    with pytest.raises(L2RError, match=r"d does not fit.*final_linear\.1\.weight \[2, 64\]"):
        load_stylegan2(_write(tmp_path / "d.pt", {"g_ema": raw_ckpt["g_ema"], "d": d}))


def test_unexpected_key_and_bad_latent_avg(raw_ckpt, tmp_path):
    g = dict(raw_ckpt["g_ema"])
    g["style.1.extra"] = torch.zeros(3)
    with pytest.raises(L2RError, match=r"unexpected style\.1\.extra"):
        load_stylegan2(_write(tmp_path / "u.pt", {"g_ema": g}))
    bad = {"g_ema": raw_ckpt["g_ema"], "latent_avg": torch.zeros(3)}
    with pytest.raises(L2RError, match="latent_avg"):
        load_stylegan2(_write(tmp_path / "l.pt", bad))


def test_rosinality_training_checkpoint_loads(raw_ckpt, tmp_path):
    # rosinality's train.py saves its argparse options and optimizer states beside the weights
    ckpt = dict(raw_ckpt, g=raw_ckpt["g_ema"], g_optim={}, args=argparse.Namespace(size=64))
    g, d, _, info = load_stylegan2(_write(tmp_path / "train.pt", ckpt))
    assert g.size == 64 and d is not None and info.ignored == ("args", "g", "g_optim")


def test_not_a_stylegan2_file(raw_ckpt, tmp_path):
    with pytest.raises(L2RError, match="not found"):
        load_stylegan2(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file at all")
    with pytest.raises(L2RError, match="not a readable PyTorch file"):
        load_stylegan2(tmp_path / "junk.pt")
    with pytest.raises(L2RError, match="bare generator state_dict"):
        load_stylegan2(_write(tmp_path / "bare.pt", raw_ckpt["g_ema"]))
    with pytest.raises(L2RError, match="no 'g_ema'"):
        load_stylegan2(_write(tmp_path / "other.pt", {"model": {}}))


class _RunsCode:
    """Unpickling this calls exec(): what a malicious 'checkpoint' would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


@pytest.mark.parametrize(
    ("name", "protocol"), [("evil.pt", None), ("evil.pkl", 2), ("evil4.pkl", 4)]
)
def test_code_executing_pickle_refused(tmp_path, name, protocol):
    marker = tmp_path / "marker"
    path = tmp_path / name
    if protocol is None:
        torch.save({"g_ema": _RunsCode(marker)}, path)
    else:  # a plain pickle, like NVIDIA's official .pkl files
        path.write_bytes(pickle.dumps({"G_ema": _RunsCode(marker)}, protocol=protocol))
    with pytest.raises(L2RError) as e:
        load_stylegan2(path)
    msg = str(e.value)
    assert "\n" not in msg and ("convert_weight.py" in msg) == (protocol is not None)
    if protocol != 4:  # protocol 4 is already stopped at its first FRAME opcode
        assert "refused" in msg and re.search(r"needs \S*exec\)", msg)
    assert not marker.exists()
    # the payload is real: an unsafe load would have run it
    with open(path, "rb") as fh:
        if protocol is None:
            torch.load(fh, weights_only=False)
        else:
            pickle.load(fh)
    assert marker.read_text() == "pwned"


# ----------------------------------------------------------------------------- round trip


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 8, 16: 8}))
    d = Discriminator(DiscriminatorConfig(size=16, channels={4: 16, 8: 16, 16: 8}))
    with torch.no_grad():
        for p in list(g.parameters()) + list(d.parameters()):
            p.add_(0.1 * torch.randn_like(p))
    latent_avg = g.mean_latent(64, generator=torch.Generator().manual_seed(1))
    path = tmp_path / "prior.pt"
    save_stylegan2(path, g, d, latent_avg)
    g2, d2, la2, info = load_stylegan2(path)
    assert g2.cfg.widths() == {4: 16, 8: 8, 16: 8} and g2.cfg.style_dim == 16
    assert info.discriminator is not None
    assert info.discriminator.widths() == {4: 16, 8: 16, 16: 8}
    assert d2 is not None and la2 is not None
    for a, b in ((g, g2), (d, d2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    torch.testing.assert_close(la2, latent_avg, atol=0, rtol=0)
    z = torch.randn(3, 16)
    with torch.no_grad():
        img = g(z, noise="stored", truncation=0.7, truncation_latent=latent_avg)
        img2 = g2(z, noise="stored", truncation=0.7, truncation_latent=la2)
        torch.testing.assert_close(img2, img, atol=0, rtol=0)
        assert img.shape == (3, 3, 16, 16)
        torch.testing.assert_close(d2(img), d(img), atol=0, rtol=0)
        assert d(img).shape == (3, 1)
    # the loaded copy trains like a freshly built one
    assert all(p.requires_grad for p in g2.parameters())
    g2(z, noise="zero").mean().backward()
    assert g2.input.input.grad is not None


@pytest.mark.parametrize("first", ["l2r_cli.models.stylegan2", "l2r_cli.models.stylegan2_io"])
def test_weight_file_names_still_importable_from_stylegan2(first):
    # stylegan2_io imports stylegan2, which serves the io names lazily: either module may be
    # imported first (a fresh interpreter, so no earlier import hides a cycle).
    code = (
        f"import {first}\n"
        "from l2r_cli.models import stylegan2, stylegan2_io\n"
        "from l2r_cli.models.stylegan2 import *\n"
        "for n in stylegan2_io.__all__:\n"
        "    assert getattr(stylegan2, n) is getattr(stylegan2_io, n), n\n"
        "assert load_stylegan2 is stylegan2_io.load_stylegan2\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
