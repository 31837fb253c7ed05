"""Photoface facial-normal benchmark (paper Table 6: MAD and % of face pixels whose normal is
within 20, 25 and 30 degrees of the ground truth; the paper follows the protocol of
Abrevaya et al. CVPR 2020 "Cross-modal deep face normals" and SfSNet, CVPR 2018).

What the public record says about the release (searched in public code and pages; "index id"
= a public GitHub file that the code index shows without naming its repository):

Confirmed

- The database: Zafeiriou et al., "Face Recognition and Verification Using Photometric Stereo:
  The Photoface Database and a Comprehensive Evaluation", IEEE TIFS 8(1) 2013: a four-source
  photometric-stereo device, 1839 capture sessions
  (abstract: https://search.isc.ac/inventory/49/55129.htm; download page then
  http://www.uwe.ac.uk/research/Photoface, now linked as
  https://uwe-repository.worktribe.com/output/972508 from github.com/AutoHDR/CFFN README.md).
- Layout ``PhotofaceDB/<subject>/<session date_time>/`` holding ``im0.bmp`` .. ``im3.bmp`` and
  ``LightSource.m``: public scripts open e.g.
  ``Photoface_dist\\PhotofaceDB\\1001\\2008-03-01_07-57-06\\im0.bmp`` .. ``im3.bmp`` and
  ``...\\1001\\2008-02-23_12-21-31\\LightSource.m`` (index ids 4423425227, 3883133665,
  41073410020).
- A translation of the release's readme (index id 53293851524): 453 people, one folder per
  session; per session 4 BMP images, one per light; ``LightSource.m`` gives "the zenith and
  azimuth angles of the 4 light sources of the session"; ``metadata.txt`` the x, y of 11
  facial points (eye corners, forehead centre, nose sides and tip, mouth corners, chin);
  ``metadataII.txt`` gender, glasses, beard, pose (1 frontal .. 5), quality, occlusion,
  expression. Ground-truth normals are NOT shipped: the Matlab function ``generateSNAndZ(root)``
  in ``PhotofaceDB`` writes ``sn.mat`` (the normal components px, py per pixel), ``z.mat``
  (Frankot-Chellappa integration) and ``albedo.mat`` into every session folder.
- ``LightSource.m`` is text holding a bracketed Matlab matrix whose rows are separated by
  ``;`` (a script reads it as ``text.split("[")[-1].split("]")[0].split(";")``, index id
  3883133665).
- Cross-modal's face mask is the filled convex hull of the 68 dlib landmarks, and its crop a
  square of 1.2x the landmark box resized to 256 px (github.com/boukhayma/face_normals crop.py).
  That repository ships no Photoface evaluation code and no split list; neither does
  github.com/senguptaumd/SfSNet.

Not confirmed (so stated as choices below)

- The exact rows of ``LightSource.m`` (two angles or a 3-vector per light; degrees or radians;
  which axis the azimuth starts from and its sense), the lights' relative intensities, whether
  the camera is linear and whether the BMPs are grey or colour.
- The test split of SfSNet / Cross-modal (papers and repositories give no list here), whether
  they average the metrics per image or pool the pixels, and which image they feed the network.

Protocol of this module

- Sessions: every folder under ROOT holding im0..im3.bmp and LightSource.m, or the folders
  named (relative to ROOT, one a line) in a list file, to select a test split.
- Lights (:func:`read_lights`): the last ``[...]`` matrix of the file, 4 x 2 (or 2 x 4) read
  as zenith, azimuth in degrees, or 4 x 3 (or 3 x 4) read as direction vectors. Both are in the
  photometric-stereo frame P: x right, y up, z towards the camera; zenith from +z, azimuth from
  +x towards +y (counter-clockwise on the picture). ``lights=`` overrides every file.
- Ground truth (:func:`photometric_stereo`): Lambertian I = rho max(0, n . l), the per-pixel
  least-squares solution from the four images (grey = mean of the colour channels, read as
  linear in [0, 1]); a pixel dark or saturated in one image is solved from the other three,
  in two or more it is left out.
- Model input: the mean of the four images (our choice: the most evenly lit picture the
  session gives); ``image='im0'`` .. ``'im3'`` takes one of them instead.
- Crop: the largest dlib face of the input, aligned in l2r's crop convention
  (:mod:`l2r_cli.faces`, as ``l2r reconstruct`` does). The GT normal field is resampled with
  the same crop matrix (:func:`warp_normals`) and its x, y turned by the crop's in-plane
  rotation; the similarity is treated as a rotation of the camera about its axis (the crop's
  offset from the photo centre is ignored, as is perspective).
- Frame: l2r's predicted normals (``normals_from_depth``) are the inward normals in the camera
  frame (x right, y down, z into the picture), which is P with x negated
  (:func:`to_model_frame`; tested against ``normals_from_depth`` of a sphere).
- Mask: GT-valid pixels inside the convex hull of the 68 landmarks (Cross-modal's mask) where
  the model also predicts a surface.
- Score: :func:`l2r_cli.metrics.normal_accuracy` per image, then the mean (and std) over
  images; the "pct" values are percentages (0-100). Sessions with no detectable face or no
  pixel left in the mask are skipped and counted (``n_skipped``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from l2r_cli.errors import L2RError
from l2r_cli.faces import Crop, FaceDetector

#: The four images of a session, in light order, and the light file beside them.
IMAGE_NAMES = ("im0.bmp", "im1.bmp", "im2.bmp", "im3.bmp")
LIGHT_FILE = "LightSource.m"

#: Angular thresholds of Table 6, degrees.
THRESHOLDS = (20, 25, 30)

#: Photometric stereo: intensities (in [0, 1]) at or below DARK count as shadowed, at or above
#: BRIGHT as saturated; albedo below MIN_ALBEDO is no surface.
DARK = 0.02
BRIGHT = 0.98
MIN_ALBEDO = 1e-3

_MODEL_FROM_P = np.array([-1.0, 1.0, 1.0])


@dataclass(frozen=True)
class PhotofaceSession:
    """One capture session: id (its folder relative to ROOT), the four images, the light file."""

    id: str
    images: tuple[Path, ...]
    light_file: Path


@dataclass(frozen=True)
class PhotometricStereo:
    """normal: (H, W, 3) unit normals in the lights' frame (zero where not valid);
    albedo: (H, W); valid: (H, W) bool, pixels solved from at least three lit images."""

    normal: np.ndarray = field(repr=False)
    albedo: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class PhotofaceFace:
    """One session's face in the model's crop: crop (image (S, S, 3) uint8, matrix, landmarks),
    gt_normal (S, S, 3) float32 in the model's frame, gt_valid (S, S) bool, region (S, S) bool:
    the convex hull of the 68 landmarks."""

    id: str
    crop: Crop = field(repr=False)
    gt_normal: np.ndarray = field(repr=False)
    gt_valid: np.ndarray = field(repr=False)
    region: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class PhotofaceSet:
    """The prepared faces of ROOT at crop size ``size``, and the (id, reason) of skipped
    sessions. Reusable across checkpoints of the same input size."""

    root: str
    size: int
    faces: tuple[PhotofaceFace, ...] = field(repr=False)
    skipped: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PhotofaceResult:
    """Per-face MAD (N,) in degrees, per-threshold fractions {'20': (N,), ...} of mask pixels
    within the threshold, mask pixel counts (N,), face ids and skipped sessions."""

    name: str
    ids: tuple[str, ...]
    mad: np.ndarray = field(repr=False)
    under: dict[str, np.ndarray] = field(repr=False)
    pixels: np.ndarray = field(repr=False)
    skipped: tuple[tuple[str, str], ...] = ()
    prepared: PhotofaceSet | None = field(default=None, repr=False)
    """The faces it was scored on, to pass on as ``prepared`` for the next checkpoint."""

    @property
    def n(self) -> int:
        """Number of scored faces."""
        return int(self.mad.shape[0])

    def summary(self) -> dict[str, float | int | str]:
        """Means over faces: MAD (degrees, with its std) and the percentage of pixels under
        each threshold (0-100)."""
        out: dict[str, float | int | str] = {
            "name": self.name,
            "n": self.n,
            "n_skipped": len(self.skipped),
            "mad_mean": float(self.mad.mean()),
            "mad_std": float(self.mad.std()),
        }
        for t in THRESHOLDS:
            out[f"pct_under_{t}"] = float(self.under[str(t)].mean() * 100)
        return out


# --- layout -----------------------------------------------------------------------------------


def _session_at(folder: Path, root: Path) -> PhotofaceSession:
    images = tuple(folder / n for n in IMAGE_NAMES)
    for p in (*images, folder / LIGHT_FILE):
        if not p.is_file():
            expected = " ".join((*IMAGE_NAMES, LIGHT_FILE))
            raise L2RError(f"{folder}: session without {p.name} (a session holds {expected})")
    return PhotofaceSession(folder.relative_to(root).as_posix(), images, folder / LIGHT_FILE)


def find_sessions(root: str | Path, list_file: str | Path | None = None) -> list[PhotofaceSession]:
    """The sessions under ROOT (every folder holding im0.bmp, sorted), or those named in
    ``list_file``: one session folder relative to ROOT a line (a file inside it, or a CSV line
    whose first field is one, also do; blank lines and '#' comments are skipped)."""
    root = Path(root)
    if not root.is_dir():
        raise L2RError(f"{root}: not a folder (the Photoface root, e.g. .../PhotofaceDB)")
    if list_file is None:
        folders = sorted({p.parent for p in root.rglob(IMAGE_NAMES[0])})
        sessions = [_session_at(f, root) for f in folders]
    else:
        lf = Path(list_file)
        try:
            lines = lf.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise L2RError(f"{lf}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
        sessions = []
        for k, line in enumerate(lines, 1):
            entry = line.split("#", 1)[0].split(",", 1)[0].strip()
            if not entry:
                continue
            p = root / entry
            if p.is_file():
                p = p.parent
            if not p.is_dir():
                raise L2RError(f"{lf}:{k}: no session folder {entry} under {root}")
            sessions.append(_session_at(p, root))
    if not sessions:
        where = root if list_file is None else list_file
        expected = " ".join((*IMAGE_NAMES, LIGHT_FILE))
        raise L2RError(f"{where}: no Photoface sessions (folders holding {expected})")
    return sessions


def lights_from_angles(zenith_deg: np.ndarray, azimuth_deg: np.ndarray) -> np.ndarray:
    """Zenith, azimuth (K,) in degrees -> unit directions (K, 3) in frame P (x right, y up,
    z towards the camera): zenith from +z, azimuth from +x towards +y."""
    z, a = np.radians(np.asarray(zenith_deg, float)), np.radians(np.asarray(azimuth_deg, float))
    return np.stack([np.sin(z) * np.cos(a), np.sin(z) * np.sin(a), np.cos(z)], -1)


def read_lights(path: str | Path) -> np.ndarray:
    """A ``LightSource.m`` -> (4, 3) unit light directions in frame P (see the module docstring
    for how its last ``[...]`` matrix is read). One-line L2RError when malformed."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise L2RError(f"{path}: cannot read ({exc.strerror or exc})") from None
    text = re.sub(r"%[^\n]*", "", text).replace("...", " ")  # Matlab comments, continuations
    blocks = re.findall(r"\[([^\[\]]*)\]", text)
    if not blocks:
        raise L2RError(f"{path}: no [...] matrix of light angles or directions")
    rows = [r.replace(",", " ").split() for r in re.split(r"[;\n]", blocks[-1])]
    rows = [r for r in rows if r]
    if not rows:
        raise L2RError(f"{path}: the light matrix is empty")
    if len({len(r) for r in rows}) > 1:
        raise L2RError(f"{path}: the light matrix has rows of different lengths")
    try:
        m = np.array([[float(v) for v in r] for r in rows], float).reshape(len(rows), -1)
    except ValueError:
        raise L2RError(f"{path}: the light matrix holds something other than numbers") from None
    if m.shape in ((2, 4), (3, 4)):
        m = m.T
    if m.shape == (4, 2):
        d = lights_from_angles(m[:, 0], m[:, 1])
    elif m.shape == (4, 3):
        norm = np.linalg.norm(m, axis=1, keepdims=True)
        if (norm < 1e-9).any():
            raise L2RError(f"{path}: a light direction is zero")
        d = m / norm
    else:
        raise L2RError(
            f"{path}: expected 4 lights as zenith, azimuth (4 x 2) or directions (4 x 3), "
            f"got a {m.shape[0]} x {m.shape[1]} matrix"
        )
    if not np.isfinite(d).all():
        raise L2RError(f"{path}: the light matrix holds inf or nan")
    return d


