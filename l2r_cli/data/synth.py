"""Procedural faces with exact ground truth (``l2r synth``).

A stand-in for Unsup3D's synface data (BFM faces on random backgrounds; REFERENCE.md,
"Evaluation") that needs no download. Every sample is made by the image-formation model the
proxy learns (paper sec. 3, Unsup3D eqn. 1): a canonical (frontal) depth map and albedo, Lambertian
shading under a global light in the canonical frame, then a rigid view warp by our renderer.
So the stored canonical depth, albedo, view and light are the exact factors of the image.

Stages of one batch:

1. :func:`sample_params` draws every random number of one sample from a generator seeded by
   (seed, index) alone, so a sample does not depend on the batch it is made in.
2. :func:`canonical_depth` evaluates a parametric face surface (head ellipsoid, brow ridge, eye
   sockets, nose, cheeks, lips, chin, jaw) on the pixel rays of the Unsup3D camera;
   :func:`canonical_albedo` paints skin, hair line, brows, eyes, nostrils and lips on the same grid
   (both in :mod:`l2r_cli.data.synth_face`, re-exported here).
3. :func:`render_batch` shades the canonical albedo, warps it into the random view at
   ``supersample`` x the output size, composites it over a background and area-averages down; the
   image-view depth and mask are rendered at the output size (exact depth at pixel centres).
4. :func:`generate` writes Unsup3D's synface PNG layout and an l2r HDF5 dataset.

The parameter table the draws follow, with the palettes and the landmark layout, is plain data in
:mod:`l2r_cli.data.face_template` (torch-free, so that :mod:`l2r_cli.faces` can read its means).

This module is version 1 (``SynthConfig.version = 1``, bit for bit the original faces) and the
shared output code; version 2, the default (anthropometric identity spreads, shape modes,
expressions, a fine-detail layer, occluders, clutter), is :mod:`l2r_cli.data.synth_v2`.

Coordinates: ``(u, v)`` are ray slopes in units of tan(fov/2), i.e. u = (x - cx) / (cx) at the
output size S, so u = -1 and u = 1 are the centres of the first and last pixel columns; v points
down like the image y axis. Lengths of facial features are in these units; heights of the surface
(towards the camera) are in camera depth units, where the frame is 2 tan(5 deg) = 0.175 wide at
depth 1.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from l2r_cli.data.face_template import N_UNIFORMS, PARAMS, param_mean
from l2r_cli.data.synth_face import (
    background,
    canonical_albedo,
    canonical_depth,
    face_height,
    face_mask,
    ray_grid,
)
from l2r_cli.errors import L2RError
from l2r_cli.render.camera import intrinsics
from l2r_cli.render.renderer import Renderer
from l2r_cli.render.shading import Light, normals_from_depth, shade

GENERATOR = "l2r-synth"
"""Name of this generator in the dataset manifest's ``source``."""

GENERATOR_VERSION = 2
"""The default generator version (``--version``); a version's data never changes, a change of the
data makes a new version. Version 1 is the original face, version 2 the varied one
(:mod:`l2r_cli.data.synth_v2`)."""

VERSIONS = (1, 2)

MIN_DEPTH = 0.9
"""Near end of Unsup3D's depth range; every depth this generator makes is inside it."""

MAX_DEPTH = 1.1
"""Far end of Unsup3D's depth range; also the depth of background pixels (synface convention)."""

SPLIT_NAMES = ("train", "val", "test")

__all__ = [
    "GENERATOR",
    "GENERATOR_VERSION",
    "MAX_DEPTH",
    "MIN_DEPTH",
    "SPLIT_NAMES",
    "VERSIONS",
    "SampleParams",
    "SynthBatch",
    "SynthConfig",
    "background",
    "canonical_albedo",
    "canonical_depth",
    "check_config",
    "decode_depth",
    "encode_depth",
    "face_height",
    "face_mask",
    "generate",
    "param_mean",
    "preview_grid",
    "ray_grid",
    "render_batch",
    "sample_params",
    "sample_seed",
    "split_counts",
    "views_and_lights",
    "write_preview",
]

# Largest depth a face pixel may have so that its 8-bit code is >= 1 and decodes below MAX_DEPTH.
_MAX_FACE_DEPTH = MAX_DEPTH - 0.6 * (MAX_DEPTH - MIN_DEPTH) / 255


