"""The directions of mutual learning's adversarial steps (eqn. 6, non-saturating logistic loss).

On a fixed batch and fixed random views, one discriminator step must raise D(real) - D(fake),
and one generator step must raise D(fake) for the same re-rendered cross-view images: the
answer follows from the sign of each loss, so swapping the signs fails these tests (a sign
check that the parameter-change test in test_grn_stage.py cannot make).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from l2r_cli.config import MutualLossConfig, MutualRunConfig, MutualSourcesConfig
from l2r_cli.data.dataset import L2RDataset
from l2r_cli.stages.mutual import MutualStage, resolve_mutual_sources

VIEW_SEED = 5  # the same random draws (views, lights) for every measurement


def _stage_and_inputs(grn_inputs, alpha: float) -> tuple[MutualStage, dict]:
    cfg = resolve_mutual_sources(
        MutualRunConfig(
            loss=MutualLossConfig(alpha=alpha),
            sources=MutualSourcesConfig(grn=str(grn_inputs["grn"])),
        )
    )
    torch.manual_seed(0)
    stage = MutualStage(cfg, torch.device("cpu"))
    stage.train()
    ds = L2RDataset(grn_inputs["data"], "train", fields=("image", "lq"), image_size=32)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    return stage, stage.frozen_inputs(batch)


@torch.no_grad()
def _cross_view(stage: MutualStage, x: dict) -> torch.Tensor:
    """The cross-view renders of the batch by the current nets, at the fixed random draws."""
    torch.manual_seed(VIEW_SEED)
    _, _, albedo, g = stage.compute_loss(x)
    return stage.cross_view(albedo, g)


@torch.no_grad()
def _logit(stage: MutualStage, images: torch.Tensor) -> float:
    return stage.nets["disc"](images).mean().item()


def test_a_discriminator_step_raises_real_minus_fake_logits(grn_inputs):
    stage, x = _stage_and_inputs(grn_inputs, alpha=0.1)
    real, fake = x["gt"], _cross_view(stage, x)
    gap_before = _logit(stage, real) - _logit(stage, fake)
    logs = stage.discriminator_step(real, fake)
    gap_after = _logit(stage, real) - _logit(stage, fake)
    # D minimises softplus(-D(real)) + softplus(D(fake)): at logits near 0 its gradient is about
    # -1/2 grad D(real) + 1/2 grad D(fake), so a small step moves D(real) - D(fake) up.
    assert gap_after > gap_before, (gap_before, gap_after)
    assert logs["r1"] > 0  # the R1 term is on in this step (default r1_gamma = 1)


def test_a_generator_step_raises_the_discriminator_logit_of_cross_views(grn_inputs):
    # alpha so large that L_c decides the direction of Adam's first step (which moves each
    # weight by about lr * sign of its gradient); with the default 0.1, eqn. (7)'s photometric
    # terms set most signs on this tiny random model and D(fake) may move either way.
    stage, x = _stage_and_inputs(grn_inputs, alpha=1000.0)
    disc = {k: v.clone() for k, v in stage.nets["disc"].state_dict().items()}
    fake_before = _cross_view(stage, x)
    before = _logit(stage, fake_before)
    torch.manual_seed(VIEW_SEED)
    logs, fake = stage.generator_step(x)
    torch.testing.assert_close(fake, fake_before, rtol=0, atol=0)  # the step saw these views
    after = _logit(stage, _cross_view(stage, x))
    # G minimises softplus(-D(fake)): its gradient is -sigmoid(-D(fake)) grad D(fake).
    assert after > before, (before, after)
    assert all(torch.equal(v, disc[k]) for k, v in stage.nets["disc"].state_dict().items())
    assert logs["g_adv"] > 0
