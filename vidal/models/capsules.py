"""2D matrix capsules with EM routing, the capsule part of vidal's action detector.

VideoCapsuleNet (Duarte, Rawat & Shah, NeurIPS 2018) routes 3D convolutional capsules with
4x4 pose matrices and an activation each, using EM routing (Hinton, Sabour & Frosst, *Matrix
capsules with EM routing*, ICLR 2018, Procedure 1), and builds its class capsules by
*capsule-pooling*: capsules of one type share their transformation matrices over the grid and
their votes are averaged before routing. Active Sparse Labeling (Rana & Rawat, NeurIPS 2022,
Sec. 3.3) and CLAUS (CVPR 2023, supplement Sec. 7.1, Table 11) simplify this to 2D capsules
("replaced the 3D routing with 2D routing ... more efficient in terms of memory and training
speed"): a primary capsule layer and a convolutional capsule layer with one capsule type per
class over the ``H x W`` grid of the I3D features, pooled into class capsules.

Shapes: ``B`` batch, ``I`` input capsule types, ``J`` output capsule types, ``K`` classes,
``P = pose_size ** 2`` pose entries (16 for 4x4 matrices), ``H W`` the capsule grid.

Two routing choices are vidal's own, since the ICLR paper leaves the scale of the cost open:
the description cost of a parent is averaged over pose entries instead of summed, and it is
weighted by the parent's share of the incoming data relative to an even split, so its scale
does not grow with the number of children; the inverse temperature is fixed, not annealed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidal.errors import VidalError

__all__ = ["em_routing", "PrimaryCapsules2d", "ConvCapsules2d", "ClassCapsules"]

_EPS = 1e-6


def em_routing(
    votes: Tensor,
    activations: Tensor,
    *,
    beta_u: Tensor,
    beta_a: Tensor,
    iterations: int = 3,
    inverse_temperature: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """EM routing between matrix capsules, vectorised over ``N`` independent routing problems.

    Hinton et al., ICLR 2018, Procedure 1: the parents are Gaussian clusters of the children's
    votes; the M-step fits each parent's mean and per-entry variance to the votes weighted by
    assignment x child activation and sets the parent's activation from its description cost
    ``sigmoid(lambda * (beta_a - cost))``; the E-step reassigns each child to the parents in
    proportion to ``a_j * N(v_ij; mu_j, sigma_j)``. Computed in float32 under mixed precision.

    Args:
        votes: ``Tensor[N, I, J, P]`` vote of child ``i`` for parent ``j``.
        activations: ``Tensor[N, I]`` child activations in ``[0, 1]``; a child with activation
            0 (e.g. zero padding) has no say.
        beta_u: ``Tensor[J]`` learned cost per pose entry of explaining data by parent ``j``.
        beta_a: ``Tensor[J]`` learned activation threshold of parent ``j``.
        iterations: EM iterations (>= 1); the last one ends with an M-step.
        inverse_temperature: ``lambda`` in the activation sigmoid.

    Returns:
        ``(poses, activations)``: parent means ``Tensor[N, J, P]`` and activations
        ``Tensor[N, J]``, in the dtype of ``votes``.

    Example:
        >>> votes = torch.randn(2, 5, 3, 16)
        >>> poses, acts = em_routing(votes, torch.ones(2, 5), beta_u=torch.zeros(3),
        ...                          beta_a=torch.zeros(3))
        >>> poses.shape, acts.shape
        (torch.Size([2, 3, 16]), torch.Size([2, 3]))
    """
    if votes.dim() != 4:
        raise VidalError(f"votes must have shape [N, I, J, P], got {list(votes.shape)}")
    n, i, j, _ = votes.shape
    if activations.shape != (n, i):
        raise VidalError(
            f"activations must have shape [N={n}, I={i}], got {list(activations.shape)}"
        )
    if beta_u.shape != (j,) or beta_a.shape != (j,):
        raise VidalError(
            f"beta_u and beta_a must have shape [J={j}], got {list(beta_u.shape)} and "
            f"{list(beta_a.shape)}"
        )
    if iterations < 1:
        raise VidalError(f"iterations={iterations} must be >= 1")
    dtype = votes.dtype
    v = votes.float()
    a_in = activations.float().unsqueeze(-1)  # [N, I, 1]
    bu, ba = beta_u.float(), beta_a.float()
    r = v.new_full((n, i, j), 1.0 / j)  # assignment of child i to parent j
    mu = v.new_zeros((n, j, v.shape[-1]))
    a_out = v.new_zeros((n, j))
    for it in range(iterations):
        # M-step
        ra = r * a_in  # [N, I, J]
        mass = ra.sum(1)  # [N, J]
        coeff = ra / (mass.unsqueeze(1) + _EPS)  # [N, I, J], sums to 1 over I
        mu = torch.einsum("nij,nijp->njp", coeff, v)  # [N, J, P]
        sq = (v - mu.unsqueeze(1)).square()  # [N, I, J, P]
        var = torch.einsum("nij,nijp->njp", coeff, sq) + _EPS  # [N, J, P]
        share = mass * j / (mass.sum(-1, keepdim=True) + _EPS)  # [N, J], 1 for an even split
        cost = share * (bu.unsqueeze(-1) + 0.5 * torch.log(var)).mean(-1)  # [N, J]
        a_out = torch.sigmoid(inverse_temperature * (ba - cost))  # [N, J]
        if it == iterations - 1:
            break
        # E-step: log of a_j * N(v_ij; mu_j, var_j), normalised over parents
        log_p = -0.5 * (sq / var.unsqueeze(1)).sum(-1) - 0.5 * torch.log(2 * math.pi * var).sum(
            -1
        ).unsqueeze(1)  # [N, I, J]
        r = torch.softmax(torch.log(a_out + _EPS).unsqueeze(1) + log_p, dim=-1)
    return mu.to(dtype), a_out.to(dtype)


def _check_capsules(poses: Tensor, activations: Tensor, *, types: int, pose: int) -> None:
    if poses.dim() != 5 or poses.shape[1] != types or poses.shape[2] != pose:
        raise VidalError(
            f"poses must have shape [B, I={types}, P={pose}, H, W], got {list(poses.shape)}"
        )
    b, _, _, h, w = poses.shape
    if activations.shape != (b, types, h, w):
        raise VidalError(
            f"activations must have shape [B={b}, I={types}, H={h}, W={w}], "
            f"got {list(activations.shape)}"
        )


class PrimaryCapsules2d(nn.Module):
    """Primary capsules: a 2D convolution giving ``capsules`` pose matrices and activations per position.

    Args:
        in_channels: channels ``C`` of the input feature map.
        capsules: capsule types ``J`` per position.
        kernel_size: odd convolution size; ``"same"`` zero padding keeps the grid size.
        pose_size: side of the pose matrix (4: ``P = 16`` entries).

    Example:
        >>> layer = PrimaryCapsules2d(8, 4, kernel_size=3)
        >>> poses, acts = layer(torch.randn(2, 8, 5, 5))
        >>> poses.shape, acts.shape
        (torch.Size([2, 4, 16, 5, 5]), torch.Size([2, 4, 5, 5]))
    """

    def __init__(
        self, in_channels: int, capsules: int, *, kernel_size: int = 3, pose_size: int = 4
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise VidalError(f"kernel_size={kernel_size} must be a positive odd number")
        self.in_channels = in_channels
        self.capsules = capsules
        self.pose_entries = pose_size * pose_size
        self.pose = nn.Conv2d(
            in_channels, capsules * self.pose_entries, kernel_size, padding=kernel_size // 2
        )
        self.activation = nn.Conv2d(in_channels, capsules, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Map features to capsules.

        Args:
            x: features ``Tensor[B, C, H, W]``.

        Returns:
            ``(poses, activations)``: ``Tensor[B, J, P, H, W]`` and ``Tensor[B, J, H, W]`` in
            ``(0, 1)``.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise VidalError(
                f"x must have shape [B, C={self.in_channels}, H, W], got {list(x.shape)}"
            )
        b, _, h, w = x.shape
        poses = self.pose(x).view(b, self.capsules, self.pose_entries, h, w)
        return poses, torch.sigmoid(self.activation(x))


class ConvCapsules2d(nn.Module):
    """Convolutional matrix capsules with EM routing over a ``kernel_size`` window.

    Each child in the window (``kernel_size**2 * I`` of them) votes for each of the ``J``
    parent types at the window's position with a learned ``pose_size x pose_size``
    transformation matrix (one per kernel offset, child type and parent type, shared over
    positions); every window is routed independently with :func:`em_routing`. Zero padding
    adds children with activation 0, which do not vote.

    Args:
        in_capsules: child capsule types ``I``.
        out_capsules: parent capsule types ``J``.
        kernel_size: window size (odd).
        stride: window stride.
        iterations: EM iterations.
        pose_size: side of the pose matrices.
        inverse_temperature: ``lambda`` of :func:`em_routing`.

    Example:
        >>> layer = ConvCapsules2d(4, 3)
        >>> poses, acts = layer(torch.randn(2, 4, 16, 5, 5), torch.rand(2, 4, 5, 5))
        >>> poses.shape, acts.shape
        (torch.Size([2, 3, 16, 5, 5]), torch.Size([2, 3, 5, 5]))
    """

    def __init__(
        self,
        in_capsules: int,
        out_capsules: int,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        iterations: int = 3,
        pose_size: int = 4,
        inverse_temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0 or stride < 1:
            raise VidalError(
                f"kernel_size={kernel_size} must be a positive odd number and stride={stride} >= 1"
            )
        if iterations < 1:
            raise VidalError(f"iterations={iterations} must be >= 1")
        self.in_capsules = in_capsules
        self.out_capsules = out_capsules
        self.kernel_size = kernel_size
        self.stride = stride
        self.iterations = iterations
        self.pose_size = pose_size
        self.inverse_temperature = inverse_temperature
        children = kernel_size * kernel_size * in_capsules
        # [k*k*I, J, p, p]; std 1/sqrt(p) keeps the vote entries at the scale of the poses
        self.weight = nn.Parameter(
            torch.randn(children, out_capsules, pose_size, pose_size) / math.sqrt(pose_size)
        )
        self.beta_u = nn.Parameter(torch.zeros(out_capsules))
        self.beta_a = nn.Parameter(torch.zeros(out_capsules))

    def forward(self, poses: Tensor, activations: Tensor) -> tuple[Tensor, Tensor]:
        """Route child capsules to parent capsules on the grid.

        Args:
            poses: ``Tensor[B, I, P, H, W]`` child poses.
            activations: ``Tensor[B, I, H, W]`` child activations.

        Returns:
            ``(poses, activations)``: ``Tensor[B, J, P, H', W']`` and ``Tensor[B, J, H', W']``
            with ``H' = (H - 1) // stride + 1`` (same for ``W'``).
        """
        p = self.pose_size
        _check_capsules(poses, activations, types=self.in_capsules, pose=p * p)
        b, i, _, h, w = poses.shape
        k, pad = self.kernel_size, self.kernel_size // 2
        h_out, w_out = (h + 2 * pad - k) // self.stride + 1, (w + 2 * pad - k) // self.stride + 1
        cols = F.unfold(poses.reshape(b, i * p * p, h, w), k, padding=pad, stride=self.stride)
        length = cols.shape[-1]  # L = H' * W'
        # [B, I, P, k*k, L] -> [B*L, k*k*I, p, p]
        cols = cols.view(b, i, p * p, k * k, length).permute(0, 4, 3, 1, 2)
        cols = cols.reshape(b * length, k * k * i, p, p)
        acts = F.unfold(activations, k, padding=pad, stride=self.stride)  # [B, I*k*k, L]
        acts = acts.view(b, i, k * k, length).permute(0, 3, 2, 1).reshape(b * length, k * k * i)
        votes = torch.einsum("nixy,ijyz->nijxz", cols, self.weight)  # [B*L, k*k*I, J, p, p]
        votes = votes.reshape(b * length, k * k * i, self.out_capsules, p * p)
        mu, a = em_routing(
            votes,
            acts,
            beta_u=self.beta_u,
            beta_a=self.beta_a,
            iterations=self.iterations,
            inverse_temperature=self.inverse_temperature,
        )
        out_poses = mu.view(b, h_out, w_out, self.out_capsules, p * p).permute(0, 3, 4, 1, 2)
        out_acts = a.view(b, h_out, w_out, self.out_capsules).permute(0, 3, 1, 2)
        return out_poses.contiguous(), out_acts.contiguous()


class ClassCapsules(nn.Module):
    """Class capsules by capsule-pooling the class-typed convolutional capsules over the grid.

    The layer before has one capsule type per class at every grid position (Table 11 of the
    CLAUS supplement: ``Conv_caps`` with ``24 x 17`` channels for 24 classes). Following the
    capsule-pooling of VideoCapsuleNet (Duarte et al. 2018, Sec. 3.2), where the capsules of
    one type are summarised by their average before the class decision, class capsule ``k`` is
    the pool of all type-``k`` capsules: its pose is their activation-weighted mean pose and its
    activation (the class score) their mean activation. The layer has no parameters; the class
    decision is made by the routing into the convolutional capsules. (vidal tried EM routing
    from the ``K`` pooled capsules to the ``K`` classes as well: with so few children the
    cluster variances collapse, the class activations saturate at 1 and the margin loss stops
    learning.)

    Args:
        num_classes: capsule types ``K`` of the input, one per class.
        pose_size: side of the pose matrices.

    Example:
        >>> layer = ClassCapsules(3)
        >>> poses, scores = layer(torch.randn(2, 3, 16, 5, 5), torch.rand(2, 3, 5, 5))
        >>> poses.shape, scores.shape
        (torch.Size([2, 3, 16]), torch.Size([2, 3]))
    """

    def __init__(self, num_classes: int, *, pose_size: int = 4) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.pose_size = pose_size

    def forward(self, poses: Tensor, activations: Tensor) -> tuple[Tensor, Tensor]:
        """Pool each class type over the grid.

        Args:
            poses: ``Tensor[B, K, P, H, W]`` poses of the class-typed capsules.
            activations: ``Tensor[B, K, H, W]`` their activations.

        Returns:
            ``(poses, scores)``: class poses ``Tensor[B, K, P]`` and class activations
            ``Tensor[B, K]`` in ``[0, 1]``.
        """
        p = self.pose_size
        _check_capsules(poses, activations, types=self.num_classes, pose=p * p)
        weight = activations.unsqueeze(2)  # [B, K, 1, H, W]
        pooled = (poses * weight).sum((-2, -1)) / (weight.sum((-2, -1)) + _EPS)  # [B, K, P]
        return pooled, activations.mean((-2, -1))
