"""`l2r benchmark detect --data DIR`: face detectors on a labelled photo set, at full resolution
and shrunk to small, blurred, JPEG-compressed faces (:mod:`l2r_cli.benchmark.detect`,
docs/detection.md)."""

from __future__ import annotations

import click

from l2r_cli.benchmark.report import results_table
from l2r_cli.commands.benchmark import _json_option, _write_json
from l2r_cli.commands.options import data_option
from l2r_cli.console import log


def _detectors_option(f):
    return click.option(
        "--detector",
        "detectors",
        multiple=True,
        default=("hog:1", "hog:2", "cnn:1", "cnn:2"),
        show_default=True,
        metavar="SPEC",
        help="Detector to score (repeat): hog, cnn or mediapipe; hog:N / cnn:N upsample N times.",
    )(f)


@click.command("detect")
@data_option("Folder of photos with labels.json (docs/detection.md).")
@_detectors_option
@click.option(
    "--face-px",
    default="16,40",
    show_default=True,
    metavar="MIN,MAX",
    help="Median face width of the low-resolution copy, drawn per photo.",
)
@click.option(
    "--full/--no-full",
    default=True,
    show_default=True,
    help="Also score the photos at full resolution.",
)
@click.option(
    "--save-lowres",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the low-resolution copy (photos and labels.json) to this folder.",
)
@click.option(
    "--max-side",
    default=1024,
    show_default=True,
    type=click.IntRange(min=0),
    help="Detect on a copy whose longer side is at most this (0 = the photo as it is).",
)
@_json_option
@click.pass_obj
def detect(g, data, detectors, face_px, full, save_lowres, max_side, json_out) -> None:
    """Recall, false faces per photo and time per photo of each face detector on a labelled
    set, on its photos as they are and on a copy shrunk so faces are 16-40 px wide, blurred and
    JPEG-compressed (seeded by --seed).

    \b
    Example:
      l2r benchmark detect --data small_faces/ --detector hog:1 --detector cnn:2 --json det.json
    """
    from l2r_cli.benchmark.detect import (
        LowResConfig,
        load_labelled,
        lowres_version,
        save_labelled,
        score_detector,
    )
    from l2r_cli.detectors import make_detector
    from l2r_cli.errors import L2RError

    try:
        lo, hi = (float(x) for x in face_px.split(","))
    except ValueError:
        raise L2RError(f"--face-px takes MIN,MAX pixels, got '{face_px}'") from None
    if not 4 <= lo <= hi:
        raise L2RError(f"--face-px needs 4 <= MIN <= MAX, got {face_px}")
    dets = [make_detector(spec) for spec in dict.fromkeys(detectors)]
    photos = load_labelled(data)
    small = lowres_version(photos, LowResConfig(face_range=(lo, hi), seed=g.seed))
    if save_lowres:
        log(f"wrote {save_labelled(small, save_lowres)}")
    versions = ([("full", photos)] if full else []) + [(f"{lo:g}-{hi:g} px", small)]
    n_faces = sum(len(p.boxes) for p in photos)
    log(f"{len(photos)} photo(s), {n_faces} labelled face(s) in {data}")
    rows = []
    for name, version in versions:
        for d in dets:
            rows.append(score_detector(d, version, name, max_side).summary())
    cols = [
        ("detector", lambda r: r["detector"]),
        ("photos", lambda r: r["version"]),
        ("recall", lambda r: f"{r['found']}/{r['faces']} = {r['recall']:.0%}"),
        ("false / photo", lambda r: f"{r['false_per_photo']:.2f} ({r['false']})"),
        ("s / photo", lambda r: f"{r['seconds_per_photo']:.2f}"),
    ]
    results_table(f"Face detection on {data}", rows, cols)
    for r in rows:
        if r["missed"]:
            log(f"{r['detector']} ({r['version']}) missed: {', '.join(r['missed'])}")
    if json_out:
        _write_json(json_out, {"data": str(data), "seed": g.seed, "results": rows})
