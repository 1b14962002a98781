"""Sec. 3.3: the sharded pre-training store, backbone weight loading, MoCo v2 / supervised pre-training that resumes
after a kill, data-parallel training on two CPU processes, and the Tables 8-11 layout."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from synrec.config import load_class_list
from synrec.errors import SynrecError
from synrec.pretrain import backbone_state, build, create, load_backbone
from synrec.pretrain_data import ShardedImages, block_range, blocks, per_class, plan_block
from synrec.stores import ShardWriter
from synrec.tables import pretraining_rows

REPO = Path(__file__).resolve().parent.parent


def _colour(label, i):
    return np.full((8, 8, 3), (label * 40 % 256, i * 7 % 256, 99), np.uint8)


def _write_list(folder: Path, name: str, n_classes: int, per_class_max: int, cpj: int, ipj: int) -> list[Path]:
    """Shards as rule generate_pretrain lays them out, each image a flat colour encoding (label, index)."""
    prompts = [[f"{name} {c} sentence {s}" for s in range(3)] for c in range(n_classes)]
    out = []
    for b in blocks(n_classes, per_class_max, cpj, ipj):
        labels, start, stop = block_range(b, n_classes, per_class_max, cpj, ipj)
        plan = plan_block(name, labels, prompts, start, stop, 0, [f"{name} {c}" for c in range(n_classes)])
        w = ShardWriter(folder / name / f"{b}.h5", {"block": [start, stop], "dataset": name})
        w.append([_colour(lab, i) for lab, i, _, _ in plan], [p[0] for p in plan], [p[2] for p in plan],
                 [p[3] for p in plan])
        out.append(w.finish())
    return out


def test_blocks_cover_every_class_and_image_once_and_prompts_cycle():
    seen = []
    for b in blocks(5, 7, 2, 3):  # 3 class groups x 3 image blocks (3 + 3 + 1)
        labels, start, stop = block_range(b, 5, 7, 2, 3)
        seen += [(lab, i) for lab, i, _, _ in plan_block("x", labels, [["a", "b"]] * 5, start, stop, 0, list("vwxyz"))]
    assert sorted(seen) == [(c, i) for c in range(5) for i in range(7)]
    plan = plan_block("x", [0], [["a", "b", "c"]], 0, 7, 0, ["v"])
    assert [p[2] for p in plan] == ["a", "b", "c", "a", "b", "c", "a"]  # any prefix spreads over the sentences
    # per-image seed
    assert plan_block("x", [0], [["a"]], 3, 4, 0, ["v"])[0][3] == plan_block("x", [0], [["a"]], 0, 4, 0, ["v"])[3][3]
    assert per_class(4_000_000, 2000) == 2000
    with pytest.raises(SynrecError, match="cannot cover"):
        per_class(10, 100)


def test_sharded_store_reads_a_per_class_prefix_across_shards_and_class_lists(tmp_path):
    a = _write_list(tmp_path, "a", 3, 7, 2, 3)
    b = _write_list(tmp_path, "b", 2, 5, 1, 5)
    store = ShardedImages([(a, 0), (b, 3)], per_class=4, open_files=1)  # one open file at a time: LRU churn
    assert len(store) == 5 * 4 and np.bincount(store.labels).tolist() == [4] * 5
    got = sorted((int(store.labels[i]), int(np.asarray(store.image(i))[0, 0, 1]) // 7) for i in range(len(store)))
    assert got == [(c, i) for c in range(5) for i in range(4)]  # images 0..3 of every class, b's labels offset by 3
    for i in range(len(store)):  # the pixels say which class the image was generated for
        lab = int(store.labels[i]) - (3 if store.labels[i] >= 3 else 0)
        assert int(np.asarray(store.image(i))[0, 0, 0]) == lab * 40 % 256
    assert store.fingerprint() != ShardedImages([(a, 0), (b, 3)], per_class=3).fingerprint()
    with pytest.raises(SynrecError, match="class 3 has 5 images, 6 needed"):
        ShardedImages([(a, 0), (b, 3)], per_class=6)



def test_images_the_safety_checker_blanked_are_left_out_of_pretraining(tmp_path):
    rows = [(c, i) for c in range(2) for i in range(3)]
    w = ShardWriter(tmp_path / "s.h5", {"block": [0, 3], "dataset": "x"})
    w.append([_colour(c, i) for c, i in rows], [c for c, _ in rows], ["p"] * 6, list(range(6)),
             [int((c, i) == (1, 0)) for c, i in rows])
    store = ShardedImages([([w.finish()], 0)], per_class=3)
    assert np.bincount(store.labels).tolist() == [3, 2] and store.n_flagged_dropped == 1
    assert sorted(int(np.asarray(store.image(i))[0, 0, 1]) // 7 for i in range(3, 5)) == [1, 2]  # image 0 is out

def test_label_space_files_load_and_in2k_extra_is_a_thousand_new_names():
    extra = load_class_list("in21k_extra", REPO / "config/datasets", REPO / "config/label_spaces")
    import open_clip

    names = [c.lower() for c in extra["classnames"]]
    assert len(names) == 1000 and len(set(names)) == 1000
    assert not set(names) & {c.lower() for c in open_clip.IMAGENET_CLASSNAMES}
    assert load_class_list("cifar100", REPO / "config/datasets", REPO / "config/label_spaces")["title"] == "CIFAR-100"
    with pytest.raises(SynrecError, match="neither"):
        load_class_list("nope", REPO / "config/datasets", REPO / "config/label_spaces")


def test_backbone_weights_load_from_our_checkpoints_and_official_moco_layout(tmp_path):
    src = create("resnet10t", 7, seed=1)
    enc = backbone_state(src)
    assert not any(k.startswith("fc.") for k in enc)
    dst = create("resnet10t", 100, seed=2)
    fc_before = dst.fc.weight.clone()
    torch.save({"backbone": enc}, tmp_path / "ours.pt")
    load_backbone(dst, tmp_path / "ours.pt")
    assert all(torch.equal(dst.state_dict()[k], v) for k, v in enc.items())
    assert torch.equal(dst.fc.weight, fc_before)  # the new task's classifier keeps its fresh weights
    official = {"state_dict": {**{f"module.encoder_q.{k}": v for k, v in src.state_dict().items()},
                               **{f"module.encoder_k.{k}": torch.zeros_like(v) for k, v in src.state_dict().items()},
                               "module.queue": torch.zeros(4, 4)}}
    torch.save(official, tmp_path / "moco.pth.tar")
    again = create("resnet10t", 100, seed=3)
    load_backbone(again, tmp_path / "moco.pth.tar")
    assert all(torch.equal(again.state_dict()[k], v) for k, v in enc.items())  # query encoder, not key encoder
    # a MoCo backbone (no classifier) trained here loads the same way into a detector's or classifier's backbone
    moco, backbone = build("mocov2", "resnet10t", 0, {"dim": 8, "queue": 16, "m": 0.99, "temperature": 0.2}, 0,
                           init=str(tmp_path / "ours.pt"))
    assert all(torch.equal(backbone.state_dict()[k], v) for k, v in enc.items())
    with pytest.raises(SynrecError, match="encoder tensors missing"):
        load_backbone(create("resnet18", 10, 0), tmp_path / "ours.pt")
    with pytest.raises(SynrecError, match="no such file"):
        load_backbone(dst, tmp_path / "missing.pt")
    with pytest.raises(SynrecError, match="not a timm model name"):
        create("resnet5000", 10, 0)


KILLED = """
import os, signal, sys, numpy as np, torch
sys.path[:0] = [{repo!r}, {tests!r}]
from synrec.pretrain import build, dataset, _moco_loss
from synrec.training import train_loop
from test_frozen_bn import _split
torch.set_num_threads(1)
cfg = {cfg!r}
model, _ = build("mocov2", "resnet10t", 0, cfg, 0)
def on_step(step, loss):
    print(step, repr(loss), flush=True)
    if step == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
