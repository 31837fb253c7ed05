"""Reconstruct 3D faces from photos: ``Reconstructor`` (the Python API) and the result files of
``l2r reconstruct`` (docs/reconstruct.md).

    from l2r_cli import Reconstructor
    rec = Reconstructor()                       # bundled weights, CPU or CUDA
    for face in rec.reconstruct("photo.jpg"):   # one FaceResult per detected face
        face.save("out/photo/face0", formats=("ply", "glb"))
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from l2r_cli.data.ingest import DEFAULT_MAX_PIXELS
from l2r_cli.detectors import DEFAULT_DETECTOR
from l2r_cli.errors import L2RError
from l2r_cli.faces import LM_EYE_OUTER, LM_NOSE_TIP, Crop, FaceDetector, crops_of

#: Photos with more pixels than this are refused (Pillow's decompression-bomb limit, as in
#: ``l2r degrade``).
MAX_PIXELS = DEFAULT_MAX_PIXELS

NO_FACE = "no face found (try --no-detect for an already-cropped face)"


def read_photo(path: str | Path) -> np.ndarray:
    """Any image file -> (H, W, 3) uint8 RGB, read as ``l2r degrade`` reads photos (EXIF
    rotation applied, first frame of an animation, alpha over white). Every failure is a
    one-line L2RError."""
    from l2r_cli.data.ingest import SkipImage, read_rgb

    p = Path(path)
    if p.is_dir():
        raise L2RError(f"{p}: is a folder")
    try:
        return np.ascontiguousarray(read_rgb(p, MAX_PIXELS))
    except SkipImage as exc:
        raise L2RError(f"{p}: {exc}") from None


@dataclass
class FaceResult:
    """One reconstructed face. Maps in the crop's view are (S, S) / (S, S, 3) numpy arrays;
    canonical (frontal) ones are prefixed ``canon_``.

    depth: camera depth (the model's units; background at the far plane), mask: 1 where the face
    surface covers the pixel, normal: unit normals pointing into the surface (camera axes
    x right, y down, z into the picture; the outward normal in x right, y up, z towards you
    is ``n * (-1, 1, 1)``),
    albedo / shading / recon: the albedo and the Lambertian shading warped into the view and the
    shaded reconstruction, in [0, 1] (albedo and shading None from a Reconstructor made with
    ``maps=False``, which skips that re-render). canon_points (S, S, 3): the canonical surface
    in camera space; canon_albedo (S, S, 3) in [0, 1]; view (6,): pitch, yaw, roll (radians) and
    translation; light (5,): ambient, diffuse, unit direction.
    """

    source: str
    index: int
    crop: Crop
    depth: np.ndarray
    mask: np.ndarray
    normal: np.ndarray
    albedo: np.ndarray | None
    shading: np.ndarray | None
    recon: np.ndarray
    canon_points: np.ndarray
    canon_albedo: np.ndarray
    view: np.ndarray
    light: np.ndarray
    fov: float
    depth_range: tuple[float, float]
    model: dict = field(default_factory=dict)
    photo_tex: np.ndarray | None = None
    """(T, T, 3) in [0, 1]: the photo texture on the canonical frame
    (:func:`l2r_cli.render.texture.photo_texture`), when asked for."""

    def landmark_depths(self) -> dict[str, float] | None:
        """Canonical depth (pose removed) at the nose tip, the outer eye corners and the cheeks,
        from the landmarks mapped through the predicted view; None without landmarks.
        Smaller is nearer the camera."""
        if self.crop.landmarks is None:
            return None
        lm = self.crop.to_crop(self.crop.landmarks)
        pts = {
            "nose_tip": lm[LM_NOSE_TIP],
            "eye_outer_left": lm[LM_EYE_OUTER[0]],
            "eye_outer_right": lm[LM_EYE_OUTER[1]],
            "cheek_left": (lm[2] + lm[31]) / 2,
            "cheek_right": (lm[14] + lm[35]) / 2,
        }
        from l2r_cli.render import Renderer

        s = self.depth.shape[0]
        r = Renderer(s, self.fov, *self.depth_range)
        depth, view = torch.from_numpy(self.depth)[None], torch.from_numpy(self.view)[None]
        grid = r.reprojection_grid(depth, view)[0]
        canon_z = torch.from_numpy(self.canon_points[..., 2])[None, None]
        out = {}
        for name, (col, row) in pts.items():
            i, j = int(np.clip(round(row), 0, s - 1)), int(np.clip(round(col), 0, s - 1))
            g = grid[i, j].view(1, 1, 1, 2)
            out[name] = float(torch.nn.functional.grid_sample(canon_z, g, align_corners=True))
        return out

    def is_face_shaped(self) -> bool | None:
        """Nose tip nearer the camera than the outer eye corners and the cheeks (canonical
        frame); None without landmarks.

        Not evidence that the model saw a face: with the bundled weights a uniform grey
        square, noise or a coffee cup cropped like a face pass it too (the model draws its
        template relief whatever the input). ``l2r benchmark photos`` measures whether pose
        and relief follow real faces (docs/photos_benchmark.md)."""
        d = self.landmark_depths()
        if d is None:
            return None
        return all(d["nose_tip"] < v for k, v in d.items() if k != "nose_tip")

    def canonical(self):
        """The canonical surface, albedo and light as a
        :class:`l2r_cli.render.views.CanonicalFace` (what ``render-views`` renders)."""
        from l2r_cli.render.views import CanonicalFace

        return CanonicalFace(
            self.canon_points,
            self.canon_albedo,
            self.light,
            self.fov,
            self.depth_range,
            self.photo_tex,
        )

    def mesh(self, trim: float = 0.9):
        """The trimmed canonical face mesh (:class:`l2r_cli.render.export.FaceMesh`)."""
        from l2r_cli.render.export import build_face_mesh, face_region

        keep = face_region(self.canon_points.shape[0], trim)
        keep &= self.canon_points[..., 2] < self.depth_range[1] - 1e-4  # background
        return build_face_mesh(self.canon_points, self.canon_albedo, keep, self.fov, self.photo_tex)

    def save(
        self,
        out_dir: str | Path,
        formats: Sequence[str] = ("ply", "obj", "glb"),
        mesh_path: str | Path | None = None,
        photo_size: tuple[int, int] | None = None,
        maps: bool = True,
    ) -> list[Path]:
        """Write maps, meshes and meta.json into ``out_dir`` (created); ``mesh_path`` adds one
        more mesh file there; ``maps=False`` leaves out the maps (PNGs, depth.npy,
        canonical.npz). Returns the files written."""
        from l2r_cli.render.export import write_mesh

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []

        def png(name: str, img: np.ndarray) -> None:
            from PIL import Image

            arr = np.clip(np.rint(np.asarray(img) * 255), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(out / name)
            files.append(out / name)

        if maps and (self.albedo is None or self.shading is None):
            raise L2RError("this result was made without maps (Reconstructor(maps=False))")
        if maps:
            lo, hi = self.depth_range
            near = np.clip((hi - self.depth) / (hi - lo), 0, 1) * self.mask
            png("input.png", self.crop.image / 255.0)
            png("albedo.png", self.canon_albedo)
            png("albedo_view.png", self.albedo * self.mask[..., None])
            png("depth.png", near)
            png("normal.png", (self.normal * np.array([-1, 1, 1]) + 1) / 2 * self.mask[..., None])
            png("shading.png", np.clip(self.shading, 0, 1) * self.mask)
            png("recon.png", self.recon)
            png("mask.png", self.mask)
            if self.photo_tex is not None:
                png("texture_photo.png", self.photo_tex)
            np.save(out / "depth.npy", self.depth.astype(np.float32))
            files.append(out / "depth.npy")
            np.savez_compressed(
                out / "canonical.npz",
                points=self.canon_points.astype(np.float32),
                albedo=self.canon_albedo.astype(np.float32),
                view=self.view.astype(np.float32),
                light=self.light.astype(np.float32),
                fov=np.float32(self.fov),
                depth_range=np.array(self.depth_range, np.float32),
                **(
                    {}
                    if self.photo_tex is None
                    else {"photo_texture": self.photo_tex.astype(np.float32)}
                ),
            )
            files.append(out / "canonical.npz")
        mesh = self.mesh()
        for fmt in dict.fromkeys(formats):
            files += write_mesh(mesh, out / f"mesh.{fmt}")
        if mesh_path is not None:
            files += write_mesh(mesh, mesh_path)
        meta = {
            "source": self.source,
            "photo_size": None if photo_size is None else list(photo_size),
            "face_index": self.index,
            "crop": self.crop.to_dict(),
            "model": self.model,
            "view": {
                "pitch_deg": round(math.degrees(float(self.view[0])), 3),
                "yaw_deg": round(math.degrees(float(self.view[1])), 3),
                "roll_deg": round(math.degrees(float(self.view[2])), 3),
                "translation": [round(float(v), 5) for v in self.view[3:6]],
            },
            "light": {
                "ambient": round(float(self.light[0]), 4),
                "diffuse": round(float(self.light[1]), 4),
                "direction": [round(float(v), 4) for v in self.light[2:5]],
            },
            "texture": "albedo" if self.photo_tex is None else "photo",
            "landmark_depths": self.landmark_depths(),
            "fov_deg": self.fov,
            "depth_range": list(self.depth_range),
            "conventions": {
                "maps": "depth/normal/shading/albedo_view/mask are in the view of input.png "
                "(the aligned crop); crop.matrix maps their pixels onto the photo",
                "depth.npy": "camera depth in model units (face ~1, background = depth_range[1])",
                "normal.png": "outward normal (n * (-1, 1, 1) + 1) / 2: red right, green up, "
                "blue towards you",
                "mesh": "canonical (frontal) surface; x right, y up, z towards the viewer; "
                "origin at the centroid; 1 unit = the crop's field of view at depth 1",
            },
            "files": sorted(p.name for p in files) + ["meta.json"],
        }
        (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        files.append(out / "meta.json")
        return files


def _np(t: Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


#: ``Reconstructor(model=...)`` / ``l2r reconstruct --model``: which path runs
#: (docs/reconstruct.md).
MODEL_CHOICES = ("auto", "proxy", "l2r")


@dataclass
class Route:
    """One path a face can take: ``name`` 'proxy' or 'l2r', its predictor, the renderer its
    outputs are in and the record of its weights for meta.json."""

    name: str
    predictor: object
    renderer: object
    info: dict


def crop_side_px(crop: Crop) -> float:
    """Side of a crop's frame in photo pixels (the crop's S pixels span this many)."""
    scale = float(np.sqrt(abs(np.linalg.det(crop.matrix[:, :2]))))
    return scale * (crop.image.shape[0] - 1) + 1


class Reconstructor:
    """Photos -> :class:`FaceResult` per face.

    ckpt: an l2r geometry checkpoint (proxy, arn, grn or mutual; a file or run directory);
    None or ``"bundled"`` = the bundled weights (the proxy and the L2R weights). model: 'auto'
    runs the L2R path (proxy + ARN + GRN, paper sec. 4) on faces whose crop frame spans fewer
    photo pixels than the L2R model's input (a small, upsampled face) and the proxy alone on
    the others; 'proxy' or 'l2r' run that path on every face; None runs the checkpoint's own
    model (the benchmarks). meta.json's ``model`` says which path ran and why. detect: find
    faces with ``detector`` and align them with dlib's landmarks (else each photo is one
    already-cropped face). largest: keep only
    the largest face of each photo. min_score: dlib HOG score below which detections are
    dropped. detector: a spec of :func:`l2r_cli.detectors.make_detector` (docs/detection.md).
    upsample_landmarks: predict the landmarks of a face whose box is under 100 px on an
    enlarged copy of its region (off: no measured gain, docs/detection.md, "Alignment on small
    faces").
    maps: False skips the re-render of albedo and shading into the view that only the maps use
    (results then save with ``maps=False`` only). texture: 'albedo' (the model's) or 'photo'
    (the input photo projected onto the surface, :mod:`l2r_cli.render.texture`, at
    ``texture_size`` pixels) for the meshes.
    """

    def __init__(
        self,
        ckpt: str | Path | None = None,
        device: str | torch.device = "auto",
        detect: bool = True,
        largest: bool = False,
        min_score: float = 0.3,
        batch_size: int = 8,
        detector: str = DEFAULT_DETECTOR,
        texture: str = "albedo",
        texture_size: int = 256,
        maps: bool = True,
        model: str | None = "auto",
        upsample_landmarks: bool = False,
    ) -> None:
        from l2r_cli.device import resolve_device

        if model is not None and model not in MODEL_CHOICES:
            raise L2RError(f"model must be one of {', '.join(MODEL_CHOICES)}, got {model!r}")
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.mode = model
        self.routes = self._routes(ckpt, model)
        self.detector = FaceDetector(min_score, detector, upsample_landmarks) if detect else None
        self.largest = largest
        self.maps = maps
        self.batch_size = max(1, int(batch_size))
        if texture not in ("albedo", "photo"):
            raise L2RError(f"texture must be 'albedo' or 'photo', got {texture!r}")
        self.texture_size = texture_size if texture == "photo" else 0

    def _routes(self, ckpt: str | Path | None, model: str | None) -> dict[str, Route]:
        from l2r_cli.predictor import ProxyPredictor, RefinedPredictor, load_predictor
        from l2r_cli.weights import default_l2r_weights, default_weights

        bundled = ckpt is None or str(ckpt) == "bundled"
        if bundled:
            paths = {}
            if model != "l2r":
                paths["proxy"] = default_weights()
            if model in ("auto", "l2r"):
                paths["l2r"] = default_l2r_weights()
            return {k: self._route(k, load_predictor(p, self.device), p) for k, p in paths.items()}
        path = Path(ckpt)
        pred = load_predictor(path, self.device)
        if not isinstance(pred, RefinedPredictor):
            if model == "l2r":
                raise L2RError(
                    f"--model l2r needs a 'grn' or 'mutual' checkpoint (or the bundled weights); "
                    f"{path} is a '{pred.kind}' checkpoint"
                )
            return {"proxy": self._route("proxy", pred, path)}
        routes = {}
        if model in ("auto", "proxy"):
            own = ProxyPredictor(str(path), pred.model.proxy, "proxy")
            routes["proxy"] = self._route("proxy", own, path, of=pred.kind)
        if model != "proxy":
            routes["l2r"] = self._route("l2r", pred, path)
        return routes

    def _route(self, name: str, pred, path: Path, of: str = "") -> Route:
        from l2r_cli.engine.checkpoint import resolve_checkpoint_path
        from l2r_cli.predictor import renderer_of
        from l2r_cli.weights import DEFAULT_L2R_WEIGHTS, DEFAULT_WEIGHTS, sha256

        file = resolve_checkpoint_path(path)
        shipped = {DEFAULT_WEIGHTS.resolve(), DEFAULT_L2R_WEIGHTS.resolve()}
        info = {
            "path": str(file),
            "bundled": file.resolve() in shipped,
            "kind": pred.kind,
            "sha256": sha256(file),
            "image_size": pred.image_size,
        }
        if of:
            info["proxy_of"] = of
        return Route(name, pred, renderer_of(pred, self.device), info)

    @property
    def predictor(self):
        """The predictor of the only path, or the proxy's when 'auto' has two."""
        return (self.routes.get("proxy") or self.routes["l2r"]).predictor

    @property
    def renderer(self):
        """The renderer of :attr:`predictor`."""
        return (self.routes.get("proxy") or self.routes["l2r"]).renderer

    @property
    def image_size(self) -> int:
        """Crop size: the largest input of the paths (a path with a smaller input gets the
        crop resized)."""
        return max(r.predictor.image_size for r in self.routes.values())

    def route_of(self, crop: Crop) -> tuple[str, str]:
        """(path name, why) for one crop: the rule of ``model`` (class docstring)."""
        side = crop_side_px(crop)
        if len(self.routes) == 1:
            name = next(iter(self.routes))
            if self.mode is None:
                return name, "the checkpoint's own model"
            if self.mode == "auto":
                return name, "--model auto: the checkpoint has no L2R stages (GRN)"
            return name, f"--model {self.mode}"
        need = self.routes["l2r"].predictor.image_size
        if side < need:
            return "l2r", (
                f"--model auto: face crop spans {side:.0f} photo px, fewer than the L2R "
                f"model's {need} px input"
            )
        return "proxy", (
            f"--model auto: face crop spans {side:.0f} photo px, at least the {need} px input"
        )

    def crops(self, photo: np.ndarray) -> list[Crop]:
        """Aligned crops of the faces in photo (H, W, 3) uint8 (empty: no face)."""
        return crops_of(photo, self.image_size, self.detector, self.largest, self.texture_size)

    @torch.no_grad()
    def predict_crops(self, crops: Sequence[Crop], source: str = "") -> list[FaceResult]:
        """Run each crop's path (:meth:`route_of`) on aligned crops, ``batch_size`` at a time;
        results in the order of ``crops``."""
        chosen = [self.route_of(c) for c in crops]
        results: list[FaceResult | None] = [None] * len(crops)
        for name, route in self.routes.items():
            idx = [i for i, (n, _) in enumerate(chosen) if n == name]
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start : start + self.batch_size]
                why = [chosen[i][1] for i in chunk]
                done = self._predict_batch(route, [crops[i] for i in chunk], why, source)
                for i, res in zip(chunk, done, strict=True):
                    res.index = i
                    results[i] = res
        return results  # type: ignore[return-value]

    def _predict_batch(
        self, route: Route, crops: Sequence[Crop], why: Sequence[str], source: str
    ) -> list[FaceResult]:
        import torch.nn.functional as F

        from l2r_cli.render.camera import depth_to_points
        from l2r_cli.render.shading import normals_from_points

        x = torch.from_numpy(np.stack([c.image for c in crops])).to(self.device)
        x = x.permute(0, 3, 1, 2).float() / 127.5 - 1
        size = route.predictor.image_size
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
        out = route.predictor.predict(x)
        r = route.renderer
        points = out.get("canon_points")
        if points is None:
            points = depth_to_points(out["canon_depth"], r.K)
        light = out["light"]
        albedo = (out["canon_albedo"] + 1) / 2
        warped = None
        if self.maps:
            n = normals_from_points(points)
            shading = light[:, 0, None, None] + light[:, 1, None, None] * (
                (n * light[:, None, None, 2:5]).sum(-1).clamp(min=0)
            )
            stack = torch.cat([albedo, shading[:, None]], 1)
            warped = r.render_points(stack, points, out["view"]).image
        mask = out["mask"]
        recon = (out["recon_image"] + 1) / 2
        results = []
        for k, c in enumerate(crops):
            results.append(
                face := FaceResult(
                    source=source,
                    index=k,
                    crop=c,
                    depth=_np(out["depth"][k]),
                    mask=_np(mask[k]),
                    normal=_np(out["normal"][k]),
                    albedo=None
                    if warped is None
                    else _np(warped[k, :3].permute(1, 2, 0)).clip(0, 1),
                    shading=None if warped is None else _np(warped[k, 3]),
                    recon=_np(recon[k].permute(1, 2, 0)).clip(0, 1),
                    canon_points=_np(points[k]),
                    canon_albedo=_np(albedo[k].permute(1, 2, 0)).clip(0, 1),
                    view=_np(out["view"][k]),
                    light=_np(light[k]),
                    fov=float(r.fov),
                    depth_range=(float(r.min_depth), float(r.max_depth)),
                    model={
                        **route.info,
                        "ran": route.name,
                        "why": why[k],
                        "face_px": round(crop_side_px(c), 1),
                    },
                )
            )
            if c.hires is not None:
                from l2r_cli.render.texture import photo_texture

                face.photo_tex, _ = photo_texture(
                    face.canon_points, face.view, face.depth, c.hires, face.canon_albedo,
                    face.fov, self.texture_size,
                )  # fmt: skip
        return results

    def reconstruct(self, photo: str | Path | np.ndarray) -> list[FaceResult]:
        """One photo (a path or an (H, W, 3) uint8 array) -> a result per face (largest
        first). Raises L2RError when the photo is unreadable or holds no face."""
        source = "<array>"
        if not isinstance(photo, np.ndarray):
            source = str(photo)
            photo = read_photo(photo)
        elif photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            raise L2RError(f"photo array must be (H, W, 3) uint8, got {photo.shape} {photo.dtype}")
        crops = self.crops(photo)
        if not crops:
            raise L2RError(f"{source}: {NO_FACE}")
        return self.predict_crops(crops, source)

    def reconstruct_many(self, photos: Iterable[str | Path]) -> Iterable[tuple[str, object]]:
        """Yield (path, list of FaceResult) or (path, L2RError) per photo; crops of several
        photos share a batch."""
        pending: list[tuple[str, list[Crop]]] = []
        count = 0

        def flush():
            flat = [c for _, cs in pending for c in cs]
            res = self.predict_crops(flat) if flat else []
            i = 0
            for src, cs in pending:
                mine = res[i : i + len(cs)]
                for k, fr in enumerate(mine):
                    fr.source, fr.index = src, k
                i += len(cs)
                yield src, mine
            pending.clear()

        for p in photos:
            try:
                photo = read_photo(p)
                crops = self.crops(photo)
                if not crops:
                    raise L2RError(f"{p}: {NO_FACE}")
            except L2RError as exc:
                yield str(p), exc
                continue
            pending.append((str(p), crops))
            for c in crops:
                c.meta["photo_size"] = (int(photo.shape[1]), int(photo.shape[0]))
            count += len(crops)
            if count >= self.batch_size:
                yield from flush()
                count = 0
        yield from flush()
