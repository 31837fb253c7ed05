"""Face detection, 68-point landmarks and the crop convention of l2r's models (``l2r reconstruct``).

Detection is one of :mod:`l2r_cli.detectors` (default dlib's HOG face detector); landmarks
are dlib's 68-point shape predictor, whose model file ships in PyPI's
``face-recognition-models`` (CC0). Both install from the registry (``dlib-bin``); nothing is
downloaded at run time.

Crop convention. A crop is a similarity transform of the photo (rotation, uniform scale,
translation) chosen from the landmarks the way FFHQ's alignment does it (from the eye-to-eye and
eye-to-mouth vectors, robust to yaw), with constants that put the eye centres and the mouth line
where the training faces have them. For l2r's synthetic faces (:mod:`l2r_cli.data.synth`) those
are the means of the generator's layout parameters (:mod:`l2r_cli.data.face_template`, which
loads no torch), in the generator's (u, v) frame (u, v in [-1, 1] across the crop, v down):

- eye centres at (+-EYE_U, EYE_V), the mouth line (mid-point of the mouth corners) at
  (0, MOUTH_V);
- a crop unit (u = 0 -> 1) is ``max(|eye-to-eye| / (2 EYE_U), |eye-to-mouth| / (MOUTH_V - EYE_V))``
  photo pixels;
- the crop's x axis is the bisector of the eye-to-eye direction and the eye-to-mouth direction
  turned by -90 degrees, so a rolled head comes out upright.

A :class:`Crop` records the transform as a 2x3 matrix from crop pixels to photo pixels, so any
map in the crop's view (depth, normals, ...) can be placed back onto the photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import map_coordinates

from l2r_cli.data.face_template import param_mean
from l2r_cli.detectors import models_dir, shrink
from l2r_cli.errors import L2RError

#: Eye centres at (+-EYE_U, EYE_V) and the mouth line at (0, MOUTH_V) in crop (u, v) units.
EYE_U = param_mean("eye_x")
EYE_V = param_mean("eye_v")
MOUTH_V = EYE_V + param_mean("nose_len") + param_mean("mouth_gap") + param_mean("mouth_dv")

#: The face region of an aligned crop (the synthetic heads' mean outline), as an ellipse in crop
#: (u, v) units: centre (0, FACE_CV), half axes FACE_A x FACE_B. Meshes keep what is inside it.
FACE_CV = param_mean("head_cy")
FACE_A = param_mean("head_a")
FACE_B = param_mean("head_b")

#: dlib's 68-point indices used by the crop and by the face-shape checks.
LM_EYE_L, LM_EYE_R = slice(36, 42), slice(42, 48)
LM_MOUTH_L, LM_MOUTH_R = 48, 54
LM_NOSE_TIP = 30
LM_EYE_OUTER = (36, 45)

#: Detection runs on a copy whose longer side is at most this (landmarks on the full photo).
DETECT_MAX_SIDE = 1600

#: Faces whose detection box is narrower than this get their landmarks on an upsampled copy
#: of the region around the box (``FaceDetector(upsample_landmarks=True)``).
LANDMARK_MIN_PX = 100


@dataclass
class Crop:
    """An aligned face crop.

    image: (S, S, 3) uint8; matrix: (2, 3) float, photo pixel = matrix @ (col, row, 1) for a crop
    pixel (col, row) (pixel centres at integers); landmarks: (68, 2) photo pixels (x, y) or None;
    score: the detector's confidence (None without detection).
    """

    image: np.ndarray
    matrix: np.ndarray
    landmarks: np.ndarray | None = None
    score: float | None = None
    detector: str = "none"
    meta: dict = field(default_factory=dict)
    hires: np.ndarray | None = None
    """The same crop frame at a higher resolution (H, H, 3) uint8, for photo textures."""

    @property
    def quad(self) -> np.ndarray:
        """(4, 2) photo pixels of the crop's corners: top-left, top-right, bottom-right,
        bottom-left."""
        s = self.image.shape[0] - 1
        corners = np.array([[0, 0, 1], [s, 0, 1], [s, s, 1], [0, s, 1]], float)
        return corners @ self.matrix.T

    @property
    def box(self) -> list[float]:
        """Axis-aligned bounds [x0, y0, x1, y1] of :attr:`quad` in photo pixels."""
        q = self.quad
        lo, hi = q.min(0), q.max(0)
        return [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) photo pixels -> (N, 2) crop pixels (col, row)."""
        m = self.matrix[:, :2]
        return (np.asarray(points, float) - self.matrix[:, 2]) @ np.linalg.inv(m).T

    def to_dict(self) -> dict:
        """JSON-friendly record for meta.json."""
        return {
            "size": int(self.image.shape[0]),
            "box": [round(v, 2) for v in self.box],
            "quad": np.round(self.quad, 2).tolist(),
            "matrix": np.round(self.matrix, 6).tolist(),
            "matrix_maps": "crop pixel (col, row, 1) -> photo pixel (x, y); centres at integers",
            "detector": self.detector,
            "score": None if self.score is None else round(float(self.score), 4),
            "landmarks": None if self.landmarks is None else np.round(self.landmarks, 2).tolist(),
        }


