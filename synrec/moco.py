"""MoCo v2 (Chen et al., 2020), the self-supervised pre-training of Tables 10–11: the pieces, small and tested.

* a query encoder (backbone + 2-layer MLP head) and a key encoder, its momentum copy:
  ``θ_k ← m·θ_k + (1 − m)·θ_q`` after every step, never trained by gradients;
* a queue of K negative keys (L2-normalised, dim × K), filled first in first out: each batch's keys overwrite the
  oldest entries, at ``ptr``, which then advances by the batch size (wrapping at K);
* the InfoNCE loss ``CE([q·k⁺, q·queue] / T, label 0)``, T = 0.2 in v2;
* v2's augmentation: random resized crop (scale 0.2–1), colour jitter (0.4, 0.4, 0.4, 0.1) with p 0.8, grayscale
  p 0.2, Gaussian blur (σ 0.1–2) p 0.5, horizontal flip.

With several data-parallel processes, every rank enqueues the keys of all ranks (gathered), so the queues stay
identical. **Shuffle-BN** (MoCo §3.3: a query and its positive key must not share BN statistics, or the model
cheats through them): with several ranks the key images are gathered, permuted by one shared permutation, encoded
a rank's share each, gathered back and un-permuted (:func:`shuffled_keys`). In one process the same holds by
split-BN: the key batch is permuted and encoded in ``bn_splits`` chunks (as if on that many GPUs), then restored.
The pre-training job is :mod:`synrec.pretrain`. Written from the papers, not from any implementation.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


@torch.no_grad()
def _gather(x: torch.Tensor) -> torch.Tensor:
    """``x`` of every data-parallel rank, concatenated in rank order (``x`` itself with one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def _rank_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@torch.no_grad()
def shuffled_keys(encoder: nn.Module, im_k: torch.Tensor, splits: int = 1) -> torch.Tensor:
    """``encoder(im_k)`` row for row, but with each key's BN statistics taken over other samples than its query's.

    Several ranks: gather every rank's key images, permute them with one permutation (rank 0's, broadcast), encode
    this rank's share of the permuted batch, gather the keys, un-permute, keep this rank's rows. One rank: permute
    and encode in ``splits`` chunks of at least 2 (split-BN), then un-permute."""
    rank, world = _rank_world()
    if world > 1:
        import torch.distributed as dist

        everything = _gather(im_k)
        perm = torch.randperm(len(everything), device=im_k.device)
        dist.broadcast(perm, src=0)
        keys = _gather(encoder(everything[perm.view(world, -1)[rank]]))
        return keys[torch.argsort(perm).view(world, -1)[rank]]
    perm = torch.randperm(len(im_k), device=im_k.device)
    chunks = max(1, min(splits, len(im_k) // 2))
    keys = torch.cat([encoder(c) for c in im_k[perm].chunk(chunks)])
    return keys[torch.argsort(perm)]


def mlp_head(in_dim: int, dim: int = 128, hidden: int = 2048) -> nn.Module:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim))


def info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean over the batch of ``-log softmax([q·k, q·queue] / T)[0]``; q, k: (N, D) normalised, queue: (D, K)."""
    pos = (q * k).sum(-1, keepdim=True)
    neg = q @ queue
    logits = torch.cat([pos, neg], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


class MoCo(nn.Module):
    """Momentum Contrast v2: a query encoder, its momentum key encoder and a queue of negative keys.

    MoCo v1: He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020,
    https://arxiv.org/abs/1911.05722. v2 (MLP head, stronger augmentation, T = 0.2): Chen et al., "Improved
    Baselines with Momentum Contrastive Learning", 2020, https://arxiv.org/abs/2003.04297.

    Args (defaults are v2's):
        backbone: the encoder whose features (N x feat_dim) the MLP head projects; the part that is transferred.
        feat_dim: width of the backbone's pooled features (2048 for ResNet-50).
        dim: K-queue feature dimension D (128).
        queue_size: K, the number of negative keys (65,536).
        momentum: m of the key encoder's update θ_k ← m·θ_k + (1 − m)·θ_q (0.999).
        temperature: T of the InfoNCE softmax (0.2 in v2; 0.07 in v1).
        seed: seeds the queue's random initial keys.
        shuffle_bn: encode keys through :func:`shuffled_keys` (MoCo's shuffle-BN); ``bn_splits`` chunks in one
            process (8: MoCo's 8 GPUs).

    Shapes: images N x 3 x H x W; q, k N x D (L2-normalised); ``queue`` D x K; logits N x (1 + K).
    """

    def __init__(self, backbone: nn.Module, feat_dim: int, dim: int = 128, queue_size: int = 65536,
                 momentum: float = 0.999, temperature: float = 0.2, seed: int = 0, shuffle_bn: bool = True,
                 bn_splits: int = 8):
        super().__init__()
        self.shuffle_bn, self.bn_splits = shuffle_bn, bn_splits
        self.encoder_q = nn.Sequential(backbone, mlp_head(feat_dim, dim))
        self.encoder_k = copy.deepcopy(self.encoder_q).requires_grad_(False)
        self.momentum, self.temperature = momentum, temperature
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("queue", F.normalize(torch.randn(dim, queue_size, generator=gen), dim=0))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def momentum_update(self) -> None:
        for pk, pq in zip(self.encoder_k.parameters(), self.encoder_q.parameters()):
            pk.mul_(self.momentum).add_(pq.detach(), alpha=1.0 - self.momentum)
        for bk, bq in zip(self.encoder_k.buffers(), self.encoder_q.buffers()):
            bk.copy_(bq)  # BN running statistics follow the query encoder

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Overwrite the oldest entries with ``keys`` (N, D): columns ptr … ptr+N-1 (mod K); ptr advances by N."""
        k = self.queue.shape[1]
        idx = (self.ptr + torch.arange(len(keys), device=keys.device)) % k
        self.queue[:, idx] = keys.t().to(self.queue.dtype)
        self.ptr.copy_((self.ptr + len(keys)) % k)

    def forward(self, im_q: torch.Tensor, im_k: torch.Tensor) -> torch.Tensor:
        """One MoCo step's loss; updates the key encoder (before encoding keys) and the queue (after the loss)."""
        q = F.normalize(self.encoder_q(im_q), dim=1)
        with torch.no_grad():
            self.momentum_update()
            keys = shuffled_keys(self.encoder_k, im_k, self.bn_splits) if self.shuffle_bn else self.encoder_k(im_k)
            k = F.normalize(keys, dim=1)
        loss = info_nce(q, k, self.queue.clone().detach(), self.temperature)
        self.enqueue(_gather(k))
        return loss


def moco_v2_transform(size: int = 224):
    """Two calls give the two views of an image."""
    from torchvision import transforms as T

    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.2, 1.0)),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(kernel_size=2 * (size // 20) + 1, sigma=(0.1, 2.0))], p=0.5),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
