import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import SHAPES

from synrec import demo_data
from synrec.classifier_tuning import ClassifierHead, evaluate, train_ct
from synrec.datasets import load_split
from synrec.few_shot import few_shot_split, sample_shots
from synrec.mix_training import train_mix, train_phasewise
from synrec.real_filter import real_filter
from synrec.tip_adapter import accuracy, one_hot, search_alpha_beta, tip_logits, train_tip_adapter_f

SCE = {"weight": 0.5, "temperature": 2.0}


NAMES = ["a", "b", "c", "d", "e"]


def test_shots_are_k_per_class_reproducible_and_nested_in_the_train_split():
    labels = np.repeat(np.arange(5), 30)
    a = sample_shots(labels, 4, 1, NAMES)
    assert len(a) == 20 and np.bincount(labels[a]).tolist() == [4] * 5
    assert a.tolist() == sample_shots(labels, 4, 1, NAMES).tolist()
    assert a.tolist() != sample_shots(labels, 4, 2, NAMES).tolist()
    small = np.array([0, 0, 1, 1, 1, 1])
    assert np.bincount(small[sample_shots(small, 3, 0, NAMES[:2])]).tolist() == [2, 3]  # a class with fewer: all
    split = few_shot_split(labels, np.repeat(np.arange(5), 10), k=16, seed=3, classnames=NAMES)
    assert len(split["train"]) == 80 and len(split["val"]) == 20  # val: min(K, 4) per class




def test_dassl_sampler_draws_the_shots_dassls_generate_fewshot_dataset_draws():
    """Dassl (CoOp, Tip-Adapter): set_random_seed(seed), then generate_fewshot_dataset on train (K) and val (min(K,
    4)), each class's items in data order, random.sample per class. Written here as Dassl writes it."""
    import random
    from collections import defaultdict

    def dassl(data_source, num_shots):
        tracker = defaultdict(list)
        for item in data_source:
            tracker[item[1]].append(item)
        dataset = []
        for _, items in tracker.items():
            dataset.extend(random.sample(items, num_shots) if len(items) >= num_shots else items)
        return dataset

    rng = np.random.default_rng(5)
    train_labels, val_labels = rng.integers(0, 6, 300), rng.integers(0, 6, 60)
    for seed, k in ((1, 16), (2, 4), (3, 1)):
        random.seed(seed)
        want_train = sorted(i for i, _ in dassl(list(enumerate(train_labels.tolist())), k))
        want_val = sorted(i for i, _ in dassl(list(enumerate(val_labels.tolist())), min(k, 4)))
        got = few_shot_split(train_labels, val_labels, k, seed, NAMES + ["f"], sampler="dassl")
        assert got["train"].tolist() == want_train and got["val"].tolist() == want_val, (seed, k)
    # relabelling classes (data order unchanged) leaves the shots where they were
    swapped = np.choose(train_labels, [1, 0, 2, 3, 4, 5])
    assert (few_shot_split(swapped, None, 4, 1, NAMES + ["f"])["train"].tolist()
            == few_shot_split(train_labels, None, 4, 1, NAMES + ["f"])["train"].tolist())