@dataclass(frozen=True)
class SynthConfig:
    """Everything ``l2r synth`` needs; recorded in the dataset manifest as ``source.args``."""

    out: str = "data/synth"
    """Output directory: the l2r dataset, with the synface PNGs under ``synface/``."""
    n: int = 2000
    """Number of samples over all splits."""
    seed: int = 0
    """Random seed; sample i depends only on (seed, i)."""
    size: int = 64
    """Output image size S (square)."""
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """Fractions of train, val, test (normalised to sum to 1)."""
    yaw_range: float = 60.0
    """Yaw (rotation about the vertical axis) is uniform in +-this many degrees."""
    pitch_range: float = 30.0
    """Pitch is uniform in +-this many degrees."""
    roll_range: float = 10.0
    """Roll is uniform in +-this many degrees."""
    xy_trans_range: float = 0.01
    """x and y translation are uniform in +-this (camera units; the frame is 0.175 wide)."""
    fov: float = 10.0
    """Field of view of the camera in degrees (Unsup3D: 10)."""
    supersample: int = 3
    """Render images at this many times the size, then area-average (anti-aliasing)."""
    batch_size: int = 32
    """Samples rendered at once (does not change the data)."""
    overwrite: bool = False
    """Replace an existing dataset and synface folder in ``out``."""
    version: int = GENERATOR_VERSION
    """Generator version: 1 = the original faces (bit for bit), 2 = varied identities,
    expressions, fine detail, occluders and clutter (docs/synth.md)."""


@dataclass(frozen=True)
class SynthBatch:
    """One rendered batch; S = output size.

    image: (B, S, S, 3) uint8, the posed face over its background.
    depth: (B, S, S) float32 in the image view; background pixels are exactly MAX_DEPTH.
    mask: (B, S, S) uint8, 1 where the face covers the pixel centre (= depth < MAX_DEPTH).
    canon_depth: (B, S, S) float32 frontal depth; MAX_DEPTH outside ``canon_mask``.
    canon_albedo: (B, S, S, 3) uint8 frontal albedo; 0 outside ``canon_mask``.
    canon_mask: (B, S, S) uint8, 1 on the face surface in the canonical view.
    view: (B, 6) float32 [pitch, yaw, roll (radians), tx, ty, tz] in the renderer's convention.
    light: (B, 4) float32 [ambient, diffuse, dx, dy]; direction = normalize(dx, dy, 1).

    Version 2 only (None in version 1):
    detail_depth: (B, S, S) float32, the fine-detail part of ``canon_depth`` (0 off the mask).
    occluder_mask: (B, S, S) uint8, 1 where hair or glasses cover the face in the image.
    light_color: (B, 3) float32 RGB factor of the light (the image is tinted by it).
    expression: (B, 4) float32 [mouth_open, smile, brow_raise, eyes_closed], 0 = neutral.
    shape_modes: (B, K) float32 identity mode coefficients (unit normal).
    """

    image: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    canon_depth: np.ndarray
    canon_albedo: np.ndarray
    canon_mask: np.ndarray
    view: np.ndarray
    light: np.ndarray
    detail_depth: np.ndarray | None = None
    occluder_mask: np.ndarray | None = None
    light_color: np.ndarray | None = None
    expression: np.ndarray | None = None
    shape_modes: np.ndarray | None = None

    @classmethod
    def of(
        cls,
        rgb: Tensor,
        depth: Tensor,
        face: Tensor,
        canon_depth: Tensor,
        canon_mask: Tensor,
        canon_albedo: Tensor,
        view: Tensor,
        light: Tensor,
        **extra: np.ndarray,
    ) -> SynthBatch:
        """The batch from the renderer's tensors (rgb (B, 3, S, S) and canon_albedo in [0, 1],
        face and canon_mask bool, canon_depth defined everywhere: MAX_DEPTH off the mask) plus
        the version-2 fields in ``extra``, already as arrays."""
        return cls(
            image=_to_uint8(rgb),
            depth=depth.numpy().astype(np.float32),
            mask=face.numpy().astype(np.uint8),
            canon_depth=torch.where(canon_mask, canon_depth, MAX_DEPTH).numpy().astype(np.float32),
            canon_albedo=_to_uint8(canon_albedo),
            canon_mask=canon_mask.numpy().astype(np.uint8),
            view=view.numpy().astype(np.float32),
            light=light.numpy().astype(np.float32),
            **extra,
        )


