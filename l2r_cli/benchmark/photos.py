"""Real-photo benchmark (``l2r benchmark photos``): does a model's pose and relief follow real
faces, or would a face template score the same? Protocol in docs/photos_benchmark.md.

Faces. DIR holds photos (searched recursively, sorted). A photo with an iBUG ``.pts`` file of
the same stem beside it is one face with those 68 landmarks; the others get dlib's detected
68 landmarks (:class:`l2r_cli.faces.FaceDetector`), a face per detection. iBUG's ``.pts``
coordinates are taken as 1-based (the first pixel's centre is (1, 1)), as menpo, the iBUG
group's Python library, takes them: its importer subtracts 1 from every value;
``pts_origin`` says otherwise. Every face is cropped in l2r's crop
convention from its landmarks (:func:`l2r_cli.faces.alignment_matrix`, as the 3DFAW protocol
does).

Reference. The generic 3D face of :mod:`l2r_cli.benchmark.face68` (derived from MediaPipe's
canonical face model, Apache 2.0) is fitted to the 51 inner landmarks of each crop
(:func:`fit_reference_pose`): a perspective-n-point fit in l2r's own camera (the model's fov,
pixel centres at integers) and l2r's own view parametrisation (R = Rz Ry Rx about the pivot
(0, 0, 1), :mod:`l2r_cli.render.transform`), so the reference yaw and pitch are in exactly
the frame and convention of the predicted view: the aligned crop, roll removed by the
alignment, positive yaw turning the face to the image left. The posed generic face also gives
each landmark's reference depth.

Scores per face: |yaw error| and |pitch error| (degrees) between the predicted and the
reference view, and the Pearson r between the predicted depth (the crop's view, read
bilinearly at the 68 landmarks) and the reference depth (the 3DFAW protocol with the posed
generic face standing in for scans). Null rows, scored the same way against the same
references: 'shuffled' (each face's prediction against every other face's reference in turn,
averaged: the expectation over derangements), 'non-face' (the model on non-face images put
through each face's own crop matrix: coffee, cat, uniform grey, noise; the mean over the four)
'template' (the model's own mean depth map and mean view over the set, for every face) and, for
depth r only, 'posed template' (the model's own mean canonical depth seen from each face's
predicted view: what the relief scores when only the pose is the model's). A metric counts as
working on real photos only where the model beats every null row that tests it by more than
two standard errors of the paired per-face difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from l2r_cli.benchmark.face68 import INNER_68, generic_face
from l2r_cli.errors import L2RError
from l2r_cli.faces import Crop, alignment_matrix, warp_crop
from l2r_cli.render.camera import intrinsics, project
from l2r_cli.render.transform import PIVOT, transform_points

if TYPE_CHECKING:
    from l2r_cli.predictor import Predictor
    from l2r_cli.render import Renderer

N_LANDMARKS = 68

#: Rows of a result, the model's first; the others are the null rows. 'posed template' (the
#: model's own mean canonical depth seen from each face's predicted view) has the model's own
#: views, so it only tests the relief (depth r); it needs a 'canon_depth' prediction.
ROWS = ("model", "shuffled", "non-face", "template", "posed template")

#: (key, label, True when lower is better) of the per-face scores.
METRICS = (
    ("yaw_err", "yaw", True),
    ("pitch_err", "pitch", True),
    ("depth_r", "depth r", False),
)

#: A null row is beaten when the paired mean difference exceeds this many standard errors.
VERDICT_SE = 2.0

#: Non-face images of the 'non-face' null row, in this order.
NONFACE_KINDS = ("coffee", "chelsea", "grey", "noise")

#: Starting yaws (radians) of the pose fit; the best of the fits is kept.
_START_YAWS = (-0.6, 0.0, 0.6)


def read_pts(path: str | Path, origin: float = 1.0) -> np.ndarray:
    """An iBUG ``.pts`` file (``version: 1``, ``n_points: 68``, ``{``, 68 lines "x y", ``}``)
    -> (68, 2) float photo pixels (x, y) with the first pixel's centre at 0, i.e. the file's
    values minus ``origin``. Any other content is a one-line L2RError."""
    p = Path(path)
    try:
        text = p.read_text(errors="replace")
    except OSError as exc:
        raise L2RError(f"{p}: cannot read ({exc.strerror or exc})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if "{" not in lines or "}" not in lines or lines.index("}") < lines.index("{"):
        raise L2RError(f"{p}: not an iBUG .pts file (expected the points between '{{' and '}}')")
    header = {}
    for ln in lines[: lines.index("{")]:
        key, _, value = ln.partition(":")
        header[key.strip().lower()] = value.strip()
    body = lines[lines.index("{") + 1 : lines.index("}")]
    try:
        pts = np.array([[float(v) for v in ln.split()] for ln in body], float)
    except ValueError:
        raise L2RError(f"{p}: expected lines 'x y' of numbers between '{{' and '}}'") from None
    if pts.ndim != 2 or (len(pts) and pts.shape[1] != 2):
        raise L2RError(f"{p}: expected lines 'x y' of two numbers between '{{' and '}}'")
    if len(pts) != N_LANDMARKS:
        raise L2RError(f"{p}: expected {N_LANDMARKS} points, found {len(pts)}")
    if "n_points" in header and header["n_points"] != str(N_LANDMARKS):
        raise L2RError(f"{p}: n_points is {header['n_points']}, expected {N_LANDMARKS}")
    if not np.isfinite(pts).all():
        raise L2RError(f"{p}: points must be finite numbers")
    return pts - origin


def write_pts(path: str | Path, landmarks: np.ndarray, origin: float = 1.0) -> None:
    """Write (68, 2) 0-based photo pixels as an iBUG ``.pts`` file (values + ``origin``)."""
    rows = [f"{x + origin:.3f} {y + origin:.3f}" for x, y in np.asarray(landmarks, float)]
    head = f"version: 1\nn_points: {len(rows)}\n{{\n"
    Path(path).write_text(head + "\n".join(rows) + "\n}\n")


def find_photos(root: str | Path) -> list[tuple[Path, Path | None]]:
    """Image files under ``root`` (recursive, sorted) with their ``.pts`` file or None."""
    from l2r_cli.data.ingest import IMAGE_SUFFIXES

    root = Path(root)
    if not root.is_dir():
        raise L2RError(f"{root}: no such folder")
    photos = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not photos:
        kinds = " ".join(sorted(IMAGE_SUFFIXES))
        raise L2RError(f"{root}: folder holds no image files ({kinds})")
    out = []
    for p in photos:
        pts = [q for q in (p.with_suffix(".pts"), p.with_suffix(".PTS")) if q.is_file()]
        out.append((p, pts[0] if pts else None))
    return out


def nonface_images(seed: int = 0) -> dict[str, np.ndarray]:
    """The non-face images of the null row: kind -> (H, W, 3) uint8 (scikit-image's coffee
    cup and cat, a uniform grey square, uniform noise from ``seed``)."""
    from skimage import data

    rng = np.random.default_rng(seed)
    return {
        "coffee": data.coffee(),
        "chelsea": data.chelsea(),
        "grey": np.full((256, 256, 3), 128, np.uint8),
        "noise": rng.integers(0, 256, (256, 256, 3), dtype=np.uint8),
    }


def _matrix_onto(matrix: np.ndarray, photo_wh: tuple[int, int], image: np.ndarray) -> np.ndarray:
    """The crop matrix ``matrix`` of a W x H photo, moved onto ``image`` stretched over the
    same frame: the crop takes the same part of ``image`` as of the photo."""
    h, w = image.shape[:2]
    a = np.array([(w - 1) / max(photo_wh[0] - 1, 1), (h - 1) / max(photo_wh[1] - 1, 1)])
    return matrix * a[:, None]


@dataclass
class PhotoFace:
    """One face of the set: ``landmarks`` (68, 2) photo pixels (0-based), where they came
    from ('pts' or 'dlib'), the photo's (W, H), and per crop size S its aligned crop and the
    non-face crops (kind -> (S, S, 3) uint8) taken with the same matrix."""

    source: str
    index: int
    landmarks: np.ndarray
    landmark_source: str
    photo_size: tuple[int, int]
    crops: dict[int, Crop] = field(default_factory=dict)
    nonface: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """source#index."""
        return f"{self.source}#{self.index}"


