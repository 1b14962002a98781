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