train_loop(model, dataset("mocov2", _split(8, 0, "train"), cfg, 0), _moco_loss, cfg, 0, progress=False,
           checkpoint={ckpt!r}, checkpoint_every=1, on_step=on_step)
"""

MOCO = {"epochs": 2, "batch_size": 8, "optimizer": "momentum", "lr": 0.03, "momentum": 0.9, "weight_decay": 1e-4,
        "warmup_epochs": 0, "image_size": 32, "dim": 16, "queue": 24, "m": 0.99, "temperature": 0.2}


def test_a_killed_moco_run_resumes_with_the_same_next_losses(tmp_path):
    """The queue (24 keys, 8 per step: it wraps), the key encoder and the optimiser all come back from the
    checkpoint: the resumed run's losses equal the uninterrupted run's."""
    from test_frozen_bn import _split

    from synrec.pretrain import _moco_loss, dataset
    from synrec.training import train_loop

    torch.set_num_threads(1)
    train = _split(8, 0, "train")  # 32 images: 4 steps an epoch, 8 in all
    ref = []
    model, _ = build("mocov2", "resnet10t", 0, MOCO, 0)
    train_loop(model, dataset("mocov2", train, MOCO, 0), _moco_loss, MOCO, 0, progress=False,
               on_step=lambda s, loss: ref.append(loss))
    ckpt = tmp_path / "moco.ckpt"
    tests = Path(__file__).parent
    code = KILLED.format(repo=str(REPO), tests=str(tests), cfg=MOCO, kill_at=6, ckpt=str(ckpt))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == -9, out.stderr[-2000:]
    before = [float(line.split()[1]) for line in out.stdout.splitlines()]
    assert before == pytest.approx(ref[:6], rel=1e-5)
    resumed = []
    model, _ = build("mocov2", "resnet10t", 0, MOCO, 0)
    train_loop(model, dataset("mocov2", train, MOCO, 0), _moco_loss, MOCO, 0, progress=False, checkpoint=ckpt,
               checkpoint_every=1, on_step=lambda s, loss: resumed.append((s, loss)))
    assert [s for s, _ in resumed] == [6, 7, 8]  # step 6 was never checkpointed: redone
    assert [loss for _, loss in resumed] == pytest.approx(ref[5:], rel=1e-5)


def _ddp_job(out: str, cfg: dict) -> None:
    """Trains a BN-free linear classifier (so data parallel must equal one process exactly) and MoCo's queue."""
    from test_frozen_bn import _split
    from torchvision.transforms import ToTensor

    from synrec.distributed import rank_and_world
    from synrec.features import LabelledImages
    from synrec.training import SeededAugment, train_loop

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 4))
    train = _split(8, 0, "train")
    data = SeededAugment(LabelledImages(train, ToTensor(), np.arange(len(train))), 0)
    steps = []
    train_loop(model, data, lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]), cfg, 0, progress=False,
               on_step=lambda s, loss: steps.append(loss))
    rank, world = rank_and_world()
    torch.save({"weights": model.state_dict(), "world": world, "steps": len(steps)}, f"{out}-{rank}.pt")