def test_a_class_gets_the_same_shots_whatever_its_label():
    """Relabelling two classes (in the data and the class list alike) leaves every class's shots where they were:
    the draw is keyed on the class's name, not its label."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 200)
    swapped = np.choose(labels, [1, 0, 2, 3, 4])  # 'a' <-> 'b'
    a = sample_shots(labels, 4, 7, NAMES)  # the by-name sampler
    assert a.tolist() == sample_shots(swapped, 4, 7, ["b", "a", "c", "d", "e"]).tolist()
    assert a.tolist() != sample_shots(swapped, 4, 7, NAMES).tolist()  # keyed on labels, they would move
    assert few_shot_split(labels, None, 4, 7, NAMES, sampler="by-name")["train"].tolist() == a.tolist()

def test_real_filter_drops_exactly_the_images_nearest_another_class():
    real = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    real_y = np.array([0, 1, 2])
    syn = np.array([[1, 0.1, 0],     # class 0, nearest real is class 0 -> keep
                    [0.2, 1, 0],     # class 0, nearest real is class 1 -> drop
                    [0, 0.9, 1.0],   # class 1, nearest is class 2 (0.74 vs 0.67) -> drop
                    [0, 1, 0.95],    # class 1, nearest is class 1 (0.72 vs 0.69) -> keep
                    [0.5, 0.5, 0.0]])  # class 2, ties between 0 and 1, own similarity 0 -> drop
    syn_y = np.array([0, 0, 1, 1, 2])
    assert real_filter(syn, syn_y, real, real_y, 3).tolist() == [0, 3]
    # margin: other may exceed own by up to the margin (image 2: 0.743 - 0.669 = 0.074)
    assert real_filter(syn, syn_y, real, real_y, 3, margin=0.1).tolist() == [0, 2, 3]
    # blocks give the same answer
    assert real_filter(syn, syn_y, real, real_y, 3, block=2).tolist() == [0, 3]


def test_tip_adapter_with_alpha_zero_is_zero_shot_clip():
    g = torch.Generator().manual_seed(0)
    emb = F.normalize(torch.randn(4, 16, generator=g), dim=-1)
    x = torch.randn(40, 16, generator=g)
    keys, vals = torch.randn(8, 16, generator=g), one_hot(torch.arange(8) % 4, 4)
    zs = ClassifierHead(emb)(x)
    torch.testing.assert_close(tip_logits(x, emb, keys, vals, alpha=0.0, beta=5.0), zs)


def test_tip_adapter_cache_fixes_a_wrong_zero_shot_head_and_search_uses_the_given_set():
    g = torch.Generator().manual_seed(0)
    centers = F.normalize(torch.randn(3, 16, generator=g), dim=-1)
    wrong = centers[[1, 2, 0]]  # zero-shot head with rotated labels: 0 % accuracy
    shots = centers.repeat_interleave(4, 0) + 0.05 * torch.randn(12, 16, generator=g)
    shot_y = torch.arange(3).repeat_interleave(4)
    test = centers.repeat_interleave(10, 0) + 0.05 * torch.randn(30, 16, generator=g)
    test_y = torch.arange(3).repeat_interleave(10)
    vals = one_hot(shot_y, 3)
    assert accuracy(tip_logits(test, wrong, shots, vals, 0.0, 1.0), test_y) == 0.0
    a, b = search_alpha_beta(shots, shot_y, wrong, shots, vals, alphas=[0.0, 10.0, 1000.0], betas=[1.0, 5.0])
    assert a == 1000.0
    assert accuracy(tip_logits(test, wrong, shots, vals, a, b), test_y) == 100.0
    keys = train_tip_adapter_f(shots, shot_y, wrong, alpha=a, beta=b, epochs=2)
    assert keys.shape == (12, 16) and not torch.equal(keys, F.normalize(shots, dim=-1))


def features(n_per, seed, noise=0.5):
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.eye(3, 8)[c] * 3 + rng.normal(0, noise, (n_per, 8)) for c in range(3)])
    return x.astype(np.float32), np.repeat(np.arange(3), n_per)


FLAT = F.normalize(torch.ones(3, 8) + 0.01 * torch.randn(3, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
MIX = {"epochs": 4, "lr": 0.01, "weight_decay": 0.1, "batch_size_real": 4, "batch_size_syn": 6, "warmup_steps": 0,
       "grad_clip": 1.0}


def test_mix_training_with_no_synthetic_weight_equals_real_only_ct():
    xr, yr = features(4, 0)   # 12 real shots, batch 4 -> 3 steps per real pass
    xs, ys = features(6, 1)   # 18 synthetic, batch 6 -> 3 steps per epoch: the real passes line up with epochs
    mixed, _ = train_mix(xr, yr, xs, ys, FLAT, MIX, SCE, w_real=1.0, w_syn=0.0, seed=7)
    ct = {"epochs": 4, "lr": 0.01, "weight_decay": 0.1, "batch_size": 4, "warmup_steps": 0, "grad_clip": 1.0}
    real_only, _ = train_ct(xr, yr, FLAT, ct, "CE", seed=7, progress=False)
    torch.testing.assert_close(mixed.linear.weight, real_only.linear.weight)
    torch.testing.assert_close(mixed.linear.bias, real_only.linear.bias)
    with_syn, hist = train_mix(xr, yr, xs, ys, FLAT, MIX, SCE, w_syn=1.0, seed=7)
    assert not torch.allclose(with_syn.linear.weight, real_only.linear.weight)
    assert len(hist) == 4 and hist[-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # schedule ends at 0, no swing-back


def test_mix_and_phasewise_both_learn_and_phases_run_in_order():
    xr, yr = features(4, 0)
    xs, ys = features(30, 1, noise=0.8)
    xt, yt = features(30, 2)
    mixed, _ = train_mix(xr, yr, xs, ys, FLAT, {**MIX, "epochs": 10}, SCE, seed=0)
    assert evaluate(mixed, xt, yt)["acc1"] > 90
    ct = {"epochs": 10, "lr": 0.01, "weight_decay": 0.1, "batch_size": 6, "warmup_steps": 0, "grad_clip": 1.0}
    head, hist = train_phasewise(xr, yr, xs, ys, FLAT, "syn->real", ct, ct, SCE)
    assert [h["phase"] for h in hist] == ["syn"] * 10 + ["real"] * 10
    assert evaluate(head, xt, yt)["acc1"] > 90
    _, hist = train_phasewise(xr, yr, xs, ys, FLAT, "real->syn", ct, ct, SCE)
    assert hist[0]["phase"] == "real" and hist[-1]["phase"] == "syn"


def test_without_a_val_split_validation_comes_from_train_without_touching_the_shots():
    train = np.repeat(np.arange(3), 10)
    split = few_shot_split(train, None, k=2, seed=1, classnames=NAMES[:3])
    assert split["val_from"] == "train" and len(split["val"]) == 6
    assert not set(split["val"]) & set(split["train"])
    assert np.bincount(train[split["val"]]).tolist() == [2, 2, 2]


def test_alpha_beta_search_equals_brute_force_over_tip_logits():
    g = torch.Generator().manual_seed(3)
    emb = F.normalize(torch.randn(5, 12, generator=g), dim=-1)
    keys, y_keys = torch.randn(15, 12, generator=g), torch.arange(15) % 5
    val, val_y = torch.randn(40, 12, generator=g), torch.randint(0, 5, (40,), generator=g)
    alphas, betas = [0.0, 0.5, 2.0, 8.0], [1.0, 3.0, 9.0]
    vals = one_hot(y_keys, 5)
    brute = {(a, b): accuracy(tip_logits(val, emb, keys, vals, a, b), val_y) for a in alphas for b in betas}
    top = max(brute.values())
    first_best = next((a, b) for a in alphas for b in betas if brute[(a, b)] == top)
    assert search_alpha_beta(val, val_y, emb, keys, vals, alphas, betas) == first_best


# ---- run_method: the entry point the rule calls, on features where the answer is known ----

def _world(seed=0, n_classes=4, dim=16):
    """Class means at random unit directions; a zero-shot head that knows them only roughly (noisy), so zero-shot is
    weak and real shots (or correctly labelled synthetic features) can fix it."""
    g = torch.Generator().manual_seed(seed)
    means = F.normalize(torch.randn(n_classes, dim, generator=g), dim=1)
    emb = F.normalize(means + 0.6 * torch.randn(n_classes, dim, generator=g), dim=1)

    def draw(per_class):
        y = np.repeat(np.arange(n_classes), per_class)
        x = means[y] + 0.15 * torch.randn(len(y), dim, generator=g)
        return x.numpy().astype(np.float32), y

    shot_x, shot_y = draw(4)
    val_x, val_y = draw(4)
    test_x, test_y = draw(50)
    syn_x, syn_y = draw(16)
    return {"shot_x": shot_x, "shot_y": shot_y, "val_x": val_x, "val_y": val_y, "test_x": test_x, "test_y": test_y,
            "syn_x": syn_x, "syn_y": syn_y, "class_emb": emb, "logit_scale": 100.0}


FS_CFG = {"ct_real": {"epochs": 100, "lr": 0.05, "weight_decay": 0.1, "batch_size": 4, "warmup_steps": 0,
                      "grad_clip": 1.0},
          "mix": {"epochs": 60, "lr": 0.05, "weight_decay": 0.1, "batch_size_real": 4, "batch_size_syn": 16,
                  "warmup_steps": 0, "grad_clip": 1.0, "w_real": 1.0, "w_syn": 1.0},
          "tip_adapter": {"alphas": [0.0, 0.3, 1.0, 3.0, 10.0], "betas": [1.0, 3.0, 10.0], "epochs": 20, "lr": 0.01}}


def test_run_method_learns_from_the_shots_and_from_correctly_labelled_synthetic_features():
    from synrec.few_shot_methods import run_method

    data = _world()
    zero_shot = evaluate(ClassifierHead(data["class_emb"], 100.0), data["test_x"], data["test_y"])["acc1"]
    assert zero_shot < 80
    acc = {m: run_method(m, data, FS_CFG, SCE, seed=0)["metrics"]["acc1"]
           for m in ("ct-init", "tip", "tip-f", "mix-RG", "syn2real-RG", "real2syn-RG")}
    assert all(a > zero_shot + 10 for a in acc.values()), (zero_shot, acc)
    tip = run_method("tip", data, FS_CFG, SCE, seed=0)["details"]
    assert tip["alpha"] > 0  # the cache helps here, so the val search must not switch it off
    # the same synthetic features with labels rotated by one class: the method must follow the labels it is given
    wrong = {**data, "syn_y": (data["syn_y"] + 1) % 4}
    assert run_method("mix-RG", wrong, FS_CFG, SCE, seed=0)["metrics"]["acc1"] < acc["mix-RG"] - 10
    assert run_method("mix-B", data, FS_CFG, SCE, seed=0)["details"]["n_syn"] == 64


def test_run_method_names_an_unknown_method():
    from synrec.few_shot_methods import run_method

    with pytest.raises(ValueError, match="unknown few-shot method 'ct-init2'"):
        run_method("ct-init2", _world(), FS_CFG, SCE)


def test_tip_adapter_search_grid_is_the_released_codes():
    from synrec.tip_adapter import search_grid

    alphas, betas = search_grid([12, 10], [200, 20])  # EuroSAT's search_scale, the released search_step
    assert len(betas) == 200 and len(alphas) == 20
    assert betas[0] == alphas[0] == 0.1 and betas[1] == pytest.approx(0.1 + 11.9 / 200)
    assert alphas[-1] == pytest.approx(19 * 9.9 / 20 + 0.1) and max(betas) < 12


def test_tip_adapter_f_trains_on_the_views_then_searches_alpha_beta_with_the_tuned_keys():
    from synrec.few_shot_methods import run_method
    from synrec.tip_adapter import cache_keys, one_hot

    data = _world()
    rng = np.random.default_rng(5)
    views = np.stack([data["shot_x"] + rng.normal(0, 0.3, data["shot_x"].shape) for _ in range(3)])
    data = {**data, "shot_views": views, "dataset": "eurosat"}
    keys = cache_keys(views)  # each view normalised, averaged, normalised
    expected = F.normalize(F.normalize(torch.as_tensor(views, dtype=torch.float32), dim=-1).mean(0), dim=-1)
    torch.testing.assert_close(keys, expected)
    cfg = {**FS_CFG, "tip_adapter": {**FS_CFG["tip_adapter"], "init_alpha": 2.0, "init_beta": 3.0,
                                     "datasets": {"eurosat": {"epochs": 7}}}}
    out = run_method("tip-f", data, cfg, SCE, seed=0)
    assert out["details"]["augment_passes"] == 3 and out["details"]["epochs"] == 7  # the dataset's own epochs
    # the search ran after training, on the tuned keys: the same pair as searching those keys directly
    tuned = train_tip_adapter_f(views, data["shot_y"], data["class_emb"], 2.0, 3.0, 7, 0.01, seed=0)
    t = cfg["tip_adapter"]
    want = search_alpha_beta(data["val_x"], data["val_y"], data["class_emb"], tuned, one_hot(data["shot_y"], 4),
                             t["alphas"], t["betas"])
    assert (out["details"]["alpha"], out["details"]["beta"]) == want
    assert not torch.allclose(tuned, keys, atol=1e-3)  # the views' gradients move the keys


def test_augmented_views_are_seeded_per_pass_and_image(tiny_models, shapes_cfg, tmp_path):
    from torchvision import transforms as T

    from synrec.features import encode_views, train_augmentation
    from synrec.models import load_clip

    demo_data.write_coop_split(tmp_path / "ds", SHAPES, {"train": 3, "test": 1}, "s.json")
    cfg = {**shapes_cfg, "root": "ds", "split_file": "s.json", "images": "images"}
    train = load_split(cfg, tmp_path, "train")
    model, preprocess, _ = load_clip({"model": f"local-dir:{tiny_models['clip_rn']}"})
    augment = train_augmentation(preprocess)
    crop = augment.transforms[0]
    assert isinstance(crop, T.RandomResizedCrop) and crop.scale == (0.5, 1.0)
    a = encode_views(model, augment, train, [0, 4, 7], passes=2, seed=0, device="cpu", batch_size=2, progress=False)
    b = encode_views(model, augment, train, [0, 4, 7], passes=2, seed=0, device="cpu", batch_size=3, progress=False)
    assert a.shape[:2] == (2, 3)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # the batch does not change a view (rounding aside)
    assert not np.allclose(a[0], a[1])  # two passes, two crops
    c = encode_views(model, augment, train, [4], passes=2, seed=0, device="cpu", progress=False)
    np.testing.assert_allclose(c[:, 0], a[:, 1], rtol=1e-5, atol=1e-6)  # an image's views do not depend on others


# ---- Tip-Adapter's alpha/beta: one affinity for search and test, searched on val only ----

def _released_tip_logits(f, emb, keys, values, a, b, scale=100.0):
    """Tip-Adapter's logits written out as the released code computes them: normalised features, the keys as they
    are (the -F adapter is a linear layer whose weights are the tuned keys)."""
    f = F.normalize(torch.as_tensor(f, dtype=torch.float32), dim=-1)
    return scale * f @ F.normalize(emb, dim=-1).T + a * torch.exp(-b * (1 - f @ keys.T)) @ values


def _best_pair(f, y, emb, keys, values, alphas, betas):
    acc = {(a, b): accuracy(_released_tip_logits(f, emb, keys, values, a, b), y) for a in alphas for b in betas}
    return next(ab for ab in ((a, b) for a in alphas for b in betas) if acc[ab] == max(acc.values()))


def _unnormalised_keys_world():
    """A 4-class world with tuned keys whose norms are far from 1 (as Tip-Adapter-F's can drift), where searching
    with re-normalised keys would pick another (alpha, beta) than searching with the keys as they are."""
    data = _world(seed=2)
    g = torch.Generator().manual_seed(11)
    x = F.normalize(torch.as_tensor(data["shot_x"]), dim=-1)
    keys = x * torch.linspace(0.4, 2.5, len(x))[torch.randperm(len(x), generator=g)][:, None]
    return data, keys, one_hot(data["shot_y"], 4)


def test_tip_adapter_search_scores_the_keys_as_the_test_logits_use_them():
    data, keys, values = _unnormalised_keys_world()
    alphas, betas = FS_CFG["tip_adapter"]["alphas"], FS_CFG["tip_adapter"]["betas"]
    emb, vx, vy = data["class_emb"], data["val_x"], data["val_y"]
    as_given = _best_pair(vx, vy, emb, keys, values, alphas, betas)
    assert as_given != _best_pair(vx, vy, emb, F.normalize(keys, dim=-1), values, alphas, betas)  # the case bites
    assert search_alpha_beta(vx, vy, emb, keys, values, alphas, betas) == as_given
    torch.testing.assert_close(tip_logits(data["test_x"], emb, keys, values, *as_given),
                               _released_tip_logits(data["test_x"], emb, keys, values, *as_given))


def test_tip_adapter_f_tests_with_the_pair_searched_for_its_tuned_keys(monkeypatch):
    import synrec.few_shot_methods as fsm

    data, keys, values = _unnormalised_keys_world()
    monkeypatch.setattr(fsm, "train_tip_adapter_f", lambda *a, **k: keys)  # these are the "tuned" keys
    out = fsm.run_method("tip-f", data, FS_CFG, SCE, seed=0)
    t = FS_CFG["tip_adapter"]
    pair = _best_pair(data["val_x"], data["val_y"], data["class_emb"], keys, values, t["alphas"], t["betas"])
    assert (out["details"]["alpha"], out["details"]["beta"]) == pair
    want = accuracy(_released_tip_logits(data["test_x"], data["class_emb"], keys, values, *pair), data["test_y"])
    assert out["metrics"]["acc1"] == pytest.approx(want)


@pytest.mark.parametrize("method", ["tip", "tip-f"])
def test_tip_adapter_picks_the_validation_optimal_pair_not_the_test_optimal_one(method):
    """Shots of class i sit at class i+1's centre. On val, images of class i sit there too: the zero-shot head is
    wrong and the cache right (large alpha wins). On test, images sit at their own centre: the head is right and the
    cache wrong (alpha 0 wins). A search that saw the test set would choose alpha 0."""
    from synrec.few_shot_methods import run_method

    g = torch.Generator().manual_seed(0)
    centres = F.normalize(torch.randn(3, 16, generator=g), dim=-1)

    def near(idx):
        return (centres[idx] + 0.05 * torch.randn(len(idx), 16, generator=g)).numpy()

    y = torch.arange(3).repeat_interleave(4)
    data = {"shot_x": near((y + 1) % 3), "shot_y": y.numpy(), "val_x": near((y + 1) % 3), "val_y": y.numpy(),
            "test_x": near(y), "test_y": y.numpy(), "class_emb": centres, "logit_scale": 100.0}
    cfg = {**FS_CFG, "tip_adapter": {**FS_CFG["tip_adapter"], "alphas": [0.0, 1000.0], "betas": [5.0],
                                     "epochs": 2}}
    out = run_method(method, data, cfg, SCE, seed=0)
    assert out["details"]["alpha"] == 1000.0  # the val-optimal pair
    assert out["metrics"]["acc1"] < 50  # ... which is the wrong one on test, as it must be allowed to be


def test_run_method_runs_the_phases_in_the_order_its_name_says():
    """syn2real-RG: the synthetic phase (SCE) first, then the real shots (CE); real2syn-RG the other way round."""
    from synrec.few_shot_methods import run_method

    data = _world()
    cfg = {**FS_CFG, "ct_real": {**FS_CFG["ct_real"], "epochs": 2}, "mix": {**FS_CFG["mix"], "epochs": 3}}
    phases = {m: [h["phase"] for h in run_method(m, data, cfg, SCE, seed=0)["details"]["history"]]
              for m in ("syn2real-RG", "real2syn-RG")}
    assert phases == {"syn2real-RG": ["syn"] * 3 + ["real"] * 2, "real2syn-RG": ["real"] * 2 + ["syn"] * 3}


def test_mix_training_distils_from_the_frozen_zero_shot_head_on_the_synthetic_batch(monkeypatch):
    """The SCE teacher is the zero-shot head (fixed: the head the student starts from), applied to the synthetic
    batch, at every step; not the moving student, nor the real batch."""
    import synrec.mix_training as mt

    xr, yr = features(4, 0)
    xs, ys = features(6, 1)
    teacher_logits = ClassifierHead(FLAT, 100.0)(torch.as_tensor(xs)).detach()
    seen = []

    def spy(student, teacher, labels, weight, temperature):
        seen.append(teacher.detach().clone())
        return SCE_LOSS(student, teacher, labels, weight, temperature)

    SCE_LOSS = mt.sce_loss
    monkeypatch.setattr(mt, "sce_loss", spy)
    train_mix(xr, yr, xs, ys, FLAT, MIX, SCE, seed=0)
    assert len(seen) == 4 * 3  # every synthetic step
    for t in seen:  # each row is the frozen head's logits of one synthetic feature
        dist = torch.cdist(t, teacher_logits)
        assert float(dist.min(1).values.max()) < 1e-4
