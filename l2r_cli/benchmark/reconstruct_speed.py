"""Time of `l2r reconstruct` split into its steps, against the model's pure forward pass at the
same batch size (``l2r benchmark speed --case reconstruct``; issue "Small, blurred faces in
real photos", deliverable 3).

Steps, each summed over the run and divided by the number of faces (generated crops, no
detection) or of photos (``--photos``: real photos, detection on): ``read`` (decode the file),
``crop`` (detect, 68 landmarks and align; with no detection the whole image is the crop),
split with ``--photos`` into ``detect`` (the face detector, on a copy of large photos) and
``align`` (landmarks and the warp into the crop),
``predict`` (:meth:`Reconstructor.predict_crops` in batches of ``batch_size``: the forward
pass plus the canonical surface, and with maps the shading and re-render they need),
``write`` (:meth:`FaceResult.save`: maps, canonical.npz, meta.json and the meshes of
``formats``; with ``maps=False`` only the meshes and meta.json). The first photo with a face
goes through every step first, untimed (the first mesh write imports open3d, ~0.8 s).
``forward`` is the predictor's ``predict`` alone on one batch (median of ``repeats``, after
one warm-up), per face.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from l2r_cli.detectors import DEFAULT_DETECTOR


def _write_crops(root: Path, n: int, size: int) -> list[Path]:
    """n face crops (size px PNGs): scikit-image's astronaut face, turned a little each."""
    from PIL import Image
    from skimage import data

    face = Image.fromarray(data.astronaut()).crop((130, 20, 330, 220)).resize((size, size))
    paths = []
    for i in range(n):
        p = root / f"face{i:04d}.png"
        face.rotate(i % 7 - 3).save(p)
        paths.append(p)
    return paths


def run_reconstruct_speed(
    faces: int = 64,
    batch_size: int = 16,
    formats: tuple[str, ...] = ("ply",),
    repeats: int = 5,
    ckpt: str | None = None,
    device: torch.device | str = "cpu",
    maps: bool = True,
    photos: list[Path] | None = None,
    detector: str = DEFAULT_DETECTOR,
    model: str | None = None,
) -> dict:
    """-> milliseconds per unit of read, crop, predict, write, their total and the pure forward
    per face, and forward per face / total per face (the pipeline's share of the model's
    throughput). Without ``photos``: ``faces`` generated crops, no detection, per face. With
    ``photos``: those files, faces found by ``detector`` and aligned (the crop step), per photo,
    in batches of ``batch_size`` photos. ``model``: as :class:`Reconstructor`'s (None: the
    checkpoint's own model); the pure forward is timed on the proxy's path when 'auto' has two."""
    from l2r_cli.reconstruct import Reconstructor, read_photo

    detect = photos is not None
    rec = Reconstructor(
        ckpt, device, detect=detect, batch_size=batch_size, maps=maps, detector=detector,
        model=model,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = list(photos) if detect else _write_crops(root, faces, rec.image_size)
        # warm-up: the first photo with a face through every step, so one-time costs (importing
        # the mesh writer, allocator growth) stay out of the times
        for path in paths:
            warm = rec.predict_crops(rec.crops(read_photo(path)))
            for r in warm:
                r.save(root / "warmup", formats=formats, maps=maps)
            if warm:
                break
        t = {"read": 0.0, "crop": 0.0, "predict": 0.0, "write": 0.0}
        n_faces, sample, t_detect = 0, None, 0.0
        for start in range(0, len(paths), batch_size):
            t0 = time.perf_counter()
            images = [read_photo(p) for p in paths[start : start + batch_size]]
            t1 = time.perf_counter()
            before = rec.detector.seconds["detect"] if detect else 0.0
            crops = [c for img in images for c in rec.crops(img)]
            t2 = time.perf_counter()
            if detect:
                t_detect += rec.detector.seconds["detect"] - before
            results = rec.predict_crops(crops)
            t3 = time.perf_counter()
            for k, r in enumerate(results):
                r.save(root / "out" / f"{n_faces + k:04d}", formats=formats, maps=maps)
            t4 = time.perf_counter()
            n_faces += len(crops)
            if crops and sample is None:
                sample = crops[0].image
            for key, dt in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                t[key] += dt
        if n_faces == 0:
            from l2r_cli.errors import L2RError

            raise L2RError("no face found in the photos: nothing to time")
        x = torch.from_numpy(np.stack([sample] * batch_size))
        x = x.to(rec.device).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            rec.predictor.predict(x)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                rec.predictor.predict(x)
                if rec.device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
    units = len(paths)
    out: dict = {k: v / units * 1000 for k, v in t.items()}
    out["total"] = sum(out.values())
    if detect:
        out["detect"] = t_detect / units * 1000
        out["align"] = out["crop"] - out["detect"]
    out["unit"] = "photo" if detect else "face"
    out["units"] = units
    out["faces"] = n_faces
    out["forward"] = float(np.median(times)) / batch_size * 1000
    out["forward_share"] = out["forward"] / (out["total"] * units / n_faces)
    return out