def test_two_data_parallel_processes_equal_one_process_with_the_whole_batch(tmp_path, monkeypatch):
    from synrec.distributed import launch

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # two gloo processes on CPU, also on a host with one GPU

    cfg = {"epochs": 2, "batch_size": 8, "optimizer": "momentum", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0,
           "warmup_epochs": 0}
    sys.path.insert(0, str(Path(__file__).parent))
    launch(_ddp_job, (str(tmp_path / "one"), cfg), nprocs=1)
    launch(_ddp_job, (str(tmp_path / "two"), cfg), nprocs=2)
    one = torch.load(tmp_path / "one-0.pt")
    r0, r1 = torch.load(tmp_path / "two-0.pt"), torch.load(tmp_path / "two-1.pt")
    assert (one["world"], r0["world"], r1["world"]) == (1, 2, 2)
    assert one["steps"] == r0["steps"] == 8  # 32 images, global batch 8: each rank takes 4 of every batch
    for k, v in one["weights"].items():
        assert torch.equal(r0["weights"][k], r1["weights"][k])  # the ranks stay in step
        assert torch.allclose(r0["weights"][k], v, atol=1e-5)  # averaged half-batch gradients = the whole batch's


def test_tables_8_to_11_have_the_papers_shape_with_dashes_for_absent_cells():
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    t10 = cfg["pretraining"]["tables"]["table10"]
    cells = [(r["data"], "0" if r["data"] == "none" else c, "in1k" if r.get("in1k") else "random")
             for r in t10["rows"] for c in r["columns"]]
    results = [{"metrics": {"ap50": 60 + i}} for i in range(len(cells))]
    header, rows = pretraining_rows({**t10, "rows": [{"in1k": False, **r} for r in t10["rows"]]}, cells, results)
    assert header == ["Data", "pre-trained on IN-1k?", "0", "1.2M", "2.4M", "4.0M"]
    assert [r[:2] for r in rows] == [["(None)", ""], ["IN-1K Syn", ""], ["IN-2K Syn", ""], ["(None)", "yes"],
                                      ["IN-1K Syn", "yes"], ["IN-2K Syn", "yes"]]
    assert rows[0][2:] == ["60.00", "-", "-", "-"] and rows[2][2:] == ["-", "-", "63.00", "64.00"]
    assert rows[5][2:] == ["-", "-", "67.00", "68.00"]
    results[0]["metrics"]["ap50_ci95"] = [55.5, 64.25]  # its interval over the test images, where kept
    assert pretraining_rows({**t10, "rows": [{"in1k": False, **r} for r in t10["rows"]]}, cells,
                            results)[1][0][2] == "60.00 [55.50, 64.25]"


