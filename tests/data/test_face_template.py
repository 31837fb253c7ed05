"""The face template is plain data: it loads without torch and holds the numbers synth draws."""

from __future__ import annotations

import subprocess
import sys

import pytest

from l2r_cli.data.face_template import N_UNIFORMS, PARAMS, layout, param_mean


@pytest.mark.parametrize("module", ["l2r_cli.data.face_template", "l2r_cli.faces"])
def test_imports_without_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_param_mean_is_the_middle_of_the_range():
    # ("nose_len", 0.38, 0.46) in the table synth draws from
    assert param_mean("nose_len") == (0.38 + 0.46) / 2
    assert param_mean("eye_x") == pytest.approx(0.31)
    with pytest.raises(KeyError):
        param_mean("no_such_parameter")


def test_table_fits_the_uniform_draw():
    names = [name for name, _, _ in PARAMS]
    assert len(names) == len(set(names)) and len(PARAMS) <= N_UNIFORMS
    assert all(lo <= hi for _, lo, hi in PARAMS)


def test_synth_draws_from_this_table():
    torch = pytest.importorskip("torch")
    from l2r_cli.data.synth import PARAMS as synth_params
    from l2r_cli.data.synth import sample_params

    assert synth_params is PARAMS
    p = sample_params(seed=0, index=3, size=8, supersample=1)
    assert list(p.values) == [name for name, _, _ in PARAMS]
    assert all(lo <= p.values[n] <= hi for n, lo, hi in PARAMS)
    assert isinstance(p.noise["grain"], torch.Tensor)


def test_layout_of_the_mean_face_matches_the_crop_convention():
    from l2r_cli import faces

    mean = {name: param_mean(name) for name, _, _ in PARAMS}
    assert layout(mean)["mouth_v"] == faces.MOUTH_V
