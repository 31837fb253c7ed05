"""Novel views and relighting of a saved reconstruction (``l2r render-views``).

Reads a result folder's ``canonical.npz`` (canonical surface points, albedo, predicted light),
renders it with l2r's renderer under new yaw/pitch and light directions, and writes a grid PNG
and a turntable GIF or MP4 (imageio; MP4 through imageio-ffmpeg's bundled ffmpeg).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from l2r_cli.errors import L2RError

#: Background grey of rendered views.
BACKGROUND = 0.92


@dataclass
class CanonicalFace:
    """points (H, W, 3) canonical camera space; albedo (H, W, 3) in [0, 1]; light (5,):
    ambient, diffuse, direction; fov (degrees); depth_range (near, far); photo_texture
    (T, T, 3) in [0, 1] on the canonical frame, when the result has one."""

    points: np.ndarray
    albedo: np.ndarray
    light: np.ndarray
    fov: float
    depth_range: tuple[float, float]
    photo_texture: np.ndarray | None = None


def load_canonical(result_dir: str | Path) -> CanonicalFace:
    """A result folder of ``l2r reconstruct`` -> :class:`CanonicalFace` (one-line errors)."""
    d = Path(result_dir)
    f = d / "canonical.npz"
    if not d.is_dir():
        raise L2RError(f"{d}: no such result folder")
    if not f.is_file():
        raise L2RError(
            f"{d}: not an l2r reconstruct result (no canonical.npz in it; "
            "reconstruct --no-maps leaves it out)"
        )
    try:
        with np.load(f) as z:
            face = CanonicalFace(
                points=z["points"].astype(np.float32),
                albedo=z["albedo"].astype(np.float32),
                light=z["light"].astype(np.float32),
                fov=float(z["fov"]),
                depth_range=tuple(float(v) for v in z["depth_range"]),
                photo_texture=z["photo_texture"] if "photo_texture" in z.files else None,
            )
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise L2RError(f"{f}: unreadable or corrupt ({type(exc).__name__})") from None
    h, w, c = face.points.shape
    if c != 3 or face.albedo.shape != (h, w, 3) or face.light.shape != (5,):
        raise L2RError(f"{f}: arrays have unexpected shapes")
    return face


def parse_range(text: str) -> list[float]:
    """'A' -> [A]; 'A:B:N' -> N values evenly from A to B (inclusive); 'A,B,C' -> a list."""
    try:
        if ":" in text:
            a, b, n = text.split(":")
            n = int(n)
            if n < 1:
                raise ValueError
            return [float(a)] if n == 1 else list(np.linspace(float(a), float(b), n))
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise L2RError(f"{text!r}: expected DEG, A:B:N or A,B,C (degrees)") from None


def parse_light(text: str) -> tuple[float, float] | None:
    """'predicted' -> None (the light the model estimated); 'DX,DY' -> a direction
    normalize(DX, DY, 1) in the shading frame: DX > 0 lights the face from the left of the
    picture, DY > 0 from above."""
    if text.strip().lower() in ("predicted", "auto"):
        return None
    try:
        dx, dy = (float(v) for v in text.split(","))
    except ValueError:
        raise L2RError(f"--light {text!r}: expected 'predicted' or DX,DY (e.g. -0.5,0.3)") from None
    return dx, dy


class ViewRenderer:
    """Renders a :class:`CanonicalFace` at ``size`` pixels (the canonical grid is resampled
    bilinearly to size x size first). texture 'albedo': the albedo under the (new) light;
    'photo': the photo texture, relit by the ratio of the new to the predicted shading (it
    already carries the photo's lighting)."""

    def __init__(
        self,
        face: CanonicalFace,
        size: int = 256,
        device: str = "cpu",
        trim: float = 0.9,
        texture: str = "albedo",
    ) -> None:
        from l2r_cli.render import Renderer
        from l2r_cli.render.export import face_region
        from l2r_cli.render.shading import normals_from_points

        self.face = face
        self.size = size
        h = face.points.shape[0]
        pts = torch.from_numpy(face.points)[None]
        keep = face_region(h, trim) & (face.points[..., 2] < face.depth_range[1] - 1e-4)
        # Normals on the model's own grid, then resampled: normals of a bilinearly upsampled
        # surface are constant per source cell and shade in visible bands.
        normal = normals_from_points(pts).permute(0, 3, 1, 2)
        chans = torch.cat(
            [
                pts.permute(0, 3, 1, 2),
                torch.from_numpy(face.albedo).permute(2, 0, 1)[None],
                normal,
                torch.from_numpy(keep.astype(np.float32))[None, None],
            ],
            1,
        )
        up = F.interpolate(chans, size=(size, size), mode="bilinear", align_corners=True).to(device)
        self.points = up[:, 0:3].permute(0, 2, 3, 1).contiguous()
        self.albedo = up[:, 3:6]
        self.normal = F.normalize(up[:, 6:9], dim=1).permute(0, 2, 3, 1)
        self.keep = up[:, 9:10]
        self.renderer = Renderer(size, face.fov, *face.depth_range, device=device)
        self.photo = None
        if texture == "photo":
            if face.photo_texture is None:
                raise L2RError(
                    "this result has no photo texture (reconstruct with --texture photo)"
                )
            tex = torch.from_numpy(face.photo_texture.astype(np.float32)).permute(2, 0, 1)[None]
            self.photo = F.interpolate(tex, size=(size, size), mode="bilinear", align_corners=True)
            self.photo = self.photo.to(device)
        elif texture != "albedo":
            raise L2RError(f"texture must be 'albedo' or 'photo', got {texture!r}")

    def shading(self, light: tuple[float, float] | None) -> torch.Tensor:
        """(1, 1, S, S) canonical Lambertian shading under the predicted strengths and either
        the predicted direction (None) or normalize(dx, dy, 1)."""
        amb, dif = float(self.face.light[0]), float(self.face.light[1])
        if light is None:
            d = torch.tensor(self.face.light[2:5])
        else:
            d = torch.tensor([light[0], light[1], 1.0])
        d = (d / d.norm()).to(self.points)
        return (amb + dif * (self.normal * d).sum(-1).clamp(min=0))[:, None]

    def render(
        self, yaw: float, pitch: float = 0.0, light: tuple[float, float] | None = None
    ) -> np.ndarray:
        """One view -> (S, S, 3) uint8. yaw / pitch in degrees: yaw about the vertical axis,
        positive towards the right of the picture; pitch about the horizontal axis."""
        angles = [math.radians(pitch), math.radians(yaw), 0.0, 0.0, 0.0, 0.0]
        return self.render_view(np.array(angles), light)

    def render_view(self, view: np.ndarray, light: tuple[float, float] | None = None) -> np.ndarray:
        """One view given as the model's 6-vector (pitch, yaw, roll in radians, translation),
        e.g. a result's predicted view -> (S, S, 3) uint8."""
        view = torch.as_tensor(np.asarray(view, np.float32), device=self.points.device)[None]
        if self.photo is None:
            shaded = (self.albedo * self.shading(light)).clamp(0, 1)
        elif light is None:
            shaded = self.photo
        else:
            ratio = self.shading(light) / self.shading(None).clamp(min=0.05)
            shaded = (self.photo * ratio).clamp(0, 1)
        r = self.renderer.render_points(torch.cat([shaded, self.keep], 1), self.points, view)
        alpha = r.mask * (r.image[:, 3:4] > 0.5)
        img = r.image[:, :3] * alpha + BACKGROUND * (1 - alpha)
        return (img[0].permute(1, 2, 0).cpu().numpy() * 255).round().clip(0, 255).astype(np.uint8)


def render_grid(
    vr: ViewRenderer,
    yaws: list[float],
    pitches: list[float],
    lights: list[tuple[float, float] | None],
    pad: int = 4,
) -> np.ndarray:
    """Rows = lights x pitches, columns = yaws -> one (H, W, 3) uint8 image."""
    s = vr.size
    rows = [(li, p) for li in lights for p in pitches]
    out = np.full((len(rows) * (s + pad) + pad, len(yaws) * (s + pad) + pad, 3), 255, np.uint8)
    for i, (li, p) in enumerate(rows):
        for j, y in enumerate(yaws):
            y0, x0 = pad + i * (s + pad), pad + j * (s + pad)
            out[y0 : y0 + s, x0 : x0 + s] = vr.render(y, p, li)
    return out


def turntable_frames(
    vr: ViewRenderer, max_yaw: float, frames: int, light: tuple[float, float] | None = None
) -> list[np.ndarray]:
    """A yaw sweep 0 -> +max -> -max -> 0 (one sine period) in ``frames`` frames."""
    return [
        vr.render(max_yaw * math.sin(2 * math.pi * k / frames), 0.0, light) for k in range(frames)
    ]


def write_animation(frames: list[np.ndarray], path: str | Path, fps: int = 15) -> Path:
    """Frames -> GIF (looping) or MP4 by the suffix of ``path``."""
    import imageio.v3 as iio

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".gif":
        iio.imwrite(p, np.stack(frames), duration=1000 / fps, loop=0)
    elif suffix == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise L2RError("MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg)") from None
        _write_mp4(frames, p, fps)
    else:
        raise L2RError(f"{p}: turntable must be .gif or .mp4")
    return p


def _write_mp4(frames: list[np.ndarray], path: Path, fps: int) -> None:
    import imageio.v2 as iio2

    with iio2.get_writer(path, fps=fps, codec="libx264", quality=8, macro_block_size=1) as w:
        for f in frames:
            w.append_data(f)