def load_session(
    session: PhotofaceSession, lights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """-> images (4, H, W, 3) uint8 RGB and lights (4, 3) (frame P; ``lights`` if given, else
    the session's light file). One-line L2RError for unreadable files or images of different
    sizes."""
    from l2r_cli.reconstruct import read_photo

    images = [read_photo(p) for p in session.images]
    sizes = {im.shape for im in images}
    if len(sizes) > 1:
        got = ", ".join(f"{im.shape[1]}x{im.shape[0]}" for im in images)
        raise L2RError(f"{session.images[0].parent}: images of different sizes ({got})")
    if lights is None:
        return np.stack(images), read_lights(session.light_file)
    return np.stack(images), np.asarray(lights, float)


# --- ground truth -----------------------------------------------------------------------------


def photometric_stereo(
    images: np.ndarray,
    lights: np.ndarray,
    dark: float = DARK,
    bright: float = BRIGHT,
    min_albedo: float = MIN_ALBEDO,
) -> PhotometricStereo:
    """Calibrated Lambertian photometric stereo, I_k = rho max(0, n . l_k).

    images: (K, H, W) grey float, linear, in [0, 1]; lights: (K, 3) directions (normalised
    here) towards the lights, equal intensities. Per pixel, the least-squares b = rho n over the
    images where the pixel is lit and not saturated (all K, or K - 1 when K - 1 >= 3); fewer
    leave it invalid, as do an albedo below ``min_albedo`` and a normal facing away (n_z <= 0).
    The normals are in the lights' frame.
    """
    images = np.asarray(images, float)
    lights = np.asarray(lights, float)
    if images.ndim != 3 or lights.shape != (images.shape[0], 3) or images.shape[0] < 3:
        raise ValueError(f"expected images (K >= 3, H, W) and lights (K, 3), got "
                         f"{images.shape} and {lights.shape}")  # fmt: skip
    k, h, w = images.shape
    lights = lights / np.linalg.norm(lights, axis=1, keepdims=True).clip(min=1e-12)
    if np.linalg.matrix_rank(lights, tol=1e-6) < 3:
        raise L2RError("the light directions are coplanar: photometric stereo needs 3 independent")
    flat = images.reshape(k, -1)
    lit = (flat > dark) & (flat < bright)
    n_lit = lit.sum(0)
    b = np.zeros((3, flat.shape[1]))
    solved = n_lit == k
    b[:, solved] = np.linalg.pinv(lights) @ flat[:, solved]
    if k - 1 >= 3:  # one shadowed / saturated image: the other K - 1 still determine n
        for drop in range(k):
            keep = [i for i in range(k) if i != drop]
            if np.linalg.matrix_rank(lights[keep], tol=1e-6) < 3:
                continue
            sel = (n_lit == k - 1) & ~lit[drop]
            b[:, sel] = np.linalg.pinv(lights[keep]) @ flat[keep][:, sel]
            solved |= sel
    rho = np.linalg.norm(b, axis=0)
    n = b / rho.clip(min=1e-12)
    valid = solved & (rho > min_albedo) & (n[2] > 0)
    normal = np.where(valid, n, 0.0).T.reshape(h, w, 3)
    return PhotometricStereo(normal, np.where(valid, rho, 0.0).reshape(h, w), valid.reshape(h, w))


def to_model_frame(normal: np.ndarray) -> np.ndarray:
    """Normals (..., 3) in frame P (x right, y up, z towards the camera; outward) -> l2r's
    predicted-normal frame (inward normals in camera coordinates x right, y down, z into the
    picture): x negated."""
    return np.asarray(normal) * _MODEL_FROM_P


def warp_normals(
    normal: np.ndarray, valid: np.ndarray, matrix: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a unit normal field (H, W, 3) with its valid mask (H, W) into the S x S crop of
    ``matrix`` (crop pixel -> photo pixel, :class:`l2r_cli.faces.Crop`).

    Averaged over ss x ss bilinear sub-samples per crop pixel (as ``warp_crop``), renormalised;
    a crop pixel is valid only if every sub-sample falls between valid pixels. The x, y
    components are turned by the crop's in-plane rotation R (crop vector = R^T photo vector),
    z is kept. -> normals (S, S, 3) float32 (zero where invalid), valid (S, S) bool.
    """
    from scipy.ndimage import map_coordinates

    if normal.ndim != 3 or normal.shape[2] != 3 or valid.shape != normal.shape[:2]:
        raise ValueError(f"expected normal (H, W, 3), valid (H, W); got {normal.shape}, "
                         f"{valid.shape}")  # fmt: skip
    a = np.asarray(matrix, float)[:, :2]
    det = float(np.linalg.det(a))
    rot = a / math.sqrt(abs(det)) if det > 0 else a
    if det <= 0 or not np.allclose(rot.T @ rot, np.eye(2), atol=1e-6):
        raise ValueError("crop matrix must be a similarity without reflection")
    scale = math.sqrt(det)
    ss = int(min(8, max(1, math.ceil(scale))))
    g = (np.arange(size * ss) + 0.5) / ss - 0.5
    cols, rows = np.meshgrid(g, g)
    xs = matrix[0, 0] * cols + matrix[0, 1] * rows + matrix[0, 2]
    ys = matrix[1, 0] * cols + matrix[1, 1] * rows + matrix[1, 2]
    ok = (
        map_coordinates(valid.astype(np.float32), [ys, xs], order=1, mode="constant", cval=0.0)
        > 0.999
    )
    field_ = np.where(valid[..., None], normal, 0.0).astype(np.float32)
    v = np.stack(
        [map_coordinates(field_[..., c], [ys, xs], order=1, mode="constant") for c in range(3)],
        -1,
    )
    v = (v * ok[..., None]).reshape(size, ss, size, ss, 3).sum((1, 3))
    ok = ok.reshape(size, ss, size, ss).all((1, 3))
    v = np.concatenate([v[..., :2] @ rot, v[..., 2:]], -1)  # rows: (R^T n)^T = n^T R
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    ok &= norm[..., 0] > 1e-6
    out = np.where(ok[..., None], v / norm.clip(min=1e-12), 0.0)
    return out.astype(np.float32), ok


def face_region(points: np.ndarray, size: int) -> np.ndarray:
    """Filled convex hull of crop-pixel points (N, 2) as (col, row) -> (S, S) bool."""
    from scipy.spatial import ConvexHull
    from skimage.draw import polygon

    hull = np.asarray(points, float)[ConvexHull(points).vertices]
    rr, cc = polygon(hull[:, 1], hull[:, 0], (size, size))
    out = np.zeros((size, size), bool)
    out[rr, cc] = True
    return out


# --- protocol ---------------------------------------------------------------------------------


def prepare_face(
    session: PhotofaceSession,
    size: int,
    detector: FaceDetector,
    image: str = "mean",
    lights: np.ndarray | None = None,
) -> PhotofaceFace | str:
    """One session -> its :class:`PhotofaceFace` at crop size ``size``, or the reason it is
    skipped (no face found)."""
    from l2r_cli.faces import alignment_matrix, warp_crop

    photos, lights = load_session(session, lights)
    grey = photos.astype(np.float64).mean(-1) / 255.0  # (4, H, W); linear in the channels
    ps = photometric_stereo(grey, lights)
    if image == "mean":
        inp = np.clip(np.rint(photos.astype(np.float32).mean(0)), 0, 255).astype(np.uint8)
    else:
        inp = photos[IMAGE_NAMES.index(f"{image}.bmp")]
    found = detector.detect(inp)
    if not found:
        return "no face found"
    lm, score = found[0]
    m = alignment_matrix(lm, size)
    crop = Crop(warp_crop(inp, m, size), m, lm, score, detector.name)
    gt, ok = warp_normals(to_model_frame(ps.normal), ps.valid, m, size)
    region = face_region(crop.to_crop(lm), size)
    return PhotofaceFace(session.id, crop, gt, ok, region)


def prepare_photoface(
    root: str | Path,
    size: int,
    list_file: str | Path | None = None,
    image: str = "mean",
    lights: np.ndarray | None = None,
) -> PhotofaceSet:
    """Find the sessions, compute their GT normals and crop them at ``size`` (see the module
    docstring). ``image``: 'mean' or 'im0'..'im3', the model's input; ``lights``: (4, 3)
    directions in frame P for every session instead of its LightSource.m."""
    if image != "mean" and f"{image}.bmp" not in IMAGE_NAMES:
        raise L2RError(f"image must be 'mean' or one of im0..im3, got {image!r}")
    if lights is not None and np.asarray(lights).shape != (4, 3):
        raise L2RError(f"lights must be 4 directions (4, 3), got {np.asarray(lights).shape}")
    sessions = find_sessions(root, list_file)
    detector = FaceDetector()
    faces, skipped = [], []
    for s in sessions:
        got = prepare_face(s, size, detector, image, lights)
        if isinstance(got, str):
            skipped.append((s.id, got))
        else:
            faces.append(got)
    return PhotofaceSet(str(root), size, tuple(faces), tuple(skipped))


def evaluate_photoface(
    ckpt: str | Path | None,
    root: str | Path,
    device: torch.device | None = None,
    batch_size: int = 16,
    list_file: str | Path | None = None,
    image: str = "mean",
    lights: np.ndarray | None = None,
    prepared: PhotofaceSet | None = None,
) -> PhotofaceResult:
    """Run the protocol of the module docstring with one checkpoint (None: bundled).
    ``prepared``: a :func:`prepare_photoface` result to reuse (used when its crop size is the
    checkpoint's, else the set is prepared again)."""
    from l2r_cli.metrics import normal_accuracy
    from l2r_cli.reconstruct import Reconstructor

    rec = Reconstructor(
        ckpt, device or torch.device("cpu"), detect=False, batch_size=batch_size, model=None
    )
    s = rec.image_size
    data = prepared
    if data is None or data.size != s:
        data = prepare_photoface(root, s, list_file, image, lights)
    ids, mads, pixels = [], [], []
    under: dict[str, list[float]] = {str(t): [] for t in THRESHOLDS}
    skipped = list(data.skipped)
    for start in range(0, len(data.faces), max(1, batch_size)):
        chunk = data.faces[start : start + max(1, batch_size)]
        preds = rec.predict_crops([f.crop for f in chunk])
        pred = torch.from_numpy(np.stack([p.normal for p in preds])).float()
        gt = torch.from_numpy(np.stack([f.gt_normal for f in chunk])).float()
        masks = [f.gt_valid & f.region & (p.mask > 0.5) for f, p in zip(chunk, preds, strict=True)]
        mask = torch.from_numpy(np.stack(masks))
        acc = normal_accuracy(pred, gt, mask, THRESHOLDS)
        count = mask.flatten(1).sum(1)
        for k, f in enumerate(chunk):
            if count[k] == 0:
                skipped.append((f.id, "no pixel left in the face mask"))
                continue
            ids.append(f.id)
            mads.append(float(acc["mad"][k]))
            pixels.append(int(count[k]))
            for t in THRESHOLDS:
                under[str(t)].append(float(acc[f"under_{t}"][k]))
    if not ids:
        first = f", e.g. {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise L2RError(f"{root}: no session could be scored ({len(skipped)} skipped{first})")
    return PhotofaceResult(
        name=str(ckpt or "bundled"),
        ids=tuple(ids),
        mad=np.array(mads),
        under={t: np.array(v) for t, v in under.items()},
        pixels=np.array(pixels),
        skipped=tuple(skipped),
        prepared=data,
    )
