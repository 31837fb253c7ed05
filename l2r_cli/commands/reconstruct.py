"""`l2r reconstruct`, `l2r render-views`, `l2r export-weights` (docs/reconstruct.md).

They write files and say so on stderr ("wrote X", a line or a progress bar per photo); nothing
goes to stdout (docs/cli.md, streams)."""

from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path

import click

from l2r_cli.commands.options import (
    BUNDLED,
    batch_size_option,
    detector_option,
    model_option,
    out_option,
    renamed,
    resolve_ckpt,
    size_option,
)
from l2r_cli.console import error, log, progress
from l2r_cli.errors import L2RError


def expand_inputs(inputs: tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """Files, folders (their image files, sorted) and glob patterns -> (photos, problems).
    A folder's files are those with an image suffix; an explicit file is taken whatever its
    suffix (reading it says whether it is an image)."""
    from l2r_cli.data.ingest import IMAGE_SUFFIXES

    photos: list[Path] = []
    problems: list[str] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                kinds = " ".join(sorted(IMAGE_SUFFIXES))
                problems.append(f"{p}: folder holds no image files ({kinds})")
            photos += found
        elif p.exists():
            photos.append(p)
        elif glob.has_magic(raw):
            found = sorted(Path(q) for q in glob.glob(raw, recursive=True) if Path(q).is_file())
            if not found:
                problems.append(f"{raw}: pattern matches no files")
            photos += found
        else:
            problems.append(f"{p}: no such file or folder")
    unique = list(dict.fromkeys(photos))
    return unique, problems


def result_dirs(photos: list[Path], out_dir: Path) -> dict[Path, Path]:
    """A result folder per photo, named by its stem; clashes (same stem from two folders or two
    suffixes) get -2, -3, ... in input order."""
    taken: dict[str, int] = {}
    out = {}
    for p in photos:
        n = taken.get(p.stem, 0) + 1
        taken[p.stem] = n
        out[p] = out_dir / (p.stem if n == 1 else f"{p.stem}-{n}")
    return out


def _texture_option(help_text: str):
    """--texture albedo|photo, shared by reconstruct and render-views."""
    return click.option(
        "--texture", type=click.Choice(["albedo", "photo"]), default="albedo",
        show_default=True, help=help_text,
    )  # fmt: skip


def _formats(value: str) -> tuple[str, ...]:
    from l2r_cli.render.export import MESH_FORMATS

    fmts = tuple(f.strip().lower().lstrip(".") for f in value.split(",") if f.strip())
    bad = [f for f in fmts if f not in MESH_FORMATS]
    if bad or not fmts:
        raise click.BadParameter(f"expected a comma list of {', '.join(MESH_FORMATS)}")
    return fmts


@renamed({"--out-dir": "--out"})
@click.command("reconstruct")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@out_option(
    "One folder per photo, one sub-folder face0, face1, ... per face.",
    required=False,
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reconstructions"),
    show_default=True,
)
@click.option(
    "--mesh",
    "mesh_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="FILE",
    help="Also write the largest face's mesh to FILE (.ply; .glb; .obj with FILE.mtl and "
    "FILE_0.png beside it), on top of its folder OUT/PHOTO/face0/ (written as without --mesh). "
    "One photo only; implies --largest.",
)
@click.option(
    "--format",
    "formats",
    default="ply,obj,glb",
    show_default=True,
    metavar="LIST",
    help="Mesh formats written into each face folder (comma list of ply, obj, glb).",
)
@click.option(
    "--ckpt",
    default=BUNDLED,
    show_default=True,
    metavar="CKPT",
    help="Checkpoint file, run folder, or 'bundled' (the bundled proxy and L2R weights).",
)
@model_option("auto: the L2R path (proxy + ARN + GRN) for a face whose crop spans fewer photo "
              "pixels than the model's input, the proxy alone otherwise; proxy or l2r: that "
              "path for every face. meta.json says which ran and why.")  # fmt: skip
@batch_size_option("Faces per forward pass (does not change the results).", default=16,
                   show_default=True)  # fmt: skip
@click.option("--largest", is_flag=True, help="Only the largest face of each photo.")
@click.option(
    "--no-detect",
    "no_detect",
    is_flag=True,
    help="Take each image as an already-cropped face (no detection or alignment).",
)
@_texture_option("Mesh texture: the model's albedo, or the photo projected onto the surface.")
@click.option(
    "--min-score",
    default=0.3,
    show_default=True,
    type=float,
    metavar="S",
    help="Drop face detections with a lower dlib HOG score.",
)
@click.option(
    "--maps/--no-maps",
    default=True,
    show_default=True,
    help="Write the maps (PNGs, depth.npy, canonical.npz) besides meshes and meta.json; "
    "render-views needs them.",
)
@detector_option("Face detector: mtcnn[:N] (faces down to N px), hog[:N], cnn[:N] (N "
                 "upsamplings), mediapipe, or A+B (docs/detection.md).")  # fmt: skip
@click.pass_obj
def reconstruct(
    g,
    inputs,
    out,
    mesh_path,
    formats,
    ckpt,
    model,
    batch_size,
    largest,
    no_detect,
    texture,
    min_score,
    maps,
    detector,
) -> None:
    """3D faces from photos: meshes, depth, albedo, normal and shading maps per face.

    INPUT: image files, folders (their images) or glob patterns. Faces are found (MTCNN by
    default) and aligned with dlib's landmarks; each gets OUT/PHOTO/faceK/ with mesh.ply /
    .obj (+ .mtl, texture) / .glb, albedo, depth (.png and .npy, in the view of the aligned
    crop input.png), normal, shading, meta.json (crop box in photo pixels, the model that ran
    and why: --model). A photo that cannot be read or has no face is reported and skipped;
    the exit code is then 2. Under torchrun the photos are shared out over the processes.

    \b
    Example:
      l2r reconstruct face.jpg --mesh face.ply
      l2r reconstruct photos/ 'more/*.png' -o out --format glb
    """
    from l2r_cli.reconstruct import Reconstructor

    out_dir = out
    fmts = _formats(formats)
    photos, problems = expand_inputs(inputs)
    for msg in problems:
        error(msg)
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if not photos:
        raise SystemExit(2)  # every input was reported above
    if mesh_path is not None:
        from l2r_cli.render.export import mesh_format

        mesh_format(mesh_path)
        if len(photos) != 1:
            raise L2RError(f"--mesh names one file but {len(photos)} photos were given")
        if not mesh_path.parent.is_dir():
            raise L2RError(f"--mesh: folder {mesh_path.parent} does not exist")
        largest = True
    dirs = result_dirs(photos, out_dir)
    mine = photos[rank::world]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise L2RError(f"cannot create {out_dir}: {exc.strerror}") from None
    rec = Reconstructor(
        ckpt, g.device, detect=not no_detect, largest=largest, min_score=min_score,
        batch_size=batch_size, texture=texture, detector=detector, maps=maps, model=model,
    )  # fmt: skip
    failed = len(problems)
    faces = done = 0
    show = len(mine) > 3  # a bar for more than a few photos, a line per photo otherwise
    with progress() if show else contextlib.nullcontext() as bar:
        task = bar.add_task("reconstruct", total=len(mine), status="") if show else None
        for src, res in rec.reconstruct_many(mine):
            if show:
                bar.advance(task)
            if isinstance(res, L2RError):
                error(str(res))
                failed += 1
                continue
            for face in res:
                d = dirs[Path(src)] / f"face{face.index}"
                try:
                    face.save(d, fmts, mesh_path, face.crop.meta.get("photo_size"), maps)
                except OSError as exc:
                    raise L2RError(f"cannot write {d}: {exc.strerror or exc}") from None
                faces += 1
            done += 1
            if not show:
                log(f"{src}: {len(res)} face(s) -> {dirs[Path(src)]}")
    where = f" (process {rank + 1}/{world})" if world > 1 else ""
    log(f"{faces} face(s) from {done} photo(s) in {out_dir}{where}")
    if mesh_path is not None and faces:
        log(f"mesh: {mesh_path}")
    if failed:
        raise SystemExit(2)


@click.command("render-views")
@click.argument("result_dir", type=click.Path(path_type=Path), metavar="RESULT_DIR")
@click.option(
    "--yaw",
    default="-45:45:7",
    show_default=True,
    metavar="A:B:N|A,B,..",
    help="Grid columns: yaw angles in degrees (N steps from A to B, or a list).",
)
@click.option(
    "--pitch",
    default="0",
    show_default=True,
    metavar="A:B:N|A,B,..",
    help="Grid rows: pitch angles in degrees (N steps from A to B, or a list).",
)
@click.option(
    "--light",
    "lights",
    multiple=True,
    metavar="predicted|DX,DY",
    help="Light direction(s), one grid block each (DX > 0: from the left, DY > 0: from above). "
    "Default: the predicted light.",
)
@size_option(
    "Size of each rendered view (square).",
    default=256,
    show_default=True,
    type=click.IntRange(32, 1024),
)
@_texture_option(
    "The model's albedo under the light, or the photo texture (reconstruct --texture photo), "
    "relit by the ratio of new to predicted shading."
)
@click.option(
    "--grid",
    "grid_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Grid PNG (default RESULT_DIR/views.png).",
)
@click.option(
    "--turntable",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Turntable .gif or .mp4 (default RESULT_DIR/turntable.gif; 'none' to skip).",
)
@click.option(
    "--frames",
    default=36,
    show_default=True,
    type=click.IntRange(2, 1000),
    metavar="N",
    help="Turntable frames.",
)
@click.option(
    "--fps",
    default=15,
    show_default=True,
    type=click.IntRange(1, 120),
    metavar="N",
    help="Turntable frames per second.",
)
@click.pass_obj
def render_views(
    g, result_dir, yaw, pitch, lights, size, texture, grid_path, turntable, frames, fps
) -> None:
    """Novel views and relighting of a reconstruct result folder: a grid PNG (rows: lights x
    pitches, columns: yaws) and a turntable (yaw sweep of +-max |yaw|, first light).

    \b
    Example:
      l2r render-views reconstructions/astronaut/face0 --yaw -60:60:5 \\
          --light predicted --light -0.6,0.3 --turntable astronaut.mp4
    """
    from PIL import Image

    from l2r_cli.render.views import (
        ViewRenderer,
        load_canonical,
        parse_light,
        parse_range,
        render_grid,
        turntable_frames,
        write_animation,
    )

    yaws, pitches = parse_range(yaw), parse_range(pitch)
    light_list = [parse_light(x) for x in lights] or [None]
    if turntable is not None and str(turntable) != "none":
        if turntable.suffix.lower() not in (".gif", ".mp4"):
            raise L2RError(f"--turntable {turntable}: must end in .gif or .mp4")
    face = load_canonical(result_dir)
    vr = ViewRenderer(face, size, texture=texture)
    grid_path = grid_path or result_dir / "views.png"
    for p in (grid_path, turntable):
        if p is not None and str(p) != "none" and not p.parent.is_dir():
            raise L2RError(f"folder {p.parent} does not exist")
    Image.fromarray(render_grid(vr, yaws, pitches, light_list)).save(grid_path)
    log(f"views: {grid_path} ({len(light_list) * len(pitches)} x {len(yaws)})")
    if str(turntable) != "none":
        turntable = turntable or result_dir / "turntable.gif"
        max_yaw = max(abs(y) for y in yaws) or 45.0
        write_animation(turntable_frames(vr, max_yaw, frames, light_list[0]), turntable, fps)
        log(f"turntable: {turntable} ({frames} frames, yaw +-{max_yaw:g} deg)")


@click.command("export-weights")
@click.argument("src", metavar="CKPT")
@click.argument("dst", type=click.Path(path_type=Path, dir_okay=False), metavar="OUT")
@click.option("--float32", "full", is_flag=True, help="Keep float32 (default: float16).")
def export_weights(src, dst, full) -> None:
    """Inference-only copy of a checkpoint (how the bundled weights are made).

    CKPT: a proxy, grn or mutual checkpoint file, run folder, or 'bundled'. Drops optimizer
    and RNG state (and the proxy's confidence net, the mutual run's discriminator: used only in
    training) and stores float16 tensors unless --float32. A grn or mutual run becomes one
    self-contained file: its ARN (with the StyleGAN2 generator), GRN, view and light nets and
    their architectures; its proxy too, unless that is the bundled one (then named by its
    SHA-256). See docs/weights.md.

    \b
    Example:
      l2r export-weights runs/proxy l2r_cli/weights/proxy_synth64.pt
      l2r export-weights runs/mutual l2r_cli/weights/l2r_synth64.pt
    """
    from l2r_cli.weights import export_weights as export

    s = export(resolve_ckpt(src), dst, half=not full)
    log(
        f"{dst}: {s['parameters']:,} parameters, {s['bytes'] / 1e6:.1f} MB, step {s['step']}, "
        f"sha256 {s['sha256'][:16]}"
    )