# -- random parameters ------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleParams:
    """The random draw of one sample: named scalars and its noise textures.

    values: {name: float} for every entry of the parameter table.
    noise: {name: Tensor} textures, shapes fixed by the output size and supersampling.
    """

    values: dict[str, float]
    noise: dict[str, Tensor]
    version: int = 1


def sample_seed(seed: int, index: int) -> int:
    """A 63-bit generator seed that depends only on (seed, index)."""
    state = np.random.SeedSequence([seed, index]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def sample_params(
    seed: int, index: int, size: int, supersample: int, version: int = 1
) -> SampleParams:
    """Draw sample ``index``'s parameters and noise textures from a generator seeded by
    (seed, index) only (noise at the rendering size S * supersample), for generator ``version``.
    """
    if version == 2:
        from l2r_cli.data.synth_v2 import sample_params_v2

        return sample_params_v2(seed, index, size, supersample)
    g = torch.Generator().manual_seed(sample_seed(seed, index))
    uni = torch.rand(N_UNIFORMS, generator=g, dtype=torch.float64)
    values = {name: lo + (hi - lo) * float(uni[i]) for i, (name, lo, hi) in enumerate(PARAMS)}
    hi_res = size * supersample
    noise = {
        # low-frequency skin colour variation, upsampled smoothly
        "mottle": torch.randn(3, 7, 7, generator=g),
        # per-pixel grain and freckle field at the rendering size
        "grain": torch.randn(1, hi_res, hi_res, generator=g),
        "freckle": torch.rand(1, hi_res, hi_res, generator=g),
        # hair strands: noise stretched along the strands (vertical in a frontal view)
        "hair": torch.randn(1, hi_res // 8, hi_res // 2, generator=g),
        # background texture: coarse colour blobs and fine grain
        "bg_coarse": torch.rand(3, 5, 5, generator=g),
        "bg_fine": torch.randn(3, 16, 16, generator=g),
    }
    return SampleParams(values=values, noise=noise)


def _stack(params: list[SampleParams]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Per-sample params -> ({name: (B, 1, 1)} float32, {noise: (B, ...)})."""
    names = params[0].values.keys()
    vals = {
        k: torch.tensor([p.values[k] for p in params], dtype=torch.float32).view(-1, 1, 1)
        for k in names
    }
    noise = {k: torch.stack([p.noise[k] for p in params]) for k in params[0].noise}
    return vals, noise


# -- rendering --------------------------------------------------------------------------------


def views_and_lights(
    p: dict[str, Tensor], cfg: SynthConfig, min_diffuse: float = 0.2
) -> tuple[Tensor, Light, Tensor]:
    """View (B, 6) in the renderer's convention, the Light, and its 4 stored numbers (B, 4);
    the diffuse term spans [min_diffuse, 1.05 - ambient] (version 1: 0.2, version 2: 0.15)."""
    deg = math.pi / 180
    g = {k: t.view(-1) for k, t in p.items()}
    view = torch.stack(
        [
            g["pitch"] * cfg.pitch_range * deg,
            g["yaw"] * cfg.yaw_range * deg,
            g["roll"] * cfg.roll_range * deg,
            g["tx"] * cfg.xy_trans_range,
            g["ty"] * cfg.xy_trans_range,
            torch.zeros_like(g["tx"]),
        ],
        dim=1,
    )
    ambient = g["ambient"]
    diffuse = min_diffuse + g["diffuse"] * (1.05 - ambient - min_diffuse)
    raw = torch.stack([ambient, diffuse, g["light_dx"], g["light_dy"]], dim=1)
    direction = torch.stack([g["light_dx"], g["light_dy"], torch.ones_like(ambient)], dim=1)
    light = Light(ambient, diffuse, direction / direction.norm(dim=1, keepdim=True))
    return view, light, raw


def _mask_faces(renderer: Renderer, mask: Tensor) -> Tensor:
    """Grid triangles (B, F, 3) whose three vertices are on the face; the others collapse to a
    degenerate triangle, which the rasterizer skips."""
    b = mask.shape[0]
    keep = mask.reshape(b, -1)[:, renderer.faces].all(-1)  # (B, F)
    return torch.where(keep[..., None], renderer.faces, torch.zeros_like(renderer.faces))


def _hi_res_fov(size: int, supersample: int, fov: float) -> float:
    """Field of view of the supersampled camera whose sub-pixels average to the output camera's
    pixels: focal length x supersample, and the same principal point after pooling."""
    n = size * supersample
    half = math.tan(math.radians(fov) / 2) * (n - 1) / (supersample * (size - 1))
    return math.degrees(2 * math.atan(half))


def render_batch(params: list[SampleParams], cfg: SynthConfig) -> SynthBatch:
    """Render the samples of ``params`` (see :class:`SynthBatch` for what comes out); they must
    be drawn for ``cfg.version``."""
    if any(q.version != cfg.version for q in params):
        raise L2RError(f"samples drawn for another generator version than {cfg.version}")
    if cfg.version == 2:
        from l2r_cli.data.synth_v2 import render_batch_v2

        return render_batch_v2(params, cfg)
    s, ss = cfg.size, cfg.supersample
    p, noise = _stack(params)
    view, light, light_raw = views_and_lights(p, cfg)

    # Image: shade the canonical albedo in the canonical frame, warp it, composite, pool.
    hi = Renderer(s * ss, fov=_hi_res_fov(s, ss, cfg.fov), min_depth=MIN_DEPTH, max_depth=MAX_DEPTH)
    u, v = ray_grid(s, ss)
    depth_hi, mask_hi = canonical_depth(p, u, v)
    albedo_hi = canonical_albedo(p, noise, u, v, aa=1.5 / ((s - 1) / 2) / ss)
    canon_image, _ = shade(albedo_hi * 2 - 1, hi.normals(depth_hi), light)
    out = hi.render(canon_image, depth_hi, view, faces=_mask_faces(hi, mask_hi))
    rgb = (out.image + 1) / 2 * out.mask + background(p, noise, u, v) * (1 - out.mask)
    rgb = F.avg_pool2d(rgb, ss)

    # Depth and mask: the canonical surface at the output size, warped (exact at pixel centres).
    u, v = ray_grid(s)
    depth_lo, mask_lo = canonical_depth(p, u, v)
    depth, face = posed_depth(depth_lo, mask_lo, view, s, cfg.fov)

    canon_albedo = F.avg_pool2d(albedo_hi, ss) * mask_lo.unsqueeze(1)
    return SynthBatch.of(rgb, depth, face, depth_lo, mask_lo, canon_albedo, view, light_raw)


def posed_depth(
    depth_lo: Tensor, mask_lo: Tensor, view: Tensor, size: int, fov: float
) -> tuple[Tensor, Tensor]:
    """The canonical depth (B, S, S) on its face mask, warped into ``view`` at the output size
    (exact at pixel centres): depth (B, S, S), background MAX_DEPTH, and the face mask (B, S, S)
    bool. Both synth versions store their depth this way."""
    lo = Renderer(size, fov=fov, min_depth=MIN_DEPTH, max_depth=MAX_DEPTH)
    warped = lo.warp_depth(depth_lo, view, faces=_mask_faces(lo, mask_lo))
    face = warped.mask > 0
    return torch.where(face, warped.depth.clamp(MIN_DEPTH, _MAX_FACE_DEPTH), MAX_DEPTH), face


def _to_uint8(x: Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] -> (B, H, W, 3) uint8."""
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


# -- output -----------------------------------------------------------------------------------


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """Depth (..., H, W) in [0.9, 1.1] -> Unsup3D's 8-bit code: 255 at MIN_DEPTH, 0 at MAX_DEPTH."""
    code = np.round(255 * (MAX_DEPTH - depth) / (MAX_DEPTH - MIN_DEPTH))
    return np.clip(code, 0, 255).astype(np.uint8)


def decode_depth(code: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_depth` (Unsup3D's loader): d = 0.9 + 0.2 * (1 - c / 255)."""
    return MIN_DEPTH + (MAX_DEPTH - MIN_DEPTH) * (1 - code.astype(np.float32) / 255)


def split_counts(n: int, fractions: tuple[float, ...]) -> list[int]:
    """Samples per split; sums to n exactly (cumulative rounding)."""
    total = sum(fractions)
    bounds = [round(n * sum(fractions[: i + 1]) / total) for i in range(len(fractions))]
    return [b - a for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]


def check_config(cfg: SynthConfig) -> None:
    """Raise L2RError (one line) for arguments that cannot make a dataset."""
    if cfg.version not in VERSIONS:
        choices = ", ".join(map(str, VERSIONS))
        raise L2RError(f"--version must be one of {choices}, got {cfg.version}")
    if cfg.n < 1:
        raise L2RError(f"--n must be at least 1, got {cfg.n}")
    if cfg.size < 8:
        raise L2RError(f"--size must be at least 8, got {cfg.size}")
    if len(cfg.splits) != 3 or any(f < 0 for f in cfg.splits) or sum(cfg.splits) <= 0:
        raise L2RError(f"--splits needs three non-negative fractions, got {cfg.splits}")
    for name, value, limit in (
        ("yaw", cfg.yaw_range, 90.0),
        ("pitch", cfg.pitch_range, 90.0),
        ("roll", cfg.roll_range, 180.0),
    ):
        if not 0 <= value <= limit:
            raise L2RError(f"--{name}-range must be in [0, {limit:g}] degrees, got {value}")
    if not 0 <= cfg.xy_trans_range <= 0.05:
        raise L2RError(f"--xy-trans-range must be in [0, 0.05], got {cfg.xy_trans_range}")
    if cfg.seed < 0:
        raise L2RError(f"--seed must be non-negative, got {cfg.seed}")
    if cfg.supersample < 1 or cfg.batch_size < 1:
        raise L2RError("supersample and batch size must be at least 1")


def _prepare_out(out: Path, overwrite: bool) -> None:
    """Check that ``out`` is missing, empty, or an earlier output of this command (replaced only
    with ``overwrite``); removes the old synface folder. The dataset files are replaced by the
    DatasetWriter."""
    if not out.exists():
        return
    if not out.is_dir():
        raise L2RError(f"output path exists and is not a directory: {out}")
    synface = out / "synface"
    entries = [p for p in out.iterdir() if p != synface]
    for p in entries:
        if not (p.is_file() and (p.suffix == ".h5" or "manifest" in p.name)):
            raise L2RError(f"refusing to write into a directory l2r synth did not make: {out}")
    if not entries and not synface.exists():
        return
    if not overwrite:
        raise L2RError(f"{out} already holds a dataset (use --overwrite to replace it)")
    if synface.exists():
        for p in synface.rglob("*"):
            rel = p.relative_to(synface).parts
            ours = rel[0] in SPLIT_NAMES and (
                len(rel) == 1
                or (len(rel) == 2 and rel[1] in ("image", "depth"))
                or (len(rel) == 3 and p.suffix == ".png")
            )
            if not ours:
                raise L2RError(
                    f"refusing to delete {synface}: it holds files l2r synth did not write"
                )
        shutil.rmtree(synface)


def _save_png(array: np.ndarray, path: Path) -> None:
    """Write a uint8 (H, W, 3) array; same array -> same bytes (no timestamps in the file)."""
    try:
        Image.fromarray(array).save(path, format="PNG", compress_level=6)
    except OSError as e:
        raise L2RError(f"cannot write {path}: {e.strerror or e}") from None


def generate(cfg: SynthConfig, on_batch: Callable[[int], None] | None = None) -> dict[str, int]:
    """Make the dataset described by ``cfg``; returns the number of samples per split.

    Writes OUT/{train,val,test}.h5 + manifest.json (an l2r dataset) and
    OUT/synface/{split}/{image,depth}/{id:06d}_{image,depth}.png (Unsup3D's layout).
    ``on_batch(k)`` is called after every k samples written (for a progress bar).
    """
    from l2r_cli.data.dataset import DatasetWriter, FieldSpec, standard_fields

    check_config(cfg)
    out = Path(cfg.out)
    s = cfg.size
    fields = standard_fields(s, depth=True, mask=True, canon_size=s)
    fields.update(
        canon_mask=FieldSpec((s, s), "uint8"),
        view=FieldSpec((6,), "float32"),
        light=FieldSpec((4,), "float32"),
    )
    if cfg.version == 2:
        from l2r_cli.data.face_template_v2 import N_MODES

        fields.update(
            detail_depth=FieldSpec((s, s), "float32"),
            occluder_mask=FieldSpec((s, s), "uint8"),
            light_color=FieldSpec((3,), "float32"),
            expression=FieldSpec((4,), "float32"),
            shape_modes=FieldSpec((N_MODES,), "float32"),
        )
    args = asdict(cfg)
    args["splits"] = list(cfg.splits)
    source = {
        "generator": GENERATOR,
        "version": cfg.version,
        "args": args,
        "conventions": {
            "view": "[pitch, yaw, roll] radians, R = Rz Ry Rx about (0, 0, 1), then [tx, ty, tz]",
            "light": "[ambient, diffuse, dx, dy]; shading = ambient + diffuse * max(0, n . l), "
            "l = normalize(dx, dy, 1)",
            "depth": "image view, camera z; background = 1.1; canon_depth = 1.1 off canon_mask",
        },
    }
    if cfg.version == 2:
        source["conventions"].update(
            image="light_color * albedo * shading on the face, then occluders (occluder_mask)",
            detail_depth="canon_depth = base + detail_depth on canon_mask; 0 off it",
            expression="[mouth_open, smile, brow_raise, eyes_closed]; 0 = neutral",
        )
    counts = dict(zip(SPLIT_NAMES, split_counts(cfg.n, cfg.splits), strict=True))
    _prepare_out(out, cfg.overwrite)
    with DatasetWriter(out, s, fields=fields, source=source, overwrite=cfg.overwrite) as writer:
        for split in SPLIT_NAMES:
            for kind in ("image", "depth"):
                (out / "synface" / split / kind).mkdir(parents=True, exist_ok=True)
        start = 0
        for split, count in counts.items():
            writer.declare_split(split)
            for b0 in range(start, start + count, cfg.batch_size):
                ids = list(range(b0, min(b0 + cfg.batch_size, start + count)))
                params = [sample_params(cfg.seed, i, s, cfg.supersample, cfg.version) for i in ids]
                batch = render_batch(params, cfg)
                names = [f"{i:06d}" for i in ids]
                folder = out / "synface" / split
                for k, name in enumerate(names):
                    _save_png(batch.image[k], folder / "image" / f"{name}_image.png")
                    code = encode_depth(batch.depth[k])
                    _save_png(
                        np.repeat(code[..., None], 3, -1), folder / "depth" / f"{name}_depth.png"
                    )
                arrays = {k: getattr(batch, k) for k in fields if k != "name"}
                writer.append_many(split, {**arrays, "image": batch.image, "name": names})
                if on_batch is not None:
                    on_batch(len(ids))
            start += count
    return counts


def preview_grid(batch: SynthBatch, columns: int = 8, fov: float = 10.0) -> np.ndarray:
    """A uint8 (4 * S, columns * S, 3) sheet of the first ``columns`` samples: rows are the
    image, its depth, the canonical albedo and the canonical depth. Depths are drawn as their
    surface normals lit from the upper left (for looking at the shape, not for decoding); the
    outermost face pixel, whose normal mixes in the background, is left black.
    """
    n = min(columns, len(batch.image))
    K = intrinsics(batch.image.shape[1], fov)
    light = torch.tensor([0.4, 0.5, 1.0])  # shading frame: lit from the upper left
    light = light / light.norm()

    def shaded(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
        normal = normals_from_depth(torch.from_numpy(depth), K)
        grey = 30 + 225 * (normal @ light).clamp(min=0)
        m = torch.from_numpy(mask).float()[:, None]
        inner = -F.max_pool2d(-F.pad(m, (1, 1, 1, 1)), 3, stride=1)[:, 0] > 0  # eroded by 1 px
        grey = torch.where(inner, grey, 0).round().to(torch.uint8)
        return grey[..., None].expand(-1, -1, -1, 3).numpy()

    rows = [
        batch.image[:n],
        shaded(batch.depth[:n], batch.mask[:n]),
        batch.canon_albedo[:n],
        shaded(batch.canon_depth[:n], batch.canon_mask[:n]),
    ]
    return np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)


def write_preview(cfg: SynthConfig, path: Path | str, count: int = 8) -> Path:
    """Render faces 0..count-1 of ``cfg`` (the same as in the dataset) and save their
    :func:`preview_grid` as a PNG at ``path``."""
    check_config(cfg)
    count = min(count, cfg.n)
    params = [
        sample_params(cfg.seed, i, cfg.size, cfg.supersample, cfg.version) for i in range(count)
    ]
    path = Path(path)
    _save_png(preview_grid(render_batch(params, cfg), columns=count, fov=cfg.fov), path)
    return path