@pytest.mark.parametrize("override, line", [
    ("{tables: {table8: {model: resnet18}}}",
     "pretraining.tables.table8 uses model 'resnet18': key 'pretraining.supervised.resnet18' (its training settings)"
     " is missing"),
    ("{tables: {table8: {rows: [{data: C200, columns: [S]}]}}}",
     "pretraining.tables.table8: data 'C200' is not a label space (['C100', 'IN-1K', 'IN-2K']) or none"),
    ("{tables: {table9: {rows: [{data: none, in1k: true, columns: [XL]}]}}}",
     "pretraining.tables.table9: column 'XL' must be in the table's columns and in pretraining.amounts"),
])
def test_a_table_that_needs_missing_config_is_one_line_before_any_job(tmp_path, override, line):
    (tmp_path / "bad.yaml").write_text(f"pretraining: {override}\n")
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "results/table8.csv", "--configfile",
                          "config/demo.yaml", str(tmp_path / "bad.yaml")], cwd=REPO, capture_output=True, text=True)
    assert out.returncode != 0
    assert [x for x in (out.stdout + out.stderr).splitlines() if x.startswith("synrec:")] == [
        f"synrec: workflow config: {line}"]


def test_deit_small_is_pretrained_with_deits_recipe():
    """DeiT's recipe (RandAugment, Mixup 0.8 / CutMix 1.0, label smoothing 0.1, random erasing 0.25, drop-path 0.1,
    repeated augmentation x3) is the paper config's default for deit_small_patch16_224, and each piece is wired."""
    from PIL import Image
    from torchvision.transforms import InterpolationMode

    from synrec.pretrain import dataset
    from synrec.training import MixupStep, classification_step, train_loop

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())["pretraining"]["supervised"]
    deit = cfg["deit_small_patch16_224"]
    assert {k: deit[k] for k in ("auto_augment", "re_prob", "mixup", "cutmix", "label_smoothing", "drop_path",
                                 "repeated_aug")} == {"auto_augment": "rand-m9-mstd0.5-inc1", "re_prob": 0.25,
                                                      "mixup": 0.8, "cutmix": 1.0, "label_smoothing": 0.1,
                                                      "drop_path": 0.1, "repeated_aug": 3}
    assert "mixup" not in cfg["resnet50"]  # the ResNet recipe stays plain

    recipe = {**deit, "epochs": 1, "batch_size": 6, "image_size": 32, "warmup_epochs": 0}
    kwargs = {"img_size": 32, "patch_size": 8, "depth": 2}
    model, _ = build("supervised", "vit_tiny_patch16_224", 4, recipe, 0, kwargs)
    rates = [getattr(b.drop_path1, "drop_prob", 0.0) for b in model.blocks]
    assert [round(float(r), 3) for r in rates] == [0.0, 0.1]  # timm's linear decay over the blocks

    class Source:  # 12 images, 4 classes
        labels = np.repeat(np.arange(4), 3)

        def __len__(self):
            return 12

        def image(self, i):
            return Image.fromarray(np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8))

    data = dataset("supervised", Source(), recipe, seed=0)
    assert len(data) == 36  # three views of each image
    steps = {type(t).__name__: t for t in data.data.data.preprocess.transforms}  # DeiT's bicubic, per-pixel noise
    assert steps["RandomResizedCropAndInterpolation"].interpolation == InterpolationMode.BICUBIC
    assert steps["RandomErasing"].mode == "pixel" and steps["RandomErasing"].probability == 0.25
    plain = dataset("supervised", Source(), {**recipe, "interpolation": None, "re_mode": None}, seed=0)
    steps = {type(t).__name__: t for t in plain.data.data.preprocess.transforms}  # unset: timm's defaults
    assert steps["RandomResizedCropAndInterpolation"].interpolation == InterpolationMode.BILINEAR
    assert steps["RandomErasing"].mode == "const"
    step = classification_step(recipe, 4)
    assert isinstance(step, MixupStep)
    seen = []

    def spy(module, batch):
        seen.append((batch[0].clone(), batch[1].clone()))
        return step(module, batch)

    train_loop(model, data, spy, {**recipe, "optimizer": "adamw"}, seed=0, progress=False)
    assert sum(len(y) for _, y in seen) == 12  # an epoch is as long as the image count
    for x, y in seen:  # each image's three views share the batch, each augmented differently
        assert (y.view(-1, 3) == y.view(-1, 3)[:, :1]).all()
        assert not torch.equal(x[0], x[1])
    x, y = seen[0]
    _, target = step.mix(x.clone(), y.clone())
    assert target.shape == (6, 4) and float(target.max()) < 1.0  # soft, smoothed targets