def load_photo_faces(
    root: str | Path,
    sizes: tuple[int, ...] = (64,),
    largest: bool = False,
    pts_origin: float = 1.0,
    min_score: float = 0.3,
    seed: int = 0,
) -> tuple[list[PhotoFace], list[str]]:
    """The faces of DIR ``root`` with their crops at each of ``sizes`` -> (faces, notes).

    notes: one line per skipped photo (no face found). L2RError for a folder without images,
    an unreadable photo, a malformed ``.pts`` file, or fewer than two faces in all."""
    from l2r_cli.faces import FaceDetector
    from l2r_cli.reconstruct import read_photo

    found = find_photos(root)
    others = nonface_images(seed)
    detector: FaceDetector | None = None
    faces: list[PhotoFace] = []
    notes: list[str] = []
    for path, pts in found:
        lms: list[tuple[np.ndarray, str]] = []
        photo = read_photo(path)
        if pts is not None:
            lms.append((read_pts(pts, pts_origin), "pts"))
        else:
            if detector is None:
                detector = FaceDetector(min_score)
            lms += [(lm, "dlib") for lm, _ in detector.detect(photo)]
            if not lms:
                notes.append(f"{path}: no face found, skipped")
                continue
            if largest:
                lms = lms[:1]
        wh = (int(photo.shape[1]), int(photo.shape[0]))
        for k, (lm, src) in enumerate(lms):
            face = PhotoFace(str(path), k, lm, src, wh)
            for s in sizes:
                m = alignment_matrix(lm, s)
                face.crops[s] = Crop(warp_crop(photo, m, s), m, lm, detector=src)
                face.nonface[s] = {
                    kind: warp_crop(img, _matrix_onto(m, wh, img), s)
                    for kind, img in others.items()
                }
            faces.append(face)
    if not faces:
        raise L2RError(f"{root}: no face found in any of its {len(found)} photo(s)")
    if len(faces) < 2:
        raise L2RError(f"{root}: found 1 face; the shuffled null row needs at least 2")
    return faces, notes


