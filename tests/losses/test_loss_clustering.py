"""k-means, the deep-clustering loss (CLAUS Eq. 3) and the DeepClustering module."""

from __future__ import annotations

import pytest
import torch

from losses import DeepClustering, LossInputError, clustering_loss, kmeans


def _blobs(n_per: int = 20, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    means = torch.tensor([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    x = torch.cat([m + 0.3 * torch.randn(n_per, 3, generator=gen) for m in means])
    labels = torch.arange(3).repeat_interleave(n_per)
    return x, labels, means


def test_kmeans_recovers_blobs_and_is_seeded():
    x, labels, means = _blobs()
    centers, assignment = kmeans(x, 3, seed=7)
    # same partition as the truth, up to renaming the clusters
    for k in range(3):
        assert assignment[labels == k].unique().numel() == 1
    assert assignment.unique().numel() == 3
    matched = torch.cdist(means, centers).min(dim=1).values
    assert (matched < 0.3).all()
    c2, a2 = kmeans(x, 3, seed=7)
    assert torch.equal(centers, c2) and torch.equal(assignment, a2)


def test_kmeans_handles_duplicates_and_errors():
    x = torch.zeros(4, 2)
    centers, assignment = kmeans(x, 3, seed=0)
    assert centers.shape == (3, 2) and assignment.shape == (4,)
    with pytest.raises(LossInputError, match="features"):
        kmeans(torch.zeros(2, 2), 3, seed=0)
    with pytest.raises(LossInputError, match=r"features must have shape \[N, D\]"):
        kmeans(torch.zeros(5), 2, seed=0)
    with pytest.raises(LossInputError, match="num_clusters"):
        kmeans(torch.zeros(5, 2), 0, seed=0)


def test_clustering_loss_hand_case_and_gradient():
    f = torch.tensor([[1.0, 0.0], [9.0, 2.0], [4.0, 0.0]], requires_grad=True)
    c = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    per = clustering_loss(f, c, scale=2.0, reduction="none")
    # scale/2 * squared distance to the nearest centre: 1, 1 + 4, 16
    torch.testing.assert_close(per, torch.tensor([1.0, 5.0, 16.0]))
    torch.testing.assert_close(clustering_loss(f, c, scale=2.0, reduction="sum"), per.sum())
    torch.testing.assert_close(clustering_loss(f, c, scale=2.0), per.mean())
    clustering_loss(f, c, scale=2.0, reduction="sum").backward()
    # d/df of (scale / 2) ||f - c||^2 is scale * (f - c)
    expected = 2.0 * (f.detach() - c[[0, 1, 0]])
    torch.testing.assert_close(f.grad, expected)


def test_clustering_loss_errors():
    with pytest.raises(LossInputError, match="centers"):
        clustering_loss(torch.zeros(3, 2), torch.zeros(2, 3))
    with pytest.raises(LossInputError, match=r"features must have shape \[N, D\]"):
        clustering_loss(torch.zeros(3), torch.zeros(2, 3))
    with pytest.raises(LossInputError, match="reduction"):
        clustering_loss(torch.zeros(3, 2), torch.zeros(2, 2), reduction="avg")
    assert clustering_loss(torch.zeros(0, 2), torch.zeros(2, 2)) == 0


def test_deep_clustering_lifecycle():
    x, labels, _ = _blobs()
    module = DeepClustering(3, num_clusters=3)
    with pytest.raises(LossInputError, match="init_kmeans"):
        module(x)
    module.init_kmeans(x, seed=0)
    assert int(module.counts.sum()) == len(x)
    assignment = module.assign(x)
    for k in range(3):
        assert assignment[labels == k].unique().numel() == 1
    feats = x.clone().requires_grad_(True)
    loss = module(feats)
    loss.backward()
    assert torch.isfinite(feats.grad).all()
    assert not module.centers.requires_grad  # centres are not trained by gradient
    with pytest.raises(LossInputError, match="D = 3"):
        module(torch.zeros(2, 4))


def test_update_centers_is_the_per_sample_running_mean():
    x, _, _ = _blobs()
    module = DeepClustering(3, num_clusters=3)
    module.init_kmeans(x, seed=0)
    initial = module.assign(x)  # k-means converged: each centre is the mean of its cluster
    centers, counts = module.centers.clone(), module.counts.clone()
    batch = x[::7] + 0.5
    assignment = module.assign(batch)
    # Yang et al.: count_k += 1; c_k += (f - c_k) / count_k, one sample at a time
    for f, k in zip(batch, assignment.tolist(), strict=True):
        counts[k] += 1
        centers[k] += (f - centers[k]) / counts[k]
    module.update_centers(batch)
    assert torch.equal(module.counts, counts)
    torch.testing.assert_close(module.centers, centers)
    # so each centre stays the mean of every feature it has absorbed
    for k in range(3):
        seen = torch.cat([x[initial == k], batch[assignment == k]])
        torch.testing.assert_close(module.centers[k], seen.mean(dim=0))


def test_state_dict_round_trip():
    x, _, _ = _blobs()
    module = DeepClustering(3, num_clusters=4, scale=0.5, reduction="sum")
    module.init_kmeans(x, seed=1)
    clone = DeepClustering(3, num_clusters=4, scale=0.5, reduction="sum")
    clone.load_state_dict(module.state_dict())
    assert torch.equal(clone.assign(x), module.assign(x))
    torch.testing.assert_close(clone(x), module(x))
    assert "num_clusters=4" in repr(module)


def test_constructor_errors():
    with pytest.raises(LossInputError, match="dim"):
        DeepClustering(0)
    with pytest.raises(LossInputError, match="num_clusters"):
        DeepClustering(8, num_clusters=0)
    with pytest.raises(LossInputError, match="reduction"):
        DeepClustering(8, reduction="avg")
