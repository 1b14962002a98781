"""The scripts' wiring: each script run through a stand-in ``snakemake`` object, the library calls it makes
replaced by recorders, asserting what it hands the library (which rows of which store, in which order; which split;
which keep-list; which BN flag; which real shot each guided image starts from). Seconds, no model: a wrong label
order, a swapped flag or a wrong split in a script fails here, not only in the minutes-long workflow tests."""

import json
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import torch

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
CLASSNAMES = ["zebra", "apple", "mango"]  # label order is not name order: apple (1), mango (2), zebra (0)


class Files(dict):
    """What Snakemake hands a script as ``input``/``output``/``params``: names as attributes, ``keys()``, ``get``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self):
        return iter(self.values())

    def __getitem__(self, key):
        return list(self.values())[key] if isinstance(key, int) else super().__getitem__(key)


def run_script(name, monkeypatch, tmp_path, *, input, params, wildcards, output=None):
    config = {"models": {"clip": {}, "text_to_image": {}, "word_to_sentence": {}}, "seed": 0, "generation": {},
              "features": {"batch_size": 8, "num_workers": 0}}
    sm = SimpleNamespace(input=Files(input), output=Files(output or {"out": str(tmp_path / "out.json")}),
                         params=Files(params), wildcards=SimpleNamespace(**wildcards), threads=1,
                         log=[str(tmp_path / "job.log")], config=config)
    monkeypatch.syspath_prepend(str(SCRIPTS))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # _synrec_path sets its own: restored after the test
    runpy.run_path(str(SCRIPTS / name), init_globals={"snakemake": sm}, run_name="__main__")
    return sm


def _head(tmp_path):
    path = tmp_path / "head.pt"
    torch.save({"class_emb": torch.eye(3), "logit_scale": 100.0, "classnames": CLASSNAMES}, path)
    return str(path)


def test_few_shot_train_hands_the_method_the_shots_the_val_images_and_the_kept_synthetic_rows_in_name_order(
        monkeypatch, tmp_path):
    import synrec.few_shot_methods as methods
    import synrec.manifest as manifest

    rng = np.random.default_rng(0)
    stores = {name: (rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)) for name, n in
              (("train.h5", 12), ("val.h5", 9), ("test.h5", 6), ("syn.h5", 10))}
    monkeypatch.setattr(manifest, "read_checked", lambda path, *a, **k: (*stores[Path(path).name], {}))
    monkeypatch.setattr(manifest, "check_head", lambda head, *a: head)
    split = {"train": [7, 2, 5], "val": [8, 0, 4]}
    monkeypatch.setattr(manifest, "check_shots", lambda s, *a: s)
    (tmp_path / "split.json").write_text(json.dumps(split))
    keep, rf = np.array([0, 3, 4, 6, 9]), np.array([1, 3, 8])
    for name, rows in (("cf.h5", keep), ("rf.h5", rf)):
        with h5py.File(tmp_path / name, "w") as f:
            f["keep"] = rows
    seen = {}

    def fake_run_method(method, data, few_shot, sce, seed, device):
        seen.update(method=method, data=data)
        return {"metrics": {"acc1": 50.0}, "details": {}}

    monkeypatch.setattr(methods, "run_method", fake_run_method)
    inputs = {name.split(".")[0]: str(tmp_path / name) for name in stores} | {
        "split": str(tmp_path / "split.json"), "head": _head(tmp_path), "model_manifest": "m", "train_manifest": "t",
        "test_manifest": "u", "val_manifest": "v", "images": "images.h5"}
    for keep_files, rows in (({"keep": str(tmp_path / "cf.h5")}, keep),
                             ({"keep": str(tmp_path / "cf.h5"), "rf": str(tmp_path / "rf.h5")}, rf)):
        files = inputs | keep_files
        monkeypatch.setattr("synrec.stores.safety_counts", lambda p: {})
        run_script("few_shot_train.py", monkeypatch, tmp_path, input=files,
                   params={"few_shot": {}, "sce": {}, "seed": 0, "device": "cpu"},
                   wildcards={"dataset": "d", "backbone": "RN50", "shots": "1", "fseed": "1", "method": "mix-RF"})
        d = seen["data"]
        assert seen["method"] == "mix-RF"
        np.testing.assert_array_equal(d["shot_x"], stores["train.h5"][0][split["train"]])  # the shots, in order
        np.testing.assert_array_equal(d["shot_y"], stores["train.h5"][1][split["train"]])
        np.testing.assert_array_equal(d["val_x"], stores["val.h5"][0][split["val"]])  # from the val store
        np.testing.assert_array_equal(d["test_y"], stores["test.h5"][1])
        sx, sy = stores["syn.h5"][0][rows], stores["syn.h5"][1][rows]  # RF's keep-list over CF's where both exist
        order = np.argsort([CLASSNAMES[y] for y in sy], kind="stable")  # class-name order, stable within a class
        np.testing.assert_array_equal(d["syn_x"], sx[order])
        np.testing.assert_array_equal(d["syn_y"], sy[order])


@pytest.mark.parametrize("bn", ["bn-frozen", "bn-train"])
def test_frozen_bn_hands_the_tuning_its_bn_flag_the_shots_of_the_train_split_and_tests_on_the_test_split(
        monkeypatch, tmp_path, bn):
    import synrec.datasets as datasets
    import synrec.frozen_bn as frozen_bn
    import synrec.image_ct as image_ct
    import synrec.manifest as manifest
    import synrec.models as models

    monkeypatch.setattr(models, "load_clip", lambda spec, device: (SimpleNamespace(visual=None), None, None))
    monkeypatch.setattr(frozen_bn, "require_bn", lambda visual: None)
    monkeypatch.setattr(frozen_bn, "bn_layers", lambda visual: [])
    monkeypatch.setattr(manifest, "check_head", lambda head, *a: head)
    monkeypatch.setattr(manifest, "check_shots", lambda s, *a: s)
    loaded = []
    monkeypatch.setattr(datasets, "load_split", lambda cfg, root, split: loaded.append(split) or SimpleNamespace(
        split=split, fingerprint=lambda: "fp"))
    seen = {}

    def fake_train(model, preprocess, source, indices, class_emb, tuning, loss, sce, freeze_bn, **kw):
        seen.update(source=source.split, indices=list(indices), freeze_bn=freeze_bn, loss=loss)
        return torch.eye(3), []

    monkeypatch.setattr(image_ct, "train_image_ct", fake_train)
    monkeypatch.setattr(image_ct, "evaluate_images", lambda model, pre, test, *a: seen.update(test=test.split) or {
        "acc1": 50.0})
    (tmp_path / "split.json").write_text(json.dumps({"train": [6, 1, 3], "val": [0]}))
    run_script("frozen_bn.py", monkeypatch, tmp_path,
               input={"head": _head(tmp_path), "model": "m", "split": str(tmp_path / "split.json"),
                      "train_manifest": "t"},
               params={"dataset": {"classnames": CLASSNAMES, "test_split": "test"}, "data_root": str(tmp_path),
                       "train_split": "train", "tuning": {"loss": "CE", "epochs": 1}, "sce": {}, "seed": 0,
                       "device": "cpu", "model": {}, "synthetic": "LE+CF"},
               wildcards={"dataset": "d", "backbone": "RN50", "shots": "4", "fseed": "1", "tdata": "real", "bn": bn})
    assert seen == {"source": "train", "indices": [6, 1, 3], "freeze_bn": bn == "bn-frozen", "loss": "CE",
                    "test": "test"}
    assert json.loads((tmp_path / "out.json").read_text())["variant"] == f"real-{bn}"


def test_real_guidance_starts_each_image_from_a_shot_of_its_own_class(monkeypatch, tmp_path):
    import synrec.datasets as datasets
    import synrec.generation as generation
    import synrec.manifest as manifest
    import synrec.models as models
    import synrec.real_guidance as rg

    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    train = SimpleNamespace(labels=labels, fingerprint=lambda: "fp", image=lambda i: ("image", int(i)))
    monkeypatch.setattr(datasets, "load_split", lambda *a: train)
    monkeypatch.setattr(manifest, "check_shots", lambda s, *a: s)
    split = {"train": [3, 4, 8, 9, 1]}  # class 0: 3, 9; class 1: 4, 1; class 2: 8
    (tmp_path / "split.json").write_text(json.dumps(split))
    (tmp_path / "prompts.json").write_text(json.dumps({"prompts": [[f"a photo of {c}"] for c in CLASSNAMES]}))
    scheduler = SimpleNamespace(alphas_cumprod=torch.linspace(0.99, 0.01, 1000))
    monkeypatch.setattr(models, "load_text_to_image", lambda *a, **k: SimpleNamespace(scheduler=scheduler))
    monkeypatch.setattr(generation, "apply_speed_settings", lambda pipe, gen: pipe)
    monkeypatch.setattr(rg, "start_timestep", lambda *a: 500)
    monkeypatch.setattr(rg, "GuidedPipeline", lambda pipe, strength: pipe)
    monkeypatch.setattr(rg, "fit_reference", lambda image, w, h: image)
    seen = {}
    monkeypatch.setattr(generation, "generate_shard", lambda pipe, plan, out, gen, attrs, reference: seen.update(
        starts=[(item, reference(item)) for item in plan]))
    run_script("real_guidance.py", monkeypatch, tmp_path,
               input={"prompts": str(tmp_path / "prompts.json"), "split": str(tmp_path / "split.json"),
                      "train_manifest": "t"},
               params={"dataset": {"name": "d", "classnames": CLASSNAMES}, "data_root": str(tmp_path),
                       "train_split": "train", "seed": 0, "device": "cpu", "model": {"model": "m"},
                       "real_guidance": {"images_per_class": 4, "classes_per_job": 3, "strength": 0.5,
                                         "refer_iters": None},
                       "generation": {"num_inference_steps": 10, "width": 8, "height": 8}},
               wildcards={"dataset": "d", "shots": "2", "fseed": "1", "chunk": "0"},
               output={"shard": str(tmp_path / "shard.h5")})
    shots = {0: {3, 9}, 1: {4, 1}, 2: {8}}
    assert len(seen["starts"]) == 3 * 4
    for item, (_, index) in seen["starts"]:
        assert index in shots[int(labels[index])] and index in shots[item[0]], (item, index)  # its own class's shot
    assert {index for _, (_, index) in seen["starts"]} == {3, 9, 4, 1, 8}  # every shot is used


@pytest.mark.parametrize("loss", ["CE", "SCE"])
def test_classifier_tuning_trains_on_the_kept_rows_in_name_order_with_its_loss_and_tests_on_the_test_store(
        monkeypatch, tmp_path, loss):
    import synrec.classifier_tuning as ct
    import synrec.manifest as manifest
    import synrec.results as results

    rng = np.random.default_rng(1)
    stores = {"syn.h5": (rng.normal(size=(9, 4)).astype(np.float32), np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]),
                         {"images": "fp-syn"}),
              "test.h5": (rng.normal(size=(5, 4)).astype(np.float32), np.array([2, 1, 0, 1, 2]), {})}
    monkeypatch.setattr(manifest, "read_checked", lambda path, *a, **k: stores[Path(path).name])
    monkeypatch.setattr(manifest, "check_head", lambda head, *a: head | {"model": "m"})
    monkeypatch.setattr(results, "check_same_model", lambda *a: None)
    monkeypatch.setattr("synrec.stores.safety_counts", lambda p: {})
    keep = np.array([8, 0, 4, 5, 2])
    with h5py.File(tmp_path / "cf.h5", "w") as f:
        f["keep"] = keep
        f.attrs["images"] = "fp-syn"
    seen = {}

    def fake_train(x, y, class_emb, cfg, loss_name, sce, seed, device, logit_scale):
        seen.update(x=x, y=y, loss=loss_name)
        return torch.eye(3), []

    monkeypatch.setattr(ct, "train_ct", fake_train)
    monkeypatch.setattr(ct, "evaluate", lambda head, xt, yt: seen.update(test_y=yt) or {"acc1": 50.0, "n": len(yt)})
    run_script("classifier_tuning.py", monkeypatch, tmp_path,
               input={"train": "syn.h5", "test": "test.h5", "head": _head(tmp_path), "model_manifest": "m",
                      "test_manifest": "t", "images": "images.h5", "keep": str(tmp_path / "cf.h5")},
               params={"ct": {}, "sce": {}, "seed": 0, "device": "cpu"},
               wildcards={"dataset": "d", "backbone": "RN50", "data": "LE+CF", "loss": loss})
    x, y = stores["syn.h5"][0][keep], stores["syn.h5"][1][keep]
    order = np.argsort([CLASSNAMES[v] for v in y], kind="stable")
    np.testing.assert_array_equal(seen["x"], x[order])
    np.testing.assert_array_equal(seen["y"], y[order])
    assert seen["loss"] == loss
    np.testing.assert_array_equal(seen["test_y"], stores["test.h5"][1])
    assert json.loads((tmp_path / "out.json").read_text())["variant"] == f"LE+CF-{loss}"


def _disef_train(monkeypatch, tmp_path):
    import synrec.datasets as datasets
    import synrec.manifest as manifest

    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    train = SimpleNamespace(labels=labels, fingerprint=lambda: "fp", image=lambda i: ("image", int(i)))
    monkeypatch.setattr(datasets, "load_split", lambda *a: train)
    monkeypatch.setattr(manifest, "check_shots", lambda s, *a: s)
    (tmp_path / "split.json").write_text(json.dumps({"train": [3, 4, 8, 9, 1]}))  # 0: 3, 9; 1: 4, 1; 2: 8
    return labels


def test_captions_key_each_caption_to_its_shot_and_name_that_shots_class(monkeypatch, tmp_path):
    import synrec.captioning as captioning
    import synrec.manifest as manifest

    _disef_train(monkeypatch, tmp_path)
    monkeypatch.setattr(captioning, "load_captioner", lambda spec, device: (None, None))
    monkeypatch.setattr(manifest, "identity", lambda path: {"model": "cap"})
    monkeypatch.setattr(captioning, "caption_images", lambda p, m, images, names, cfg: [
        f"caption of {image[1]} as {name}" for image, name in zip(images, names)])
    run_script("captions.py", monkeypatch, tmp_path,
               input={"split": str(tmp_path / "split.json"), "train_manifest": "t", "model": "m"},
               params={"dataset": {"classnames": CLASSNAMES}, "data_root": str(tmp_path), "train_split": "train",
                       "captioning": {}, "model": {"model": "cap"}, "device": "cpu"},
               wildcards={"dataset": "d", "shots": "2", "fseed": "1"})
    out = json.loads((tmp_path / "out.json").read_text())
    names = {3: "zebra", 9: "zebra", 4: "apple", 1: "apple", 8: "mango"}
    assert out["captions"] == {str(i): f"caption of {i} as {n}" for i, n in names.items()}
    assert out["classes"] == {str(i): n for i, n in names.items()} and out["train_fingerprint"] == "fp"


def test_disef_generate_starts_each_image_from_a_shot_of_its_class_prompted_with_that_shots_caption(
        monkeypatch, tmp_path):
    import synrec.generation as generation
    import synrec.models as models
    import synrec.real_guidance as rg

    labels = _disef_train(monkeypatch, tmp_path)
    captions = {i: f"a view number {i}" for i in (3, 4, 8, 9, 1)}
    (tmp_path / "captions.json").write_text(json.dumps({"captions": {str(k): v for k, v in captions.items()}}))
    monkeypatch.setattr(models, "load_text_to_image", lambda *a, **k: SimpleNamespace(scheduler=None))
    monkeypatch.setattr(generation, "apply_speed_settings", lambda pipe, gen: pipe)
    monkeypatch.setattr(rg, "start_timestep", lambda *a: 700)
    monkeypatch.setattr(rg, "GuidedPipeline", lambda pipe, strength: ("guided", strength))
    monkeypatch.setattr(rg, "fit_reference", lambda image, w, h: image)
    seen = {}
    monkeypatch.setattr(generation, "generate_shard", lambda pipe, plan, out, gen, attrs, reference: seen.update(
        pipe=pipe, attrs=attrs, starts=[(item, reference(item)) for item in plan]))
    params = {"dataset": {"name": "d", "classnames": CLASSNAMES}, "data_root": str(tmp_path), "train_split": "train",
              "seed": 0, "device": "cpu", "model": {"model": "m"}, "captioner": {"model": "cap"},
              "disef": {"images_per_class": 4, "classes_per_job": 3, "strength": 0.75, "prompt": "{caption}"},
              "generation": {"num_inference_steps": 10, "width": 8, "height": 8, "guidance_scale": 8.0}}
    files = {"split": str(tmp_path / "split.json"), "captions": str(tmp_path / "captions.json"), "train_manifest": "t"}
    run_script("disef_generate.py", monkeypatch, tmp_path, input=files, params=params,
               wildcards={"dataset": "d", "shots": "2", "fseed": "1", "chunk": "0"},
               output={"shard": str(tmp_path / "shard.h5")})
    assert seen["pipe"] == ("guided", 0.75) and seen["attrs"]["captioner"] == "cap"
    shots = {0: [3, 9], 1: [4, 1], 2: [8]}
    assert len(seen["starts"]) == 3 * 4
    for (label, i, prompt, _, _), (_, index) in seen["starts"]:
        assert index == shots[label][i % len(shots[label])] and labels[index] == label
        assert prompt == f"{CLASSNAMES[label]}, {captions[index]}"  # its own shot's caption, the class name in front
    (tmp_path / "captions.json").write_text(json.dumps({"captions": {"3": "x"}}))  # captions of other shots
    with pytest.raises(SystemExit):  # rule_log: a one-line error, in the job's log
        run_script("disef_generate.py", monkeypatch, tmp_path, input=files, params=params,
                   wildcards={"dataset": "d", "shots": "2", "fseed": "1", "chunk": "0"},
                   output={"shard": str(tmp_path / "shard.h5")})
    assert "are not of the shots of" in (tmp_path / "job.log").read_text()


@pytest.mark.parametrize("enabled", [True, False])
def test_disef_filter_keeps_the_rows_zero_shot_clip_gives_their_own_class(monkeypatch, tmp_path, enabled):
    import synrec.manifest as manifest

    feats = np.array([[1, 0, 0], [0, 1, 0], [0, 0.2, 1], [0.9, 0.1, 0], [0, 0, 1]], dtype=np.float32)
    labels = np.array([0, 2, 2, 1, 2])
    monkeypatch.setattr(manifest, "read_checked", lambda path, *a, **k: (feats, labels, {"images": "fp"}))
    monkeypatch.setattr(manifest, "check_head", lambda head, *a: head)
    run_script("disef_filter.py", monkeypatch, tmp_path,
               input={"features": "f", "images": "i", "head": _head(tmp_path), "model_manifest": "m"},
               params={"enabled": enabled}, wildcards={"dataset": "d", "shots": "1", "fseed": "1"},
               output={"keep": str(tmp_path / "keep.h5")})
    with h5py.File(tmp_path / "keep.h5") as f:
        assert f["keep"][:].tolist() == ([0, 2, 4] if enabled else [0, 1, 2, 3, 4])