@dataclass(frozen=True)
class ReferencePose:
    """The generic face fitted to one crop's landmarks.

    view (6,): [rx = pitch, ry = yaw, rz = roll (radians), tx, ty, tz = 0] in l2r's
    convention; scale: model units per centimetre; points (68, 3): the posed generic face in
    the crop's camera space (z = reference depth); rms_px: reprojection error of the fitted
    (inner) landmarks, crop pixels."""

    view: np.ndarray
    scale: float
    points: np.ndarray
    rms_px: float


def pose_generic(view: np.ndarray, scale: float) -> np.ndarray:
    """The generic face (centred on its inner landmarks) scaled, placed at the pivot
    (0, 0, 1) and moved by ``view`` (6,) with l2r's own view transform
    (:func:`l2r_cli.render.transform.transform_points`: R (p - c) + c + t). -> (68, 3)."""
    g = generic_face()
    g = (g - g[list(INNER_68)].mean(0)) * scale + np.array(PIVOT)
    v = torch.as_tensor(np.asarray(view, float), dtype=torch.float64)
    return transform_points(torch.from_numpy(g)[None], v[None])[0].numpy()


def project_np(points: np.ndarray, size: int, fov: float) -> np.ndarray:
    """(N, 3) camera points -> (N, 2) pixels of l2r's camera for an S x S image
    (:func:`l2r_cli.render.camera.intrinsics` and :func:`~l2r_cli.render.camera.project`)."""
    K = intrinsics(size, fov, dtype=torch.float64)
    return project(torch.from_numpy(np.asarray(points, float))[None], K)[0, :, :2].numpy()