def alignment_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(68, 2) photo landmarks -> (2, 3) crop-pixel -> photo-pixel matrix of the S x S crop."""
    lm = np.asarray(landmarks, float)
    eye_l, eye_r = lm[LM_EYE_L].mean(0), lm[LM_EYE_R].mean(0)
    mouth = (lm[LM_MOUTH_L] + lm[LM_MOUTH_R]) / 2
    eye_avg = (eye_l + eye_r) / 2
    e2e, e2m = eye_r - eye_l, mouth - eye_avg
    n_e2e, n_e2m = np.linalg.norm(e2e), np.linalg.norm(e2m)
    if n_e2e < 1e-6 or n_e2m < 1e-6:
        raise L2RError("degenerate landmarks (eyes or mouth coincide)")
    x = e2e / n_e2e + np.array([e2m[1], -e2m[0]]) / n_e2m
    x = x / max(np.linalg.norm(x), 1e-12)
    y = np.array([-x[1], x[0]])
    unit = max(n_e2e / (2 * EYE_U), n_e2m / (MOUTH_V - EYE_V))  # photo pixels per crop unit
    centre = eye_avg - EYE_V * unit * y
    half = (size - 1) / 2  # crop pixels per crop unit
    m = np.zeros((2, 3))
    m[:, 0] = x * unit / half
    m[:, 1] = y * unit / half
    m[:, 2] = centre - (x + y) * unit
    return m


def square_matrix(height: int, width: int, size: int) -> np.ndarray:
    """Matrix of the S x S crop that shows a whole H x W photo (centred, the longer side fills
    it; the rest is padded by edge replication)."""
    scale = (max(height, width) - 1) / max(size - 1, 1)
    off = (np.array([width, height], float) - 1) / 2 - scale * (size - 1) / 2
    return np.array([[scale, 0.0, off[0]], [0.0, scale, off[1]]])


def warp_crop(photo: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Resample photo (H, W, 3) uint8 into the (S, S, 3) uint8 crop of ``matrix``.

    Bilinear at ss x ss sub-pixels per crop pixel, averaged (ss grows with the downscale so
    large photos do not alias); outside the photo, the nearest edge pixel.
    """
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    ss = int(min(8, max(1, math.ceil(scale))))
    g = (np.arange(size * ss) + 0.5) / ss - 0.5
    cols, rows = np.meshgrid(g, g)
    xs = matrix[0, 0] * cols + matrix[0, 1] * rows + matrix[0, 2]
    ys = matrix[1, 0] * cols + matrix[1, 1] * rows + matrix[1, 2]
    chans = [
        map_coordinates(photo[..., c].astype(np.float32), [ys, xs], order=1, mode="nearest")
        for c in range(3)
    ]
    out = np.stack(chans, -1).reshape(size, ss, size, ss, 3).mean((1, 3))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class FaceDetector:
    """A face detector of :mod:`l2r_cli.detectors` (``detector``, default dlib's HOG at one
    upsampling) + dlib's 68-point shape predictor on each box (model from
    face-recognition-models).

    ``min_score``: HOG detections below this score are dropped (dlib's own threshold is 0; the
    default rejects the weakest, which on the photos we tried were not faces); the other
    detectors keep their own thresholds.
    """

    def __init__(
        self, min_score: float = 0.3, detector: str = "hog:1", upsample_landmarks: bool = False
    ) -> None:
        from l2r_cli.detectors import import_dlib, make_detector

        dlib = import_dlib()
        model = models_dir() / "shape_predictor_68_face_landmarks.dat"
        if not model.is_file():
            raise L2RError(f"landmark model missing: {model} (reinstall face-recognition-models)")
        self._dlib = dlib
        self._detector = make_detector(detector, hog_min_score=min_score)
        self._predictor = dlib.shape_predictor(str(model))
        self.min_score = min_score
        self.upsample_landmarks = upsample_landmarks
        self.seconds = {"detect": 0.0, "landmarks": 0.0}
        """Time spent so far in :meth:`detect`: the detector (with the shrink of large photos)
        and the landmark predictor (``l2r benchmark speed --case reconstruct``)."""
        base = "dlib-hog" if detector == "hog:1" else self._detector.name  # the old default's name
        self.name = f"{base}+shape_predictor_68"

    def landmarks(self, photo: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """(68, 2) photo pixels for the face in ``box`` (x0, y0, x1, y1 inclusive). With
        ``upsample_landmarks`` a box narrower than LANDMARK_MIN_PX is predicted on the region
        around it (twice the box, clipped to the photo) enlarged bicubically so that the box is
        LANDMARK_MIN_PX wide, and mapped back."""
        dlib = self._dlib
        x0, y0, x1, y1 = box
        w = x1 - x0 + 1
        if not self.upsample_landmarks or w >= LANDMARK_MIN_PX:
            shape = self._predictor(photo, dlib.rectangle(x0, y0, x1, y1))
            return np.array([[p.x, p.y] for p in shape.parts()], float)
        from PIL import Image

        h_img, w_img = photo.shape[:2]
        pad = w // 2 + 1
        rx0, ry0 = max(0, x0 - pad), max(0, y0 - pad)
        rx1, ry1 = min(w_img, x1 + pad + 1), min(h_img, y1 + pad + 1)
        f = LANDMARK_MIN_PX / w
        region = photo[ry0:ry1, rx0:rx1]
        size = (round((rx1 - rx0) * f), round((ry1 - ry0) * f))
        big = np.asarray(Image.fromarray(region).resize(size, Image.BICUBIC))

        def up(v: float, o: int) -> int:  # a photo pixel centre -> the enlarged copy's
            return round((v - o + 0.5) * f - 0.5)

        rect = dlib.rectangle(up(x0, rx0), up(y0, ry0), up(x1, rx0), up(y1, ry0))
        shape = self._predictor(np.ascontiguousarray(big), rect)
        pts = np.array([[p.x, p.y] for p in shape.parts()], float)
        return (pts + 0.5) / f - 0.5 + np.array([rx0, ry0], float)

    def detect(self, photo: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """photo (H, W, 3) uint8 -> [(landmarks (68, 2) photo pixels, score)], largest first."""
        import time

        dlib = self._dlib
        t0 = time.perf_counter()
        h, w = photo.shape[:2]
        factor = min(1.0, DETECT_MAX_SIDE / max(h, w))
        small = shrink(photo, factor, "bilinear")
        found = []
        dets = self._detector(np.ascontiguousarray(small))
        self.seconds["detect"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        for d in dets:
            x0, y0, x1, y1 = d.box  # x1, y1 exclusive; dlib's rectangles are inclusive
            big = dlib.rectangle(
                round(x0 / factor),
                round(y0 / factor),
                round((x1 - 1) / factor),
                round((y1 - 1) / factor),
            )
            box = (big.left(), big.top(), big.right(), big.bottom())
            found.append((self.landmarks(photo, box), d.score, big.width() * big.height()))
        self.seconds["landmarks"] += time.perf_counter() - t0
        found.sort(key=lambda t: -t[2])
        return [(lm, s) for lm, s, _ in found]


def rescale_matrix(matrix: np.ndarray, size: int, new_size: int) -> np.ndarray:
    """The matrix of the same crop frame sampled at ``new_size`` instead of ``size`` pixels."""
    m = np.array(matrix, float)
    m[:, :2] *= (size - 1) / max(new_size - 1, 1)
    return m


def crops_of(
    photo: np.ndarray,
    size: int,
    detector: FaceDetector | None,
    largest: bool = False,
    hires: int = 0,
) -> list[Crop]:
    """Aligned crops of every face in photo (H, W, 3) uint8; ``detector=None`` takes the whole
    photo as one already-cropped face. An empty list means no face was found. ``hires`` > 0
    also keeps each crop at that many pixels (:attr:`Crop.hires`)."""
    found: list[tuple[np.ndarray, np.ndarray | None, float | None]] = []
    if detector is None:
        found.append((square_matrix(photo.shape[0], photo.shape[1], size), None, None))
    else:
        for lm, score in detector.detect(photo):
            found.append((alignment_matrix(lm, size), lm, score))
            if largest:
                break
    crops = []
    for m, lm, score in found:
        c = Crop(warp_crop(photo, m, size), m, lm, score, "none" if lm is None else detector.name)
        if hires:
            c.hires = warp_crop(photo, rescale_matrix(m, size, hires), hires)
        crops.append(c)
    return crops