def test_more_local_processes_than_gpus_is_a_one_line_error_not_an_nccl_crash(monkeypatch):
    from synrec import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    ran = []
    with pytest.raises(SynrecError, match="2 local data-parallel processes asked for, but this job sees 1 GPU"):
        distributed._spawned(1, 2, ran.append, (1,), None)  # rank 1 would share cuda:0 with rank 0
    assert ran == []


def _where(out):  # module-level: a launched function may be pickled
    from synrec.distributed import device

    out.append(device())


def test_a_cpu_config_keeps_training_on_the_cpu_on_a_host_with_gpus(monkeypatch):
    """`device: cpu` (the demo's) must hold for the data-parallel rules too, not only where pick_device is called:
    before, pre-training and transfer took every GPU they saw whatever the config said."""
    from synrec import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    assert distributed.n_processes("cpu") == 1 and distributed.n_processes("auto") == 2
    assert distributed.n_processes("cuda:1") == 1  # the config names one GPU: one process, on it
    seen = []
    distributed.launch(_where, (seen,), nprocs=distributed.n_processes("cpu"), device="cpu")
    assert seen == [torch.device("cpu")] and chosen == []
    distributed.launch(_where, (seen,), nprocs=1, device="auto")  # one process on a GPU host: its first GPU
    distributed.launch(_where, (seen,), nprocs=1, device="cuda:1")
    assert seen[1:] == chosen == [torch.device("cuda", 0), torch.device("cuda", 1)]
    monkeypatch.setenv("RANK", "0")  # one torchrun task: the same choice
    monkeypatch.setenv("WORLD_SIZE", "1")
    distributed.launch(_where, (seen,), device="cpu")
    assert seen[-1] == torch.device("cpu")


def test_every_rule_whose_script_picks_a_device_takes_the_configs():
    """Each rule whose script chooses a device (pick_device, or the data-parallel launch) is given config['device']."""
    import re

    repo = Path(__file__).resolve().parent.parent
    choosers = {p.name for p in (repo / "scripts").glob("*.py")
                if re.search(r"pick_device\(|n_processes\(", p.read_text())}
    seen, missing = set(), []
    for smk in sorted((repo / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=(?:local)?rule \w+:)", smk.read_text()):
            m = re.search(r'"\.\./scripts/(\w+\.py)"', block)
            if m and m.group(1) in choosers:
                seen.add(m.group(1))
                if 'device=config["device"]' not in block:
                    missing.append(f"{smk.name}: {block.split(':')[0]}")
    assert seen == choosers and missing == []