def fit_reference_pose(landmarks: np.ndarray, size: int, fov: float = 10.0) -> ReferencePose:
    """Perspective-n-point fit of the generic face to landmarks (68, 2) in the pixels of an
    S x S crop, in l2r's camera and view parametrisation.

    Unknowns: the three angles, the x/y translation and the scale (the z translation is 0,
    as for the proxy's faces, since with a 10 degree field of view it is nearly
    interchangeable with the scale). Only the 51 inner landmarks are fitted (the jaw contour
    slides over the face as it turns); the best of fits started at a few yaws is kept. A
    scipy least-squares problem of six unknowns: see docs/photos_benchmark.md for why not
    OpenCV's solvePnP."""
    from scipy.optimize import least_squares

    lm = np.asarray(landmarks, float)
    if lm.shape != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must be (68, 2), got {lm.shape}")
    inner = list(INNER_68)
    target = lm[inner]
    f = (size - 1) / 2 / math.tan(math.radians(fov) / 2)
    c = (size - 1) / 2
    g = generic_face()
    g = g - g[inner].mean(0)
    spread = np.sqrt(((target - target.mean(0)) ** 2).sum(1).mean())
    g_spread = np.sqrt((g[inner, :2] ** 2).sum(1).mean())
    s0 = spread / (f * g_spread)
    t0 = (target.mean(0) - c) / f

    def residual(x: np.ndarray) -> np.ndarray:
        view = np.array([x[0], x[1], x[2], x[3], x[4], 0.0])
        p = pose_generic(view, math.exp(x[5]))[inner]
        return (project_np(p, size, fov) - target).ravel()

    best = None
    for yaw in _START_YAWS:
        x0 = np.array([0.0, yaw, 0.0, t0[0], t0[1], math.log(s0)])
        sol = least_squares(residual, x0, method="lm", x_scale="jac")
        if best is None or sol.cost < best.cost:
            best = sol
    x = best.x
    view = np.array([x[0], x[1], x[2], x[3], x[4], 0.0])
    scale = math.exp(x[5])
    rms = float(np.sqrt((best.fun**2).reshape(-1, 2).sum(1).mean()))
    return ReferencePose(view, scale, pose_generic(view, scale), rms)


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each row of a (N, K) with the same row of b (N, K) -> (N,); a row with no
    variance in a or b scores 0 (no relief, no correlation)."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a**2).sum(1) * (b**2).sum(1))
    num = (a * b).sum(1)
    return np.where(den > 1e-12, num / np.maximum(den, 1e-300), 0.0)


