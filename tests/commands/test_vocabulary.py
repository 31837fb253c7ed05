"""One command-line vocabulary (docs/cli.md): every option of every command has help, one
spelling per idea with its short flag, renamed spellings still work with a note on stderr,
global options work after the subcommand, ``bundled`` names the bundled weights everywhere,
results on stdout and the rest on stderr."""

from __future__ import annotations

import json
import time

import click
import numpy as np
import pytest
from PIL import Image

from l2r_cli.cli import cli
from l2r_cli.engine.checkpoint import build_checkpoint, save_checkpoint

OLD_SPELLINGS = ("--out-dir", "--num-workers", "--image-size")
SHORT = {"--out": "-o", "--batch-size": "-b", "--workers": "-j", "--data": "-d", "--size": "-s"}
BUILD_PATHS = ("/work", "/tmp", "/home", "/root")


def _walk(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, (*prefix, name))


COMMANDS = [(path, cmd) for path, cmd in _walk(cli) if not isinstance(cmd, click.Group)]


ALL = [pytest.param(cmd, id=" ".join(path)) for path, cmd in COMMANDS]


def _options(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden]


@pytest.mark.parametrize("cmd", ALL)
def test_every_option_has_help_and_required_ones_say_so(cmd):
    ctx = click.Context(cmd, info_name=cmd.name)
    for opt in _options(cmd):
        assert opt.help and opt.help.strip(), (cmd.name, opt.opts)
        if opt.required:
            record = opt.get_help_record(ctx)
            assert record is not None and "[required]" in record[1], (cmd.name, opt.opts)


@pytest.mark.parametrize("cmd", ALL)
def test_one_spelling_per_idea_with_its_short_flag(cmd):
    for opt in _options(cmd):
        names = set(opt.opts) | set(opt.secondary_opts)
        assert not names & set(OLD_SPELLINGS), (cmd.name, opt.opts)
        for long, short in SHORT.items():
            if long in names:
                assert short in names, (cmd.name, long, short)


def test_every_benchmark_but_speed_reads_data():
    bench = cli.commands["benchmark"]
    assert isinstance(bench, click.Group)
    for name, cmd in bench.commands.items():
        names = {o for p in _options(cmd) for o in p.opts}
        if name == "speed":
            continue
        assert {"-d", "--data"} <= names, name
        if name != "detect":  # scores detectors, not checkpoints
            assert "--ckpt" in names, name


def test_input_has_one_default():
    defaults = {
        " ".join(path): p.default
        for path, cmd in COMMANDS
        for p in _options(cmd)
        if "--input" in p.opts
    }
    assert {"benchmark bfm", "benchmark texture", "benchmark identity"} <= set(defaults)
    assert set(defaults.values()) == {"image"}, defaults


def test_old_spelling_still_works_with_a_note(l2r, tmp_path):
    face = tmp_path / "face.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(face)
    out = tmp_path / "out"
    r = l2r("--device", "cpu", "reconstruct", face, "--no-detect", "--format", "ply",
            "--out-dir", out)  # fmt: skip
    assert r.code == 0, r.err
    assert (out / "face" / "face0" / "mesh.ply").is_file()
    assert "--out-dir is now --out" in r.err and r.out == ""
    r = l2r("synth", tmp_path / "s", "--n", "4", "--size", "16", "--supersample", "1",
            "--splits", "0.5,0.25,0.25")  # fmt: skip
    assert r.code == 0, r.err
    assert "--splits is now --split" in r.err and "wrote 4 faces" in r.err and r.out == ""


def test_old_positional_data_root_still_works_with_a_note(l2r, tmp_path):
    r = l2r("benchmark", "3dfaw", tmp_path / "nowhere")
    assert r.code == 2 and "--data ROOT" in r.err and "nowhere" in r.err
    assert "Traceback" not in r.err
    r = l2r("benchmark", "photos")
    assert r.code == 2 and "--data" in r.err and "Traceback" not in r.err


