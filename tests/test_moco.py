"""MoCo v2's pieces against their definitions: the loss, the queue order, the momentum update."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from synrec.moco import MoCo, info_nce, moco_v2_transform


def test_info_nce_equals_the_direct_computation():
    g = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(3, 4, generator=g), dim=1)
    k = F.normalize(torch.randn(3, 4, generator=g), dim=1)
    queue = F.normalize(torch.randn(4, 5, generator=g), dim=0)
    t = 0.2
    expected = 0.0
    for i in range(3):  # -log( exp(q·k+/T) / (exp(q·k+/T) + sum_j exp(q·n_j/T)) ), by hand
        pos = math.exp(float(q[i] @ k[i]) / t)
        negs = sum(math.exp(float(q[i] @ queue[:, j]) / t) for j in range(5))
        expected += -math.log(pos / (pos + negs))
    assert float(info_nce(q, k, queue, t)) == pytest.approx(expected / 3, rel=1e-5)


def _moco(queue_size=5, momentum=0.9):
    torch.manual_seed(0)
    return MoCo(nn.Sequential(nn.Flatten(), nn.Linear(12, 6)), feat_dim=6, dim=4, queue_size=queue_size,
                momentum=momentum, temperature=0.2)


def test_queue_is_first_in_first_out_and_wraps():
    m = _moco(queue_size=5)
    old = m.queue.clone()
    a, b = F.normalize(torch.randn(3, 4), dim=1), F.normalize(torch.randn(3, 4), dim=1)
    m.enqueue(a)
    assert torch.equal(m.queue[:, :3], a.t()) and torch.equal(m.queue[:, 3:], old[:, 3:]) and int(m.ptr) == 3
    m.enqueue(b)  # columns 3, 4, then wraps to 0
    assert torch.equal(m.queue[:, 3:], b[:2].t()) and torch.equal(m.queue[:, 0], b[2])
    assert torch.equal(m.queue[:, 1:3], a[1:].t()) and int(m.ptr) == 1


def test_a_step_updates_the_key_encoder_by_momentum_and_trains_only_the_query_encoder():
    m = _moco(queue_size=8, momentum=0.9)
    opt = torch.optim.SGD(m.encoder_q.parameters(), lr=0.5)
    x1, x2 = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    loss = m(x1, x2)
    loss.backward()
    assert all(p.grad is None for p in m.encoder_k.parameters())
    q_before = [p.detach().clone() for p in m.encoder_q.parameters()]
    k_before = [p.detach().clone() for p in m.encoder_k.parameters()]
    opt.step()
    opt.zero_grad()
    m(x1, x2)  # next step: θ_k <- 0.9 θ_k + 0.1 θ_q (the stepped query weights)
    for pk, kb, pq in zip(m.encoder_k.parameters(), k_before, m.encoder_q.parameters()):
        assert torch.allclose(pk, 0.9 * kb + 0.1 * pq.detach(), atol=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(q_before, m.encoder_q.parameters()))
    assert int(m.ptr) == 0  # two batches of 4 filled the queue of 8 and wrapped


def test_v2_augmentation_gives_two_different_views_of_the_right_shape():
    tf = moco_v2_transform(32)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8))
    torch.manual_seed(0)
    a, b = tf(img), tf(img)
    assert a.shape == b.shape == (3, 32, 32) and not torch.equal(a, b)


class _Recording(nn.Module):
    """A row-wise 'encoder' (no BN) that records the batches it is given."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.clone())
        return x.flatten(1)[:, :3] * 2 + 1


def test_shuffle_bn_in_one_process_permutes_the_keys_in_chunks_and_restores_their_order():
    from synrec.moco import shuffled_keys

    torch.manual_seed(0)
    x = torch.randn(8, 2, 2, 2)
    enc = _Recording()
    keys = shuffled_keys(enc, x, splits=4)
    assert torch.equal(keys, x.flatten(1)[:, :3] * 2 + 1)  # each key is its own image's, in the batch's order
    assert [len(s) for s in enc.seen] == [2, 2, 2, 2]  # four split-BN chunks
    seen = torch.cat(enc.seen)
    order = [int(torch.nonzero((x == row).all(dim=(1, 2, 3)))[0]) for row in seen]
    assert sorted(order) == list(range(8)) and order != list(range(8))  # a permutation of the batch, not the batch
    # with BN the chunks have their own statistics, so the keys differ from an unsplit pass
    bn = nn.Sequential(nn.Conv2d(2, 4, 1), nn.BatchNorm2d(4), nn.Flatten()).train()
    assert not torch.allclose(shuffled_keys(bn, x, splits=4), bn(x), atol=1e-4)
    assert torch.allclose(shuffled_keys(bn, x, splits=1), bn(x), atol=1e-5)  # one chunk: a permuted batch, same BN


def _shuffle_job(out: str) -> None:
    import torch.distributed as dist

    from synrec.moco import shuffled_keys

    rank = dist.get_rank()
    torch.manual_seed(0)
    images = torch.arange(rank * 4, rank * 4 + 4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 3, 1, 1)
    enc = _Recording()
    keys = shuffled_keys(enc, images.contiguous())
    torch.save({"keys": keys, "own": images.flatten(1)[:, :3] * 2 + 1, "seen": enc.seen[0][:, 0, 0, 0]},
               f"{out}-{rank}.pt")


def test_shuffle_bn_across_two_processes_encodes_a_shared_permutation_and_returns_each_rank_its_keys(tmp_path,
                                                                                                   monkeypatch):
    import sys
    from pathlib import Path

    from synrec.distributed import launch

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # two gloo processes on CPU, also on a host with one GPU
    sys.path.insert(0, str(Path(__file__).parent))
    launch(_shuffle_job, (str(tmp_path / "r"),), nprocs=2)
    r0, r1 = torch.load(tmp_path / "r-0.pt"), torch.load(tmp_path / "r-1.pt")
    assert torch.equal(r0["keys"], r0["own"]) and torch.equal(r1["keys"], r1["own"])  # restored, rank by rank
    seen = sorted(torch.cat([r0["seen"], r1["seen"]]).tolist())
    assert seen == list(range(8))  # together the ranks encoded the 8 images once each
    assert r0["seen"].tolist() != [0.0, 1.0, 2.0, 3.0]  # rank 0 encoded a shuffled share, not its own batch
