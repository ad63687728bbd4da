"""Capsule action detector: I3D encoder, 2D capsules, and a pixel-wise localization decoder.

The network of Active Sparse Labeling (Rana & Rawat, NeurIPS 2022, Sec. 3.3) and CLAUS (Rana &
Rawat, CVPR 2023, Sec. 4 and supplement Sec. 7.1, Table 11), a simplified VideoCapsuleNet
(Duarte et al., NeurIPS 2018):

1. Inception-I3D up to ``Mixed_4f`` (:class:`~vidal.models.i3d.InceptionI3d`), giving
   ``[B, 832, T/4, H/16, W/16]``; the time axis is average-pooled, as Table 11 has a single
   time step at ``Mixed_4f``, so the capsules are 2D.
2. Dropout, then primary capsules (32 types of 4x4 pose + activation: Table 11's 544 = 32 x 17
   channels), a convolutional capsule layer with one type per class routed by EM (Table 11's
   408 = 24 x 17 channels for UCF-101-24), and class capsules that pool each type over the
   grid (``K`` activations: the class scores; :mod:`vidal.models.capsules`).
3. The latent features for clustering (Table 11's ``Latent_feats``, ``17 K`` values: 408 for
   ``K = 24``): the class capsules' poses and activations, i.e. the pooled ``Conv_caps``.
4. The convolutional capsules' poses, masked to the ground-truth class in training and to the
   predicted class otherwise (Table 11's ``Poses``, ``K x 16`` channels), go through a decoder
   of 3D transposed convolutions concatenated with skip connections from the encoder, to one
   foreground logit per input pixel ``[B, T, H, W]``.

Where the dropout sits: both papers add "dropout layers for uncertainty" (ASL Sec. 3.3) and
enable them at inference for MC-dropout (Gal & Ghahramani 2016; ASL Sec. 4, CLAUS Sec. 4) but
do not say where. vidal puts every dropout after the encoder, so the encoder is deterministic
and :meth:`ActionDetector.mc_forward` runs it once per clip: one ``nn.Dropout`` on the pooled
``Mixed_4f`` features entering the primary capsules (the MC passes then also disagree on the
class, hence on the mask), and one ``nn.Dropout`` after each skip concatenation of the decoder
(so the pixel maps vary where the localization is uncertain).

The encoder stride differs from Table 11: vidal keeps the strides of Carreira & Zisserman
(2017), so an ``8 x 224 x 224`` clip gives ``2 x 14 x 14`` at ``Mixed_4f``, not ``1 x 28 x 28``;
the capsule layers use ``"same"`` padding and the decoder has one more upsampling stage.

A second encoder, for the CPU (``encoder="mobilenet_v2"``, preset
:meth:`ActionDetectorConfig.mobilenet`), replaces step 1 with ImageNet MobileNetV2 features of
every frame and residual 3D convolutions over time
(:class:`~vidal.models.mobilenet_v2.MobileNetV2Encoder`); its endpoints keep the whole time axis,
so the decoder's stages upsample space only. Steps 2-4 and the dropout are the same.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, overload

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import losses
from vidal._io import atomic_write
from vidal.errors import ConfigError, VidalError
from vidal.models._files import read_checkpoint
from vidal.models.capsules import ClassCapsules, ConvCapsules2d, PrimaryCapsules2d
from vidal.models.i3d import CheckpointError, InceptionI3d, _check_clip, _state_dict_problems
from vidal.models.mobilenet_v2 import MobileNetV2Encoder, load_pretrained_features

__all__ = [
    "ACTION_ENCODERS",
    "ActionDetectorConfig",
    "ActionOutput",
    "ActionDetector",
    "ActionModel",
    "save_action_checkpoint",
    "load_action_checkpoint",
    "action_checkpoint_meta",
]
#: encoders of the action detector (``ActionDetectorConfig.encoder``)
ACTION_ENCODERS: tuple[str, ...] = ("i3d", "mobilenet_v2")

# I3D endpoints the decoder uses, finest first, with their (T, H, W) strides
_I3D_SKIPS = {
    "Conv3d_1a_7x7": (2, 2, 2),
    "Conv3d_2c_3x3": (2, 4, 4),
    "Mixed_3c": (2, 8, 8),
    "Mixed_4f": (4, 16, 16),
}


@dataclass(frozen=True)
class ActionDetectorConfig:
    """Settings of :class:`ActionDetector`; store ``dataclasses.asdict(config)`` in a checkpoint.

    Args:
        num_classes: action classes ``K`` (24 for UCF-101-24, 21 for J-HMDB-21).
        in_channels: input channels (3 for RGB, as the I3D checkpoints).
        width: I3D channel multiplier in ``(0, 1]``; only 1.0 can load the public checkpoints.
        bn_momentum: momentum of the encoder's batch-norm running statistics (0.01 as in
            pytorch-i3d; 0.1 in the small preset, whose short from-scratch runs otherwise
            evaluate with stale statistics).
        primary_capsules: primary capsule types (32 in Table 11).
        primary_kernel: odd kernel of the primary capsule convolution.
        capsule_kernel: odd window of the convolutional capsule layer.
        routing_iterations: EM routing iterations of the convolutional capsule layer.
        pose_size: side of the capsule pose matrices (4: 16 entries, Table 11).
        routing_inverse_temperature: ``lambda`` of the EM activation sigmoid.
        decoder_channels: channels of each decoder stage and skip projection (64 in Table 11).
        capsule_dropout: dropout probability on the features entering the primary capsules.
        decoder_dropout: dropout probability after each skip concatenation of the decoder.
        encoder: ``"i3d"`` (Inception-I3D, the papers') or ``"mobilenet_v2"`` (per-frame
            ImageNet MobileNetV2 and temporal convolutions, :mod:`vidal.models.mobilenet_v2`).
        encoder_blocks: MobileNetV2 blocks used (14: stride 16, 96 channels).
        frozen_blocks: leading MobileNetV2 blocks kept fixed in training.
        temporal_layers: residual 3x3x3 convolution blocks on the MobileNetV2 features.
        encoder_weights: MobileNetV2 weights loaded when the detector is built: a file, or
            ``"auto"`` to look for one (:func:`~vidal.models.mobilenet_v2.find_mobilenet_v2_weights`;
            found nothing: a warning and random weights); ``None``: random weights. The I3D
            encoder loads its weights through :func:`~vidal.models.load_i3d_weights` instead.

    Example:
        >>> config = ActionDetectorConfig.small(num_classes=5)
        >>> from dataclasses import asdict
        >>> ActionDetectorConfig(**asdict(config)) == config
        True
    """

    num_classes: int = 24
    in_channels: int = 3
    width: float = 1.0
    bn_momentum: float = 0.01
    primary_capsules: int = 32
    primary_kernel: int = 3
    capsule_kernel: int = 3
    routing_iterations: int = 3
    pose_size: int = 4
    routing_inverse_temperature: float = 1.0
    decoder_channels: int = 64
    capsule_dropout: float = 0.5
    decoder_dropout: float = 0.2
    encoder: str = "i3d"
    encoder_blocks: int = 14
    frozen_blocks: int = 0
    temporal_layers: int = 1
    encoder_weights: str | None = None

    def __post_init__(self) -> None:
        for name in (
            "num_classes",
            "in_channels",
            "primary_capsules",
            "routing_iterations",
            "pose_size",
            "decoder_channels",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}={value!r} must be an integer >= 1")
        for name in ("primary_kernel", "capsule_kernel"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1 or value % 2 == 0:
                raise ConfigError(f"{name}={value!r} must be a positive odd integer")
        if not (isinstance(self.width, (int, float)) and 0 < self.width <= 1):
            raise ConfigError(f"width={self.width!r} must be in (0, 1]")
        if not (isinstance(self.bn_momentum, (int, float)) and 0 < self.bn_momentum <= 1):
            raise ConfigError(f"bn_momentum={self.bn_momentum!r} must be in (0, 1]")
        if not self.routing_inverse_temperature > 0:
            raise ConfigError(
                f"routing_inverse_temperature={self.routing_inverse_temperature!r} must be > 0"
            )
        for name in ("capsule_dropout", "decoder_dropout"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise ConfigError(f"{name}={value!r} must be in [0, 1)")
        self._check_encoder()

    def _check_encoder(self) -> None:
        if self.encoder not in ACTION_ENCODERS:
            raise ConfigError(f"unknown encoder {self.encoder!r}; known: {list(ACTION_ENCODERS)}")
        for name, low, high in (
            ("encoder_blocks", 1, 19),
            ("frozen_blocks", 0, self.encoder_blocks),
            ("temporal_layers", 0, 16),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"{name}={value!r} must be an integer in [{low}, {high}]")
        if self.encoder_weights is not None and not isinstance(self.encoder_weights, str):
            raise ConfigError(f"encoder_weights={self.encoder_weights!r} must be a path or 'auto'")
        if self.encoder == "i3d" and self.encoder_weights is not None:
            raise ConfigError(
                "encoder_weights is for the mobilenet_v2 encoder; load I3D weights with "
                "load_i3d_weights (model.i3d_weights)"
            )

    @classmethod
    def full(cls, *, num_classes: int = 24) -> ActionDetectorConfig:
        """The papers' size (full-width I3D, 32 primary capsules, 64-channel decoder)."""
        return cls(num_classes=num_classes)

    @classmethod
    def small(cls, *, num_classes: int = 24) -> ActionDetectorConfig:
        """A tiny model for CPU tests and the demo: I3D at 1/8 width, 8 primary capsules."""
        return cls(
            num_classes=num_classes,
            width=1 / 8,
            bn_momentum=0.1,
            primary_capsules=8,
            decoder_channels=8,
        )

    @classmethod
    def mobilenet(cls, *, num_classes: int = 24) -> ActionDetectorConfig:
        """The CPU default: ImageNet MobileNetV2 to stride 16 on every frame (weights found by
        ``"auto"``), its first 7 blocks (to stride 8) frozen, one temporal block, 16 primary
        capsules, an 8-channel decoder.

        Chosen by ``tools/base_model_study.py`` (issue 16): on the demo's data and labels it
        localizes (frame_loc@0.5 about 0.4 after 1.4 CPU minutes, against 0.06 for
        :meth:`small`); freezing the first blocks and the narrow decoder halve the step's cost
        at no loss.
        """
        return cls(
            num_classes=num_classes,
            bn_momentum=0.1,
            primary_capsules=16,
            decoder_channels=8,
            encoder="mobilenet_v2",
            encoder_blocks=14,
            frozen_blocks=7,
            temporal_layers=1,
            encoder_weights="auto",
        )


