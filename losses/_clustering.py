"""Deep-clustering loss on latent clip features: Rana & Rawat, *Hybrid Active Learning via Deep
Clustering for Video Action Detection* (CVPR 2023), Eq. 3 and supplement Sec. 7.2.

Eq. 3 is the k-means objective of Yang et al. (*Towards K-means-friendly Spaces*, ICML 2017,
the supplement's [8]) with hard assignments::

    min_theta  sum_i  lambda / 2 * || LF(x_i | M_theta) - C_K(x_i) ||^2

where ``LF`` is the latent feature of clip ``x_i`` and ``C_K(x_i)`` the centre of the cluster
it is assigned to (the nearest one). The minimisation is over the network parameters
``theta`` only: the centres are not trained by gradient. As in Yang et al., the centres are
initialised by k-means on the features of the labeled clips (``K = 5``, supplement Sec. 3 and
7.2) and then updated online: each centre moves to the running mean of every feature assigned
to it, the per-sample step ``1 / count`` of Yang et al.'s update.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from losses._common import (
    LossInputError,
    check_int,
    check_reduction,
    check_tensor,
    reduce,
)

__all__ = ["kmeans", "clustering_loss", "DeepClustering"]


def _nearest(features: Tensor, centers: Tensor) -> Tensor:
    """Index of the nearest centre (ties: the lower index) of each feature, ``Tensor[N]``."""
    if features.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=features.device)
    return torch.cdist(features, centers).argmin(dim=1)


def _check_count(num_clusters: int) -> int:
    return check_int(num_clusters, "num_clusters", 1)


def kmeans(
    features: Tensor, num_clusters: int, *, seed: int, max_iter: int = 100
) -> tuple[Tensor, Tensor]:
    """k-means (k-means++ seeding, then Lloyd iterations) in torch.

    Deterministic for a given ``seed``. A cluster that empties during the iterations is moved
    to the point farthest from its centre.

    Args:
        features (Tensor[N, D]): points, ``N >= num_clusters``.
        num_clusters: ``K``.
        seed: seed of the k-means++ seeding.
        max_iter: most Lloyd iterations; stops earlier when the assignment no longer changes.

    Returns:
        ``(centers, assignment)``: ``Tensor[K, D]`` centres (``features``' float dtype and
        device) and int64 ``Tensor[N]`` cluster of each point.

    Example:
        >>> x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
        >>> centers, assignment = kmeans(x, 2, seed=0)
        >>> sorted(centers.tolist())
        [[0.0, 0.5], [10.0, 0.5]]
    """
    check_tensor(features, "features", "N, D")
    num_clusters = _check_count(num_clusters)
    if features.shape[0] < num_clusters:
        raise LossInputError(
            f"features must have at least num_clusters = {num_clusters} rows [N, D]; "
            f"got shape {tuple(features.shape)}"
        )
    x = features.detach()
    x = x if x.is_floating_point() else x.float()
    n = x.shape[0]
    gen = torch.Generator().manual_seed(int(seed))

    # k-means++ seeding
    chosen = [int(torch.randint(n, (1,), generator=gen))]
    d2 = (x - x[chosen[0]]).pow(2).sum(dim=1)
    for _ in range(1, num_clusters):
        total = d2.sum()
        probs = d2 / total if total > 0 else torch.ones_like(d2)
        chosen.append(int(torch.multinomial(probs.double().cpu(), 1, generator=gen)))
        d2 = torch.minimum(d2, (x - x[chosen[-1]]).pow(2).sum(dim=1))
    centers = x[chosen].clone()

    assignment = _nearest(x, centers)
    for _ in range(max_iter):
        counts = torch.bincount(assignment, minlength=num_clusters)
        sums = torch.zeros_like(centers).index_add_(0, assignment, x)
        nonempty = counts > 0
        centers = torch.where(
            nonempty[:, None], sums / counts.clamp(min=1)[:, None].to(x.dtype), centers
        )
        empty = (~nonempty).nonzero().flatten()
        if len(empty):
            far = (x - centers[assignment]).pow(2).sum(dim=1).topk(len(empty)).indices
            centers[empty] = x[far]
        new_assignment = _nearest(x, centers)
        if torch.equal(new_assignment, assignment) and not len(empty):
            break
        assignment = new_assignment
    return centers, assignment


def clustering_loss(
    features: Tensor,
    centers: Tensor,
    *,
    scale: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    """Deep-clustering loss (Rana & Rawat, CVPR 2023, Eq. 3).

    ``scale / 2 * ||f_i - c_{k(i)}||^2`` with ``c_{k(i)}`` the centre nearest to ``f_i``. The
    gradient reaches ``features``; the choice of centre is not differentiated, and ``centers``
    gets a gradient only if it requires one (:class:`DeepClustering` keeps them as a buffer).

    Args:
        features (Tensor[N, D]): latent features of ``N`` clips.
        centers (Tensor[K, D]): cluster centres.
        scale: ``lambda`` of Eq. 3 (the paper gives no value).
        reduction: ``"none"`` for the per-clip ``Tensor[N]``, ``"mean"`` over clips or ``"sum"``
            (Eq. 3 as written).

    Returns:
        ``Tensor[N]`` or a scalar tensor.

    Example:
        >>> f = torch.tensor([[1.0, 0.0], [9.0, 0.0]])
        >>> c = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
        >>> clustering_loss(f, c, reduction="none")
        tensor([0.5000, 0.5000])
    """
    check_tensor(features, "features", "N, D")
    check_tensor(centers, "centers", "K, D")
    check_reduction(reduction)
    if centers.shape[1] != features.shape[1] or centers.shape[0] == 0:
        raise LossInputError(
            f"centers must have shape [K, D] with K >= 1 and D = {features.shape[1]} "
            f"(features' D); got shape {tuple(centers.shape)}"
        )
    assignment = _nearest(features.detach(), centers.detach().to(features.dtype))
    diff = features - centers.to(features.dtype)[assignment]
    per_clip = 0.5 * scale * diff.pow(2).sum(dim=1)
    return reduce(per_clip, reduction)


class DeepClustering(nn.Module):
    """``K`` cluster centres in the latent space, their online update and the loss of Eq. 3
    (Rana & Rawat, CVPR 2023; centre update of Yang et al., ICML 2017).

    Use: :meth:`init_kmeans` on the latent features of the labeled clips (each active-learning
    cycle); in training, add ``module(features)`` to the loss and call
    :meth:`update_centers` with the batch's features after the step; for selection,
    :meth:`assign` gives each clip's cluster. ``centers``, ``counts`` and ``initialized`` are
    buffers, so they are saved in the ``state_dict`` and follow ``.to(device)``.

    Args:
        dim: ``D``, the latent feature size.
        num_clusters: ``K`` (paper: 5).
        scale: ``lambda`` of Eq. 3.
        reduction: reduction of :meth:`forward` (see :func:`clustering_loss`).

    Example:
        >>> clusters = DeepClustering(2, num_clusters=2)
        >>> x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
        >>> clusters.init_kmeans(x, seed=0)
        >>> bool(clusters.assign(x)[0] == clusters.assign(x)[1])
        True
        >>> round(clusters(x).item(), 4)  # each point is 0.5 from its centre
        0.125
        >>> clusters.update_centers(torch.tensor([[0.0, 3.0]]))
    """

    centers: Tensor
    counts: Tensor
    initialized: Tensor

    def __init__(
        self,
        dim: int,
        *,
        num_clusters: int = 5,
        scale: float = 1.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        dim = check_int(dim, "dim", 1)
        self.num_clusters = _check_count(num_clusters)
        self.dim = dim
        self.scale = scale
        self.reduction = check_reduction(reduction)
        self.register_buffer("centers", torch.zeros(num_clusters, dim))
        self.register_buffer("counts", torch.zeros(num_clusters, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(False))

    def _check(self, features: Tensor) -> Tensor:
        check_tensor(features, "features", "N, D")
        if features.shape[1] != self.dim:
            raise LossInputError(
                f"features must have shape [N, D] with D = {self.dim}; "
                f"got shape {tuple(features.shape)}"
            )
        if not bool(self.initialized):
            raise LossInputError(
                "DeepClustering has no centres yet: call init_kmeans(features, seed=...) first"
            )
        return features

    @torch.no_grad()
    def init_kmeans(self, features: Tensor, *, seed: int, max_iter: int = 100) -> None:
        """Set the centres by k-means on ``features (Tensor[N, D])``, ``N >= K``.

        The count of each cluster starts at the number of features k-means put in it, so that
        :meth:`update_centers` keeps each centre the mean of all features it has seen.
        """
        check_tensor(features, "features", "N, D")
        if features.shape[1] != self.dim:
            raise LossInputError(
                f"features must have shape [N, D] with D = {self.dim}; "
                f"got shape {tuple(features.shape)}"
            )
        centers, assignment = kmeans(features, self.num_clusters, seed=seed, max_iter=max_iter)
        self.centers.copy_(centers)
        counts = torch.bincount(assignment, minlength=self.num_clusters).clamp(min=1)
        self.counts.copy_(counts)
        self.initialized.fill_(True)

    @torch.no_grad()
    def assign(self, features: Tensor) -> Tensor:
        """Nearest cluster of each of ``features (Tensor[N, D])``: int64 ``Tensor[N]``."""
        self._check(features)
        return _nearest(features.detach().to(self.centers.dtype), self.centers)

    @torch.no_grad()
    def update_centers(self, features: Tensor) -> None:
        """Move each centre to the running mean of all features assigned to it.

        Each feature of the batch ``features (Tensor[N, D])`` is assigned to its nearest centre
        first; the result is then Yang et al.'s per-sample update ``count_k += 1;
        c_k += (f - c_k) / count_k`` applied one sample at a time, up to rounding.
        """
        self._check(features)
        x = features.detach().to(self.centers.dtype)
        assignment = _nearest(x, self.centers)
        n = torch.bincount(assignment, minlength=self.num_clusters)
        sums = torch.zeros_like(self.centers).index_add_(0, assignment, x)
        self.counts += n
        step = (sums - n[:, None].to(x.dtype) * self.centers) / self.counts[:, None].to(x.dtype)
        self.centers += torch.where(n[:, None] > 0, step, torch.zeros_like(step))

    def forward(self, features: Tensor) -> Tensor:
        """Clustering loss (Eq. 3) of ``features (Tensor[N, D])`` against the current centres.

        Returns:
            ``Tensor[N]`` for ``reduction="none"``, else a scalar tensor.
        """
        self._check(features)
        return clustering_loss(features, self.centers, scale=self.scale, reduction=self.reduction)

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, num_clusters={self.num_clusters}, scale={self.scale}, "
            f"reduction={self.reduction!r}"
        )
