"""`l2r benchmark speed`: time per step of the proxy's parts, and `l2r degrade` against a plain
loop (:mod:`l2r_cli.benchmark.speed`, :mod:`l2r_cli.benchmark.degrade_speed`)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from l2r_cli.commands.benchmark import _json_option, _write_json
from l2r_cli.commands.options import (
    batch_size_option,
    data_option,
    detector_option,
    renamed,
    size_option,
    workers_option,
)
from l2r_cli.console import console, err_console, info, log


def _parse_workers(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    from l2r_cli.errors import L2RError

    try:
        out = tuple(int(x) for x in value.split(","))
    except ValueError:
        out = ()
    if not out or any(w < 0 for w in out):
        raise L2RError(f"--degrade-workers expects worker counts like 0,1,2, got {value!r}")
    return out


@renamed({"--image-size": "--size", "--num-workers": "--workers"})
@click.command("speed")
@click.option(
    "--case",
    type=click.Choice(["proxy", "degrade", "reconstruct", "all"]),
    default="proxy",
    show_default=True,
    help="proxy: train-proxy step parts; degrade: l2r degrade vs a plain loop; reconstruct: "
    "l2r reconstruct on cropped faces, per step, vs the forward pass.",
)
@click.option(
    "--faces",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="N",
    help="reconstruct case: number of cropped faces (bundled weights, meshes as --mesh-format).",
)
@click.option(
    "--mesh-format",
    default="ply",
    show_default=True,
    type=click.Choice(["ply", "obj", "glb"]),
    help="reconstruct case: the one mesh format written per face.",
)
@click.option(
    "--maps/--no-maps",
    default=True,
    show_default=True,
    help="reconstruct case: write the maps too (as reconstruct --maps), or meshes only.",
)
@click.option(
    "--photos",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="reconstruct case: time these photos (detection on, per photo) instead of crops.",
)
@detector_option("reconstruct case with --photos: the face detector (as reconstruct --detector).")
@batch_size_option(
    "proxy case: images per training step; reconstruct case: per forward pass.",
    default=16,
    show_default=True,
)
@size_option(
    "proxy case: input resolution of the proxy.",
    default="64",
    show_default=True,
    type=click.Choice(["32", "64", "128"]),
    metavar="[32|64|128]",
)
@click.option(
    "--nf",
    default=64,
    show_default=True,
    type=click.IntRange(min=4),
    metavar="N",
    help="proxy case: width of the depth/albedo nets.",
)
@click.option(
    "--repeats",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="N",
    help="proxy case: timed steps per part (after 3 warm-up steps).",
)
@workers_option("proxy case: DataLoader worker processes.", default=2, show_default=True)
@data_option(
    "proxy case: read batches from this dataset (default: temporary synthetic data).",
    required=False,
)
@click.option(
    "--images",
    default=2000,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="N",
    help="degrade case: number of synthetic photos.",
)
@click.option(
    "--photo-size",
    default=256,
    show_default=True,
    type=click.IntRange(min=32),
    metavar="PX",
    help="degrade case: size of the synthetic photos (GT 256, degraded 32, 4 variants).",
)
@click.option(
    "--photo-format",
    type=click.Choice(["png", "jpg"]),
    default="png",
    show_default=True,
    help="degrade case: file format of the synthetic photos.",
)
@click.option(
    "--degrade-workers",
    default="0,1,2",
    show_default=True,
    callback=_parse_workers,
    metavar="N,N,...",
    help="degrade case: worker counts to time (0 = in-process).",
)
@click.option(
    "--degrade-rounds",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="R",
    help="degrade case: run every case R times, interleaved; report medians.",
)
@_json_option
@click.pass_obj
def speed(
    g,
    case,
    faces,
    mesh_format,
    maps,
    photos,
    detector,
    batch_size,
    size,
    nf,
    repeats,
    workers,
    data,
    images,
    photo_size,
    photo_format,
    degrade_workers,
    degrade_rounds,
    json_out,
) -> None:
    """Per-step time of the proxy's nets vs renderer vs losses vs data loading, and img/s;
    with --case degrade, images/s and peak memory of `l2r degrade` (0, 1, 2 workers) against a
    plain single-process Pillow/NumPy loop doing the same operations.

    \b
    Example:
      l2r benchmark speed --batch-size 16 --size 64
      l2r benchmark speed --case degrade --images 2000 --json degrade_speed.json
    """
    payload: dict = {}
    if case in ("degrade", "all"):
        payload["degrade"] = _degrade_speed(
            images, photo_size, photo_format, degrade_workers, degrade_rounds
        )
    if case in ("proxy", "all"):
        payload.update(_proxy_speed(g, batch_size, size, nf, repeats, workers, data))
    if case in ("reconstruct", "all"):
        payload["reconstruct"] = _reconstruct_speed(
            g, faces, batch_size, mesh_format, repeats, maps, photos, detector
        )
    if json_out:
        _write_json(json_out, payload)


def _degrade_speed(images: int, size: int, fmt: str, workers: tuple[int, ...], rounds: int) -> dict:
    """Run and print the degrade case; returns its JSON payload."""
    import os

    from l2r_cli.benchmark.degrade_speed import run_degrade_speed

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with err_console.status(f"degrade case: {images} synthetic {size}px {fmt} photos..."):
        timings, same, every = run_degrade_speed(
            images=images,
            size=size,
            workers=workers,
            fmt=fmt,
            rounds=rounds,
            on_case=lambda t: log(f"  {t.name}: {t.images_per_second:.1f} images/s"),
        )
    base, shared = timings[0].images_per_second, timings[1].images_per_second
    t = Table(
        title=f"l2r degrade vs a plain loop: {images} photos {size}px {fmt} -> GT 256, 4x32",
        caption="×shared: relative to the plain loop with the shared FFT; MB: peak resident"
        + (f"; median of {rounds} interleaved rounds" if rounds > 1 else ""),
    )
    cols = ("case", "img/s", "×plain", "×shared", "s", "CPU ms/img", "MB main (start)")
    for col in (*cols, "MB worker"):
        t.add_column(col)
    for r in timings:
        t.add_row(
            r.name,
            f"{r.images_per_second:.1f}",
            f"{r.images_per_second / base:.2f}",
            f"{r.images_per_second / shared:.2f}",
            f"{r.seconds:.1f}",
            f"{r.cpu_ms_per_image:.1f}",
            f"{r.rss_peak_mb:.0f} ({r.rss_start_mb:.0f})",
            f"{r.worker_rss_peak_mb:.0f}" if r.workers else "-",
        )
    console.print(t)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    info(
        f"load average before the run {load_before:.2f}, after {load:.2f} (images/s and, less "
        f"so, CPU ms/img need an otherwise idle machine)"
    )
    info(
        f"outputs identical to the plain loop's (GT, variants, parameters): "
        f"{'yes' if same else 'NO' if same is not None else 'not compared (JPEG draft)'}; "
        f"{os.cpu_count()} CPUs"
    )
    return {
        "images": images,
        "photo_size": size,
        "photo_format": fmt,
        "cpus": os.cpu_count(),
        "rounds": rounds,
        "img_per_s_every_round": every,
        "load_average_before": load_before,
        "load_average_after": load,
        "outputs_identical": same,
        "timings": [
            {
                "name": r.name,
                "workers": r.workers,
                "seconds": r.seconds,
                "img_per_s": r.images_per_second,
                "x_plain": r.images_per_second / base,
                "x_plain_shared_fft": r.images_per_second / shared,
                "rss_start_mb": r.rss_start_mb,
                "rss_peak_mb": r.rss_peak_mb,
                "worker_rss_peak_mb": r.worker_rss_peak_mb,
                "cpu_main_s": r.cpu_main_s,
                "cpu_workers_s": r.cpu_workers_s,
                "cpu_ms_per_image": r.cpu_ms_per_image,
            }
            for r in timings
        ],
    }


def _reconstruct_speed(g, faces, batch_size, mesh_format, repeats, maps, photos, detector) -> dict:
    """Run and print the reconstruct case; returns its JSON payload."""
    from l2r_cli.benchmark.reconstruct_speed import run_reconstruct_speed
    from l2r_cli.commands.reconstruct import expand_inputs
    from l2r_cli.device import resolve_device
    from l2r_cli.errors import L2RError

    paths = None
    if photos is not None:
        paths, _ = expand_inputs((photos,))
        if not paths:
            raise L2RError(f"{photos}: no images in it")
    device = resolve_device(g.device)
    what = f"{len(paths)} photos" if paths else f"{faces} cropped faces"
    with err_console.status(f"reconstruct case: {what}..."):
        ms = run_reconstruct_speed(
            faces, batch_size, (mesh_format,), repeats, device=device, maps=maps,
            photos=paths, detector=detector,
        )  # fmt: skip
    flags = ("" if paths else " --no-detect") + ("" if maps else " --no-maps")
    t = Table(title=f"l2r reconstruct{flags} on {what}, batch {batch_size}")
    for col in ("step", f"ms / {ms['unit']}"):
        t.add_column(col)
    for key in ("read", "crop", "detect", "align", "predict", "write", "total"):
        if key in ms:
            name = f"  {key}" if key in ("detect", "align") else key
            t.add_row(name, f"{ms[key]:.2f}")
    t.add_row("forward (per face)", f"{ms['forward']:.2f}")
    console.print(t)
    info(
        f"{ms['faces']} face(s); forward / total per face = {ms['forward_share']:.2f} "
        "(the pipeline's share of the forward pass)"
    )
    return {"batch_size": batch_size, "mesh_format": mesh_format, "maps": maps, **ms}


def _proxy_speed(g, batch_size, image_size, nf, repeats, num_workers, data) -> dict:
    """Run and print the proxy case (the default); returns its JSON payload."""
    from l2r_cli.benchmark.speed import run_speed
    from l2r_cli.device import resolve_device

    device = resolve_device(g.device)
    res = run_speed(
        batch_size,
        int(image_size),
        nf,
        repeats,
        3,
        num_workers,
        Path(data) if data else None,
        device,
    )
    base = res[0].seconds
    t = Table(title=f"train-proxy step parts, {image_size}px, batch {batch_size}, {device}")
    for col in ("part", "ms / step", "img/s", "× nets fwd+bwd"):
        t.add_column(col)
    for r in res:
        t.add_row(
            r.name,
            f"{r.seconds * 1e3:.1f}",
            f"{r.images_per_second:.1f}",
            f"{r.seconds / base:.3f}",
        )
    console.print(t)
    return {
        "device": str(device),
        "batch_size": batch_size,
        "image_size": int(image_size),
        "nf": nf,
        "torch_threads": __import__("torch").get_num_threads(),
        "timings": [
            {"name": r.name, "seconds": r.seconds, "img_per_s": r.images_per_second} for r in res
        ],
    }