class ActionOutput(NamedTuple):
    """What :meth:`ActionDetector.forward` returns.

    Attributes:
        logits: foreground logits ``Tensor[B, T, H, W]`` at the clip's full size.
        class_scores: class capsule activations ``Tensor[B, K]`` in ``(0, 1)`` (for the
            margin loss).
        features: latent clip features ``Tensor[B, D]``, ``D = 17 K`` for 4x4 poses (class
            capsule poses then activations), for the clustering loss.
    """

    logits: Tensor
    class_scores: Tensor
    features: Tensor


class _Decoder(nn.Module):
    """Transposed 3D convolutions from the masked poses back to ``[B, T, H, W]`` logits.

    Stage by stage (``c = channels``), from the coarsest encoder endpoint to the finest, each
    upsampling (by the ratio of the two endpoints' strides) followed by ReLU, concatenation
    with a 1x1x1 projection of the endpoint to ``c`` channels, and dropout. With the I3D
    endpoints::

        poses [K*P, T/4, H/16] -conv3x3x3-> c  ++ Mixed_4f      -> 2c
        up (2,2,2)            -> c @ T/2, H/8 ++ Mixed_3c      -> 2c
        up (1,2,2)            -> c @ T/2, H/4 ++ Conv3d_2c_3x3 -> 2c
        up (1,2,2)            -> c @ T/2, H/2 ++ Conv3d_1a_7x7 -> 2c
        up (2,2,2)            -> 2c @ T, H    -conv3x3x3-> 1

    Args:
        pose_channels: channels of the masked poses (``K * P``).
        skips: endpoint name -> ``(t, h, w)`` stride, finest first.
        skip_channels: endpoint name -> channels.
        channels: ``c``.
        dropout: dropout probability after each concatenation.
    """

    def __init__(
        self,
        pose_channels: int,
        skips: Mapping[str, tuple[int, int, int]],
        skip_channels: Mapping[str, int],
        channels: int,
        dropout: float,
    ) -> None:
        super().__init__()
        c = channels
        self.names = tuple(skips)  # finest first
        strides = [skips[name] for name in self.names]
        self.poses = nn.Conv3d(pose_channels, c, 3, padding=1)
        self.skips = nn.ModuleDict(
            {name: nn.Conv3d(skip_channels[name], c, 1) for name in reversed(self.names)}
        )
        ups = [
            (coarse[0] // fine[0], coarse[1] // fine[1], coarse[2] // fine[2])
            for coarse, fine in zip(strides[:0:-1], strides[-2::-1], strict=True)
        ]
        self.ups = nn.ModuleList(
            [nn.ConvTranspose3d(2 * c, c, 3, stride=up, padding=1) for up in ups]
            + [nn.ConvTranspose3d(2 * c, 2 * c, 3, stride=strides[0], padding=1)]
        )
        self.dropouts = nn.ModuleList([nn.Dropout(dropout) for _ in self.names])
        self.out = nn.Conv3d(2 * c, 1, 3, padding=1)

    def forward(self, poses: Tensor, skips: Mapping[str, Tensor], size: Sequence[int]) -> Tensor:
        coarsest = skips[self.names[-1]]
        x = poses.unsqueeze(2).expand(-1, -1, coarsest.shape[2], -1, -1)  # [B, K*P, T', h, w]
        x = F.relu(self.poses(x))
        for i, name in enumerate(reversed(self.names)):
            skip = skips[name]
            if i > 0:
                x = F.relu(self.ups[i - 1](x, output_size=list(skip.shape[-3:])))
            x = self.dropouts[i](torch.cat([x, F.relu(self.skips[name](skip))], dim=1))
        x = F.relu(self.ups[-1](x, output_size=list(size)))  # [B, 2c, T, H, W]
        return self.out(x).squeeze(1)  # [B, T, H, W]


class ActionDetector(nn.Module):
    """Capsule action detector with MC-dropout (ASL Sec. 3.3; CLAUS supplement Table 11).

    Args:
        config: the settings; kept as ``self.config`` so a checkpoint can store
            ``dataclasses.asdict(model.config)`` and rebuild the model with
            ``ActionDetector(ActionDetectorConfig(**saved), pretrained=False)``.
        pretrained: load ``config.encoder_weights`` (False: leave the encoder at random
            initialisation, e.g. when a checkpoint's weights are loaded next).

    Attributes:
        encoder: the I3D encoder (load checkpoints with :func:`~vidal.models.load_i3d_weights`)
            or the MobileNetV2 encoder.
        skips: the encoder endpoints the decoder uses, finest first.
        stride: ``(t, h, w)`` stride of the coarsest endpoint; clips are multiples of it.
        feature_dim: ``D`` of :attr:`ActionOutput.features`.

    Example:
        >>> model = ActionDetector(ActionDetectorConfig.small(num_classes=3))
        >>> out = model(torch.zeros(2, 3, 8, 32, 32), labels=torch.tensor([0, 2]))
        >>> out.logits.shape, out.class_scores.shape, out.features.shape
        (torch.Size([2, 8, 32, 32]), torch.Size([2, 3]), torch.Size([2, 51]))
        >>> model.mc_forward(torch.zeros(1, 3, 8, 32, 32), passes=4).shape
        torch.Size([4, 1, 8, 32, 32])
    """

    def __init__(self, config: ActionDetectorConfig, *, pretrained: bool = True) -> None:
        super().__init__()
        if not isinstance(config, ActionDetectorConfig):
            raise ConfigError(
                f"config must be an ActionDetectorConfig, got {type(config).__name__}"
            )
        self.config = config
        k, pose = config.num_classes, config.pose_size
        self.encoder: InceptionI3d | MobileNetV2Encoder
        self.encoder, skips = _build_encoder(config, pretrained=pretrained)
        self.skips: tuple[str, ...] = tuple(skips)
        self.stride: tuple[int, int, int] = skips[self.skips[-1]]
        self.capsule_dropout = nn.Dropout(config.capsule_dropout)
        self.primary_capsules = PrimaryCapsules2d(
            self.encoder.out_channels,
            config.primary_capsules,
            kernel_size=config.primary_kernel,
            pose_size=pose,
        )
        self.conv_capsules = ConvCapsules2d(
            config.primary_capsules,
            k,
            kernel_size=config.capsule_kernel,
            iterations=config.routing_iterations,
            pose_size=pose,
            inverse_temperature=config.routing_inverse_temperature,
        )
        self.class_capsules = ClassCapsules(k, pose_size=pose)
        self.decoder = _Decoder(
            k * pose * pose,
            skips,
            self.encoder.endpoint_channels,
            config.decoder_channels,
            config.decoder_dropout,
        )
        self.feature_dim = k * (pose * pose + 1)

    # -- checks ------------------------------------------------------------------------------

    def _check_clip(self, clip: Any) -> None:
        _check_clip(clip, "clip", channels=self.config.in_channels)
        t, h, w = clip.shape[-3:]
        st, sh, sw = self.stride
        if t % st or h % sh or w % sw:
            raise VidalError(
                f"clip must have shape [B, C, T, H, W] with T a multiple of {st} and H, W "
                f"multiples of {sh} (the encoder's stride), got {list(clip.shape)}"
            )

    def _check_labels(self, labels: Any, batch: int, device: torch.device) -> Tensor | None:
        if labels is None:
            return None
        k = self.config.num_classes
        if (
            not isinstance(labels, Tensor)
            or labels.shape != (batch,)
            or labels.is_floating_point()
            or labels.is_complex()
            or labels.dtype == torch.bool
        ):
            shown = list(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
            raise VidalError(f"labels must be an integer Tensor[B={batch}], got {shown}")
        if batch and (int(labels.min()) < 0 or int(labels.max()) >= k):
            raise VidalError(f"labels must be class indices in [0, {k}), got {labels.tolist()}")
        return labels.to(device=device, dtype=torch.long)

    # -- forward -----------------------------------------------------------------------------

    def _head(
        self, feats: Mapping[str, Tensor], labels: Tensor | None, size: Sequence[int]
    ) -> ActionOutput:
        """Everything after the encoder (all the dropout lives here)."""
        x = self.capsule_dropout(feats[self.skips[-1]].mean(dim=2))  # [B, C, h, w]
        poses, acts = self.primary_capsules(x)  # [B, J, P, h, w], [B, J, h, w]
        poses, acts = self.conv_capsules(poses, acts)  # [B, K, P, h, w], [B, K, h, w]
        class_poses, scores = self.class_capsules(poses, acts)  # [B, K, P], [B, K]
        features = torch.cat([class_poses.flatten(1), scores], dim=1)  # [B, K*(P+1)]
        target = labels if labels is not None else scores.argmax(dim=1)
        mask = F.one_hot(target, self.config.num_classes).to(poses.dtype)  # [B, K]
        masked = (poses * mask[:, :, None, None, None]).flatten(1, 2)  # [B, K*P, h, w]
        logits = self.decoder(masked, feats, size)  # [B, T, H, W]
        return ActionOutput(logits=logits, class_scores=scores, features=features)

    def forward(self, clip: Tensor, labels: Tensor | None = None) -> ActionOutput:
        """Detect the action in each clip.

        Args:
            clip: ``Tensor[B, C, T, H, W]`` with values in ``[-1, 1]``; ``T`` a multiple of 4,
                ``H`` and ``W`` multiples of 16.
            labels: optional ``Tensor[B]`` class indices; the decoder sees the poses of this
                class (pass the ground truth in training), else of the predicted class.

        Returns:
            :class:`ActionOutput` with ``logits [B, T, H, W]``, ``class_scores [B, K]`` and
            ``features [B, D]``.

        Raises:
            VidalError: ``clip`` or ``labels`` of the wrong shape, dtype or range, or ``clip``
                with NaN / infinite values.
        """
        self._check_clip(clip)
        labels = self._check_labels(labels, clip.shape[0], clip.device)
        feats = self.encoder(clip, endpoints=self.skips)
        return self._head(feats, labels, clip.shape[-3:])

    @overload
    def mc_forward(
        self,
        clip: Tensor,
        passes: int = ...,
        *,
        labels: Tensor | None = ...,
        return_features: Literal[False] = ...,
        chunk_size: int | None = ...,
        seed: int | None = ...,
    ) -> Tensor: ...

    @overload
    def mc_forward(
        self,
        clip: Tensor,
        passes: int = ...,
        *,
        labels: Tensor | None = ...,
        return_features: Literal[True],
        chunk_size: int | None = ...,
        seed: int | None = ...,
    ) -> tuple[Tensor, Tensor]: ...

    @torch.no_grad()
    def mc_forward(
        self,
        clip: Tensor,
        passes: int = 10,
        *,
        labels: Tensor | None = None,
        return_features: bool = False,
        chunk_size: int | None = None,
        seed: int | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """MC-dropout foreground probabilities (Gal & Ghahramani 2016; ASL Eq. 1 consumes them).

        Runs without gradients, with every dropout module on and everything else in eval
        mode (batch norm uses its running statistics); the modules' train/eval state is
        restored afterwards. The encoder runs once; its endpoints are repeated along the
        batch so the ``R`` passes go through the capsules and decoder together, in chunks of
        at most ``chunk_size`` (pass, clip) rows.

        Args:
            clip: ``Tensor[B, C, T, H, W]``, as for :meth:`forward`.
            passes: ``R >= 1`` stochastic passes.
            labels: optional ``Tensor[B]`` classes whose poses the decoder sees (default: the
                class each pass predicts).
            return_features: also return the latent features averaged over the passes.
            chunk_size: most rows ``(pass, clip)`` per chunk; ``None`` does all ``R * B`` at
                once. Smaller chunks bound memory at the same result distribution.
            seed: seeds the dropout masks (the global RNG state is restored afterwards);
                ``None`` draws from the global RNG.

        Returns:
            ``probs``, sigmoid foreground probabilities ``Tensor[R, B, T, H, W]``; with
            ``return_features`` the pair ``(probs, features)`` with ``features [B, D]``.

        Raises:
            VidalError: bad ``clip``, ``labels``, ``passes`` or ``chunk_size``.
        """
        self._check_clip(clip)
        batch = clip.shape[0]
        labels = self._check_labels(labels, batch, clip.device)
        if not isinstance(passes, int) or passes < 1:
            raise VidalError(f"passes={passes!r} must be an integer >= 1")
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise VidalError(f"chunk_size={chunk_size!r} must be None or an integer >= 1")
        rows = passes * batch
        chunk = rows if chunk_size is None else chunk_size
        modes = [(m, m.training) for m in self.modules()]
        devices = [clip.device] if clip.device.type == "cuda" else []
        try:
            self.eval()
            for m in self.modules():
                if isinstance(m, nn.modules.dropout._DropoutNd):
                    m.train()
            feats = self.encoder(clip, endpoints=self.skips)
            probs: list[Tensor] = []
            features = clip.new_zeros((batch, self.feature_dim))
            with torch.random.fork_rng(devices=devices, enabled=seed is not None):
                if seed is not None:
                    torch.default_generator.manual_seed(seed)
                    if devices:
                        with torch.cuda.device(clip.device):
                            torch.cuda.manual_seed(seed)
                for start in range(0, rows, chunk):
                    # row r of the flattened [R, B] grid is clip r % B
                    idx = torch.arange(start, min(start + chunk, rows), device=clip.device) % batch
                    out = self._head(
                        {name: f[idx] for name, f in feats.items()},
                        None if labels is None else labels[idx],
                        clip.shape[-3:],
                    )
                    probs.append(torch.sigmoid(out.logits))
                    if return_features:
                        features.index_add_(0, idx, out.features.to(features.dtype))
        finally:
            for m, mode in modes:
                m.train(mode)
        result = torch.cat(probs).view(passes, batch, *clip.shape[-3:])  # [R, B, T, H, W]
        return (result, features / passes) if return_features else result

    # -- checkpoints -------------------------------------------------------------------------

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """``nn.Module.load_state_dict`` with errors that name the problem.

        Raises:
            CheckpointError: the state dict was saved for another class count (the message
                names both counts), or keys / shapes do not fit (the message names them).
        """
        key = "conv_capsules.beta_a"  # [K]
        theirs = state_dict.get(key)
        if isinstance(theirs, Tensor) and theirs.dim() == 1:
            if theirs.shape[0] != self.config.num_classes:
                raise CheckpointError(
                    f"state_dict is for num_classes={theirs.shape[0]}, this model has "
                    f"num_classes={self.config.num_classes}; build the model with the "
                    "checkpoint's config"
                )
        expected = {k: tuple(v.shape) for k, v in self.state_dict().items()}
        problems = _state_dict_problems(expected, state_dict, strict=strict)
        if problems:
            raise CheckpointError(
                "state_dict does not fit this ActionDetector "
                f"({self.config}): " + " | ".join(problems)
            )
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


# -- the trained model and its checkpoint format ---------------------------------------------

_FORMAT = "vidal-action"


class ActionModel(nn.Module):
    """The detector and, for CLAUS, the deep-clustering head on its latent features.

    Args:
        config: the detector's settings.
        num_clusters: clusters of the clustering head (CLAUS: K = 5).
        pretrained: load the encoder weights ``config`` names (False when a checkpoint's
            weights follow).
    """

    def __init__(
        self, config: ActionDetectorConfig, *, num_clusters: int = 5, pretrained: bool = True
    ) -> None:
        super().__init__()
        self.detector = ActionDetector(config, pretrained=pretrained)
        self.clustering = losses.DeepClustering(
            self.detector.feature_dim, num_clusters=num_clusters
        )
        self.clusters_initialised = False
        self.steps_trained = 0
        #: what continues training exactly where it stopped (optimiser moments, the clip
        #: sampler's and torch's random states); set by :func:`train_action_model`
        self.train_state: dict | None = None
        #: predictions recorded during the last training run for label dispersion: video id
        #: -> int64 ``Tensor[P, T]`` frame labels at ``P`` points (see vidal.scoring.dispersion)
        self.recorded: dict[str, Tensor] | None = None

    @property
    def config(self) -> ActionDetectorConfig:
        return self.detector.config


def save_action_checkpoint(
    model: ActionModel,
    path: str | os.PathLike,
    *,
    extra: dict | None = None,
    train_state: bool = False,
) -> Path:
    """Save weights and config so :func:`load_action_checkpoint` rebuilds the model (atomic).

    Args:
        model: the model.
        path: where to write.
        extra: JSON-able metadata stored under ``"extra"``.
        train_state: also store ``model.train_state`` (Adam moments and random states, about
            twice the weights' size) so that training resumes exactly.
    """
    state = {
        "format": _FORMAT,
        "config": dataclasses.asdict(model.config),
        "num_clusters": model.clustering.num_clusters,
        "clusters_initialised": model.clusters_initialised,
        "steps_trained": model.steps_trained,
        "model": model.state_dict(),
        "extra": extra or {},
    }
    if train_state and model.train_state is not None:
        state["train_state"] = model.train_state
    if model.recorded is not None:
        state["recorded"] = model.recorded
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_action_checkpoint(
    path: str | os.PathLike,
    *,
    num_classes: int | None = None,
) -> ActionModel:
    """Rebuild an :class:`ActionModel` (on the CPU) from a checkpoint, never running code.

    Args:
        path: the checkpoint.
        num_classes: the class count the caller expects; a checkpoint for another count is
            refused with an error naming both.

    Raises:
        VidalError: the file is missing, empty, not an action-detector checkpoint, or for
            another class count.
    """
    path = Path(path)
    state = read_checkpoint(path, what="vidal action-detector checkpoint")
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise VidalError(f"{path}: not a vidal action-detector checkpoint")
    try:
        config = ActionDetectorConfig(**state["config"])
    except (TypeError, KeyError) as e:
        raise VidalError(f"{path}: a damaged action-detector checkpoint ({e})") from e
    if num_classes is not None and config.num_classes != num_classes:
        raise VidalError(
            f"{path}: checkpoint is for num_classes={config.num_classes}, the dataset has {num_classes}"
        )
    model = ActionModel(config, num_clusters=int(state["num_clusters"]), pretrained=False)
    model.load_state_dict(state["model"])
    model.clusters_initialised = bool(state["clusters_initialised"])
    model.steps_trained = int(state.get("steps_trained", 0))
    model.train_state = state.get("train_state")
    model.recorded = state.get("recorded")
    return model


def action_checkpoint_meta(path: str | os.PathLike) -> dict:
    """The ``extra`` dict stored with a checkpoint (``vidal train``: class names, clip size,
    steps...); empty for checkpoints written without one (``vidal run``'s cycles)."""
    state = read_checkpoint(path, what="vidal action-detector checkpoint")
    extra = state.get("extra") if isinstance(state, dict) else None
    return dict(extra) if isinstance(extra, dict) else {}


def _build_encoder(
    config: ActionDetectorConfig, *, pretrained: bool
) -> tuple[InceptionI3d | MobileNetV2Encoder, dict[str, tuple[int, int, int]]]:
    """The encoder ``config`` names and its decoder endpoints (name -> stride, finest first)."""
    if config.encoder == "i3d":
        i3d = InceptionI3d(
            in_channels=config.in_channels,
            final_endpoint=list(_I3D_SKIPS)[-1],
            width=config.width,
            bn_momentum=config.bn_momentum,
        )
        return i3d, dict(_I3D_SKIPS)
    mobilenet = MobileNetV2Encoder(
        in_channels=config.in_channels,
        blocks=config.encoder_blocks,
        width=config.width,
        temporal_layers=config.temporal_layers,
        frozen_blocks=config.frozen_blocks,
        bn_momentum=config.bn_momentum,
    )
    if pretrained and config.encoder_weights is not None:
        load_pretrained_features(mobilenet.features, config.encoder_weights)
    return mobilenet, {name: mobilenet.skip_strides[name] for name in mobilenet.skips}