def _depth_at(depth: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """depth (S, S) read bilinearly at pts (N, 2) = (col, row), clamped to the map -> (N,)."""
    from scipy.ndimage import map_coordinates

    return map_coordinates(depth, [pts[:, 1], pts[:, 0]], order=1, mode="nearest")


@torch.no_grad()
def _predict(predictor: Predictor, images: list[np.ndarray], device, batch_size: int):
    """(S, S, 3) uint8 images -> depth (N, S, S), view (N, 6) and canonical depth (N, S, S)
    or None, numpy float64 (a predictor without a 'view' output is taken as seeing every face
    frontally; one without 'canon_depth' gives None)."""
    depths, views, canons = [], [], []
    for start in range(0, len(images), batch_size):
        chunk = np.stack(images[start : start + batch_size])
        x = torch.from_numpy(chunk).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
        out = predictor.predict(x)
        depth = out["depth"]
        view = out.get("view")
        if view is None:
            view = torch.zeros(depth.shape[0], 6)
        depths.append(depth.detach().double().cpu().numpy())
        views.append(view.detach().double().cpu().numpy())
        if out.get("canon_depth") is not None:
            canons.append(out["canon_depth"].detach().double().cpu().numpy())
    canon = np.concatenate(canons) if len(canons) == len(depths) else None
    return np.concatenate(depths), np.concatenate(views), canon


def _posed(renderer: Renderer, canon: np.ndarray, views: np.ndarray) -> np.ndarray:
    """One canonical depth (S, S) seen from each view (N, 6) -> view-space depth (N, S, S)."""
    r = renderer
    d = torch.from_numpy(canon).float().to(r.device).expand(len(views), *canon.shape)
    v = torch.from_numpy(views).float().to(r.device)
    return r.warp_depth(d, v).depth.double().cpu().numpy()


def _ident(row: str) -> str:
    """'posed template' -> 'posed_template' (per-face JSON keys)."""
    return row.replace(" ", "_").replace("-", "_")


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else float("nan")


@dataclass
class PhotosResult:
    """One model on one photo set.

    scores: row -> metric -> (N,) per-face values (yaw_err / pitch_err in degrees, depth_r;
    the 'posed template' row has depth_r only);
    pred_view (N, 6) and ref_view (N, 6) radians; pred_depth (N, 68) the predicted depth at
    the landmarks; nonface: kind -> metric -> (N,)."""

    name: str
    faces: list[PhotoFace]
    refs: list[ReferencePose]
    pred_view: np.ndarray
    pred_depth: np.ndarray
    scores: dict[str, dict[str, np.ndarray]]
    nonface: dict[str, dict[str, np.ndarray]]

    @property
    def ref_view(self) -> np.ndarray:
        """(N, 6) reference views."""
        return np.stack([r.view for r in self.refs])

    def verdict(self) -> dict[str, dict]:
        """metric -> {'works': beats every null row by > VERDICT_SE standard errors,
        'vs': row -> {mean, se} of the paired per-face margin (positive = model better)}."""
        out = {}
        for key, _, lower in METRICS:
            model = self.scores["model"][key]
            vs = {}
            for row in self.scores:
                if row == "model" or key not in self.scores[row]:
                    continue
                d = self.scores[row][key] - model if lower else model - self.scores[row][key]
                vs[row] = {"mean": float(d.mean()), "se": _se(d)}
            works = all(v["mean"] > VERDICT_SE * v["se"] for v in vs.values())
            out[key] = {"works": bool(works), "vs": vs}
        return out

    def rows(self) -> list[dict]:
        """One summary dict per row (mean and standard error of each metric)."""
        out = []
        for row, scores in self.scores.items():
            r = {"name": self.name, "row": row, "n": len(self.faces)}
            for key, v in scores.items():
                r[f"{key}_mean"], r[f"{key}_se"] = float(v.mean()), _se(v)
            out.append(r)
        return out

    def summary(self) -> dict:
        """JSON-friendly: rows, verdict, pose bias and tracking, per-face values."""
        deg = np.degrees
        pv, rv = deg(self.pred_view[:, :3]), deg(self.ref_view[:, :3])
        verdict = self.verdict()

        def corr(a: np.ndarray, b: np.ndarray) -> float | None:
            return float(pearson_rows(a[None], b[None])[0]) if len(a) > 2 else None

        faces = []
        for i, (f, ref) in enumerate(zip(self.faces, self.refs, strict=True)):
            faces.append({
                "source": f.source, "face": f.index, "landmarks": f.landmark_source,
                "ref_pitch_deg": round(float(rv[i, 0]), 3),
                "ref_yaw_deg": round(float(rv[i, 1]), 3),
                "ref_roll_deg": round(float(rv[i, 2]), 3),
                "ref_fit_rms_px": round(ref.rms_px, 4),
                "pred_pitch_deg": round(float(pv[i, 0]), 3),
                "pred_yaw_deg": round(float(pv[i, 1]), 3),
                "pred_roll_deg": round(float(pv[i, 2]), 3),
                **{f"{_ident(row)}_{key}": round(float(v[i]), 4)
                   for row, sc in self.scores.items() for key, v in sc.items()},
                "nonface": {kind: {key: round(float(v[key][i]), 4) for key, _, _ in METRICS}
                            for kind, v in self.nonface.items()},
            })  # fmt: skip
        return {
            "name": self.name,
            "n": len(self.faces),
            "rows": self.rows(),
            "verdict": verdict,
            "works_on_real_photos": {label: verdict[key]["works"] for key, label, _ in METRICS},
            "pose": {
                "yaw_bias_deg": float((pv[:, 1] - rv[:, 1]).mean()),
                "pitch_bias_deg": float((pv[:, 0] - rv[:, 0]).mean()),
                "yaw_corr": corr(pv[:, 1], rv[:, 1]),
                "pitch_corr": corr(pv[:, 0], rv[:, 0]),
                "ref_abs_yaw_mean_deg": float(np.abs(rv[:, 1]).mean()),
                "ref_abs_pitch_mean_deg": float(np.abs(rv[:, 0]).mean()),
                "ref_fit_rms_px_mean": float(np.mean([r.rms_px for r in self.refs])),
            },
            "nonface_kinds": list(self.nonface),
            "faces": faces,
        }


def _score(pred_view, pred_lm_depth, ref_view, ref_depth) -> dict[str, np.ndarray]:
    """Per-face |yaw| / |pitch| errors (degrees) and depth r of (N, 6), (N, 68) predictions
    against (N, 6), (N, 68) references."""
    return {
        "yaw_err": np.abs(np.degrees(pred_view[:, 1] - ref_view[:, 1])),
        "pitch_err": np.abs(np.degrees(pred_view[:, 0] - ref_view[:, 0])),
        "depth_r": pearson_rows(pred_lm_depth, ref_depth),
    }


def evaluate_photos(
    predictor: Predictor,
    faces: list[PhotoFace],
    renderer: Renderer | None = None,
    device: torch.device | None = None,
    batch_size: int = 16,
    name: str | None = None,
) -> PhotosResult:
    """Score one predictor (any :class:`l2r_cli.predictor.Predictor` whose output has
    'depth' (B, S, S) and 'view' (B, 6)) on faces loaded at its image size, with the null
    rows of the module docstring. ``renderer``: the camera and depth range of the
    predictor's views (default :func:`l2r_cli.predictor.renderer_of`). The 'posed template'
    row (the model's own mean canonical depth seen from each face's predicted view, as
    ``benchmark bfm``'s own template) needs a 'canon_depth' output and is left out without
    one."""
    from l2r_cli.predictor import renderer_of

    device = device or torch.device("cpu")
    renderer = renderer or renderer_of(predictor, device)
    fov = renderer.fov
    s = predictor.image_size
    if any(s not in f.crops for f in faces):
        raise ValueError(f"faces were not cropped at the predictor's size {s}")
    n = len(faces)
    lms = [f.crops[s].to_crop(f.landmarks) for f in faces]  # (68, 2) crop pixels each
    refs = [fit_reference_pose(lm, s, fov) for lm in lms]
    ref_view = np.stack([r.view for r in refs])
    ref_depth = np.stack([r.points[:, 2] for r in refs])

    depth, view, canon = _predict(predictor, [f.crops[s].image for f in faces], device, batch_size)
    at = np.stack([_depth_at(depth[i], lms[i]) for i in range(n)])
    scores = {"model": _score(view, at, ref_view, ref_depth)}

    # every other face's reference in turn, averaged: the expectation over derangements (one
    # seeded derangement of a dozen faces is a noisy null, docs/photos_benchmark.md)
    shuffled = {key: np.zeros(n) for key, _, _ in METRICS}
    for i in range(n):
        js = [j for j in range(n) if j != i]
        rep = [i] * len(js)
        sc = _score(view[rep], at[rep], ref_view[js], ref_depth[js])
        for key in shuffled:
            shuffled[key][i] = sc[key].mean()
    scores["shuffled"] = shuffled

    kinds = list(faces[0].nonface[s])
    imgs = [f.nonface[s][k] for f in faces for k in kinds]
    nf_depth, nf_view, _ = _predict(predictor, imgs, device, batch_size)
    nonface = {}
    for j, kind in enumerate(kinds):
        d, v = nf_depth[j :: len(kinds)], nf_view[j :: len(kinds)]
        nf_at = np.stack([_depth_at(d[i], lms[i]) for i in range(n)])
        nonface[kind] = _score(v, nf_at, ref_view, ref_depth)
    scores["non-face"] = {
        key: np.mean([nonface[k][key] for k in kinds], 0) for key, _, _ in METRICS
    }

    mean_depth, mean_view = depth.mean(0), np.broadcast_to(view.mean(0), view.shape)
    tmpl_at = np.stack([_depth_at(mean_depth, lms[i]) for i in range(n)])
    scores["template"] = _score(mean_view, tmpl_at, ref_view, ref_depth)
    if canon is not None:
        posed = _posed(renderer, canon.mean(0), view)
        posed_at = np.stack([_depth_at(posed[i], lms[i]) for i in range(n)])
        scores["posed template"] = {"depth_r": pearson_rows(posed_at, ref_depth)}
    return PhotosResult(
        name or getattr(predictor, "name", "model"), faces, refs, view, at, scores, nonface
    )
