"""Load any trained stage's checkpoint as a depth/albedo predictor for evaluation and export."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from l2r_cli.engine.registry import stage_specs
from l2r_cli.inference import MODEL_KINDS, RefinedModel, load_model
from l2r_cli.models.proxy import Proxy
from l2r_cli.render import Renderer

#: Checkpoint kinds whose geometry can be evaluated.
GEOMETRY_KINDS = MODEL_KINDS


class _StageLabels(Mapping[str, str]):
    """How benchmark tables name each kind: the registered stages' labels, read live from the
    registry ('+ARN' has its proxy's geometry: the ARN makes albedo), and the baselines'."""

    _BASELINES = {"baseline": "constant depth", "template": "template (true pose)"}

    def _table(self) -> dict[str, str]:
        stages = {s.kind: s.label or s.kind for s in stage_specs() if s.loader}
        return {**stages, **self._BASELINES}

    def __getitem__(self, kind: str) -> str:
        return self._table()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


STAGE_LABELS: Mapping[str, str] = _StageLabels()


class Predictor(Protocol):
    """Anything that maps images (B, 3, S, S) in [-1, 1] to view-space geometry."""

    name: str
    image_size: int
    kind: str

    def predict(self, image: Tensor) -> dict[str, Tensor]:
        """-> {'depth': (B, S, S), 'normal': (B, S, S, 3), 'mask': (B, S, S), ...}."""
        ...


@dataclass
class ProxyPredictor:
    """A trained Unsup3D proxy."""

    name: str
    model: Proxy
    kind: str = "proxy"

    @property
    def image_size(self) -> int:
        """Input resolution."""
        return self.model.cfg.image_size

    def predict(self, image: Tensor) -> dict[str, Tensor]:
        """image (B, 3, S, S) in [-1, 1] -> Proxy.predict's dict."""
        return self.model.predict(image)


@dataclass
class ConstantDepthPredictor:
    """Baseline: a constant depth (a fronto-parallel plane) for every image."""

    image_size: int = 64
    name: str = "constant depth"
    depth: float = 1.0
    kind: str = "baseline"

    def predict(self, image: Tensor) -> dict[str, Tensor]:
        """image (B, 3, S, S) -> a plane at ``depth`` covering every pixel."""
        b, _, h, w = image.shape
        depth = torch.full((b, h, w), self.depth, device=image.device)
        normal = Renderer(h, device=image.device).normals(depth)
        return {"depth": depth, "normal": normal, "mask": torch.ones_like(depth)}


@dataclass
class TemplatePredictor:
    """Baseline: one canonical depth (a face template, e.g. the training faces' mean) for every
    image, posed with each image's true view: what a model that knows only the average face and
    the exact pose would score. ``predict`` needs that view."""

    template: Tensor
    """(S, S) canonical depth at the evaluation size S."""
    fov: float = 10.0
    min_depth: float = 0.9
    max_depth: float = 1.1
    name: str = "template (true pose)"
    kind: str = "template"
    needs_view: bool = True

    @property
    def image_size(self) -> int:
        """Evaluation resolution S."""
        return int(self.template.shape[-1])

    def predict(self, image: Tensor, view: Tensor) -> dict[str, Tensor]:
        """image (B, 3, S, S) (only its batch size is used), view (B, 6) -> the template seen
        under each view: depth (B, S, S), normal (B, S, S, 3), mask (B, S, S)."""
        b, s = image.shape[0], self.image_size
        r = Renderer(s, self.fov, self.min_depth, self.max_depth, device=image.device)
        depth = self.template.to(image.device, image.dtype).expand(b, s, s)
        warped = r.warp_depth(depth, view.to(image.device, image.dtype))
        return {"depth": warped.depth, "normal": r.normals(warped.depth), "mask": warped.mask}


@dataclass
class RefinedPredictor:
    """proxy + ARN + GRN ('grn' checkpoint) or after mutual learning ('mutual'): geometry at
    the ARN's output size O, from a degraded input upsampled to O."""

    name: str
    model: RefinedModel
    kind: str

    @property
    def image_size(self) -> int:
        """Input and output resolution O."""
        return self.model.out_size

    def predict(self, image: Tensor) -> dict[str, Tensor]:
        """image (B, 3, O, O) in [-1, 1] -> RefinedModel.predict's dict."""
        return self.model.predict(image)


def load_predictor(path: str | Path, device: torch.device) -> Predictor:
    """Build the predictor stored in a checkpoint file or run directory (latest checkpoint)."""
    m = load_model(path, device)
    if m.refined is not None:
        return RefinedPredictor(str(path), m.refined, m.kind)
    return ProxyPredictor(str(path), m.proxy, m.kind)


def renderer_of(predictor: Predictor, device: torch.device) -> Renderer:
    """The renderer (camera, depth range) a predictor's outputs are in, at its image size."""
    if isinstance(predictor, ProxyPredictor):
        c = predictor.model.cfg
    elif isinstance(predictor, RefinedPredictor):
        c = predictor.model.proxy.cfg
    else:
        return Renderer(predictor.image_size, device=device)
    return Renderer(predictor.image_size, c.fov, c.min_depth, c.max_depth, device=device)