def test_global_options_after_the_subcommand(l2r, depth_dataset):
    r = l2r("info", "bundled", "--json", "--seed", "3")
    assert r.code == 0, r.err
    assert json.loads(r.out)["kind"] == "proxy"
    # the device is observable: a bad one is refused, wherever it is given
    r = l2r("benchmark", "bfm", "--data", depth_dataset, "--baseline", "--device", "tpu")
    assert r.code == 2 and "--device" in r.err and "Traceback" not in r.err
    r = l2r("benchmark", "bfm", "--data", depth_dataset, "--baseline", "--device", "cpu")
    assert r.code == 0, r.err
    r = l2r("info", "bundled", "-v")
    assert r.code == 0, r.err


def test_bundled_everywhere(l2r, tmp_path, depth_dataset):
    r = l2r("info", "bundled")
    assert r.code == 0, r.err
    d = json.loads(l2r("info", "bundled", "--json").out)
    text = r.out + json.dumps(d)
    assert not any(p in text for p in BUILD_PATHS), text
    assert d["path"].startswith("bundled (") and d["written"].endswith("Z")
    assert "min" in d["train_time"] or " h " in d["train_time"]
    js = tmp_path / "bfm.json"
    r = l2r("--device", "cpu", "benchmark", "bfm", "--data", depth_dataset, "bundled",
            "--json", js)  # fmt: skip
    assert r.code == 0, r.err
    assert [row["name"] for row in json.loads(js.read_text())["results"]] == ["bundled"]
    assert "wrote" in r.err and "wrote" not in r.out and "BFM protocol" in r.out
    r = l2r("export-weights", "bundled", tmp_path / "w.pt")
    assert r.code == 0, r.err
    assert json.loads(l2r("info", tmp_path / "w.pt", "--json").out)["kind"] == "proxy"


def test_info_on_a_run_folder(l2r, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    ck = build_checkpoint("prior", {}, {}, 7, 1, 7, {}, train_seconds=7500.0)
    save_checkpoint(run / "checkpoints" / "last.pt", ck)
    t0 = time.time() - 7500
    lines = [{"step": 5, "epoch": 1, "losses": {"loss": 0.5}, "time": t0},
             {"step": 7, "epoch": 1, "losses": {"loss": 0.25}, "time": t0 + 7500}]  # fmt: skip
    (run / "log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"cut')
    r = l2r("info", run, "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["kind"] == "prior" and d["checkpoints"] == ["last.pt"] and d["log_lines"] == 2
    assert d["train_time"] == "2 h 05 min" and d["log_span"] == "2 h 05 min"
    assert d["last_losses"] == {"step": 7, "loss": 0.25}
    assert d["log_first"].endswith("Z") and "T" in d["log_first"]
    r = l2r("info", run)
    assert r.code == 0 and "2 h 05 min" in r.out


def test_info_on_a_result_folder(l2r, tmp_path):
    for photo, yaw in (("a", 10.0), ("b", -5.0)):
        face = tmp_path / "out" / photo / "face0"
        face.mkdir(parents=True)
        meta = {
            "source": f"/somewhere/{photo}.jpg",
            "texture": "albedo",
            "model": {"kind": "proxy", "bundled": True, "sha256": "ab" * 32},
            "view": {"yaw_deg": yaw, "pitch_deg": 1.0},
            "files": ["mesh.ply", "meta.json"],
        }
        (face / "meta.json").write_text(json.dumps(meta))
    d = json.loads(l2r("info", tmp_path / "out", "--json").out)
    assert d["kind"] == "reconstruct results" and d["photos"] == 2 and d["faces"] == 2
    assert d["models"] == [{"kind": "proxy", "checkpoint": "bundled", "sha256": "ab" * 8}]
    assert [f["yaw_deg"] for f in d["per_face"]] == [10.0, -5.0]
    r = l2r("info", tmp_path / "out" / "a" / "face0")
    assert r.code == 0 and "yaw 10.0" in r.out
    r = l2r("info", tmp_path)  # a folder that is none of the known kinds
    assert r.code == 2 and "meta.json" in r.err and len(r.err.strip().splitlines()) == 1
