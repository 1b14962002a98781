
import numpy as np
import pytest
from conftest import SHAPES, dataset_cfg, write_clip_benchmark_webdataset

from synrec import demo_data
from synrec.datasets import load_split
from synrec.errors import SynrecError

COUNTS = {"train": 3, "test": 2}


def test_coop_split_reads_labels_paths_and_images(tmp_path):
    demo_data.write_coop_split(tmp_path / "ds", SHAPES, COUNTS, "split_zhou_T.json", images="images")
    cfg = dataset_cfg("coop_split", images="images", split_file="split_zhou_T.json")
    split = load_split(cfg, tmp_path, "test")
    assert len(split) == 8 and split.labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    img = split.image(5)
    assert img.mode == "RGB" and img.size == (32, 32)
    train = load_split(cfg, tmp_path, "train")
    assert len(train) == 12 and train.fingerprint() != split.fingerprint()


def test_cifar10_and_cifar100_pickles(tmp_path):
    for variant in ("cifar10", "cifar100"):
        root = tmp_path / variant
        demo_data.write_cifar(root / "ds", SHAPES, {"train": 5, "test": 3}, variant=variant)
        cfg = dataset_cfg("cifar")
        test = load_split(cfg, root, "test")
        assert test.array.shape == (12, 32, 32, 3) and test.array.dtype == np.uint8
        assert test.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
        assert len(load_split(cfg, root, "train")) == 20
        # the image survives the (N, 3, 32, 32) -> HWC round trip: red circle is mostly red where drawn
        px = np.asarray(test.image(0)).reshape(-1, 3)
        assert (px[:, 0] > 150).sum() > 20


def test_imagefolder_sorted_folders_and_per_class_slice(tmp_path):
    demo_data.write_imagefolder(tmp_path / "ds", SHAPES, {"all": 5})
    folders = sorted(demo_data.folder_name(c) for c in SHAPES)  # blue_triangle, green_square, red_circle, yellow_cross
    cfg = dataset_cfg("imagefolder", classnames=[f.replace("_", " ") for f in folders],
                      splits={"train": "all", "test": "all"}, per_class_slice={"train": [0, 3], "test": [3, None]})
    assert load_split(cfg, tmp_path, "train").labels.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    test = load_split(cfg, tmp_path, "test")
    assert test.labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [p.name for p in test.paths[:2]] == sorted(p.name for p in (tmp_path / "ds/all/blue_triangle").iterdir())[3:]


def test_label_order_mismatch_is_an_error_not_a_shuffle(tmp_path):
    demo_data.write_coop_split(tmp_path / "ds", SHAPES, COUNTS, "s.json")
    swapped = [SHAPES[1], SHAPES[0], *SHAPES[2:]]
    cfg = dataset_cfg("coop_split", images="images", split_file="s.json", classnames=swapped)
    msg = r"label 0 is 'red circle' in .*s.json but 'green square' in t_coop_split.yaml"
    with pytest.raises(SynrecError, match=msg):
        load_split(cfg, tmp_path, "test")
    # disk_classnames lets display names differ from the dataset's spelling, the order still checked
    cfg = dataset_cfg("coop_split", images="images", split_file="s.json", classnames=["a", "b", "c", "d"],
                      disk_classnames=[s.upper() for s in SHAPES])
    assert len(load_split(cfg, tmp_path, "test")) == 8
    demo_data.write_cifar(tmp_path / "ds", SHAPES, COUNTS)
    with pytest.raises(SynrecError, match=r"label 0 is 'red circle' in .*batches.meta but 'green square'"):
        load_split(dataset_cfg("cifar", classnames=swapped), tmp_path, "test")


def test_class_count_mismatch(tmp_path):
    demo_data.write_imagefolder(tmp_path / "ds", SHAPES, COUNTS)
    cfg = dataset_cfg("imagefolder", classnames=["x", "y", "z"])
    with pytest.raises(SynrecError, match=r"has 4 classes but t_imagefolder.yaml lists 3"):
        load_split(cfg, tmp_path, "test")
    demo_data.write_coop_split(tmp_path / "ds", SHAPES, COUNTS, "s.json")
    cfg = dataset_cfg("coop_split", images="images", split_file="s.json", classnames=["x", "y", "z"],
                      check_names=False)
    with pytest.raises(SynrecError, match=r"has label 3 but t_coop_split.yaml lists only 3 classes"):
        load_split(cfg, tmp_path, "test")
    # more classes in the YAML than in the split file: a 5-way head on 4-class data
    cfg = dataset_cfg("coop_split", images="images", split_file="s.json", classnames=[*SHAPES, "yellow star"])
    with pytest.raises(SynrecError, match=r"s.json key 'test' has 4 classes but t_coop_split.yaml lists 5"):
        load_split(cfg, tmp_path, "test")


def test_names_compare_unicode_aware(tmp_path):
    names = ["日本", "中国", "Café", "naïve"]
    demo_data.write_coop_split(tmp_path / "ds", names, COUNTS, "s.json")
    swapped = ["中国", "日本", "Café", "naïve"]
    with pytest.raises(SynrecError, match="label 0 is '日本'"):
        load_split(dataset_cfg("coop_split", images="images", split_file="s.json", classnames=swapped), tmp_path,
                   "test")
    # case, accents and punctuation still do not matter
    same = ["日本", "中国", "cafe", "Naive"]
    assert len(load_split(dataset_cfg("coop_split", images="images", split_file="s.json", classnames=same),
                          tmp_path, "test")) == 8


def test_missing_dataset_folder_split_and_files(tmp_path):
    with pytest.raises(SynrecError, match=r"dataset 't_cifar': folder .*ds does not exist \(key 'root'"):
        load_split(dataset_cfg("cifar"), tmp_path, "test")
    (tmp_path / "ds").mkdir()
    with pytest.raises(SynrecError, match="neither batches.meta"):
        load_split(dataset_cfg("cifar"), tmp_path, "test")
    with pytest.raises(SynrecError, match=r"split file .*missing.json does not exist"):
        load_split(dataset_cfg("coop_split", split_file="missing.json"), tmp_path, "test")
    demo_data.write_coop_split(tmp_path / "ds", SHAPES, COUNTS, "s.json")
    with pytest.raises(SynrecError, match=r"has no key 'val'"):
        load_split(dataset_cfg("coop_split", images="images", split_file="s.json"), tmp_path, "val")


def test_corrupt_and_missing_images_name_the_file(tmp_path):
    demo_data.write_coop_split(tmp_path / "ds", SHAPES, COUNTS, "s.json")
    split = load_split(dataset_cfg("coop_split", images="images", split_file="s.json"), tmp_path, "test")
    split.paths[1].write_bytes(b"not a png at all")
    with pytest.raises(SynrecError, match=rf"image {split.paths[1]} is corrupt or not an image"):
        split.image(1)
    split.paths[2].unlink()
    with pytest.raises(SynrecError, match=rf"image {split.paths[2]} listed in .*s.json does not exist"):
        split.image(2)


def test_malformed_split_json(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "s.json").write_text("{\"test\": [[\"a.png\", 0]]}")
    with pytest.raises(SynrecError, match=r"expected \[path, label, classname\]"):
        load_split(dataset_cfg("coop_split", split_file="s.json"), tmp_path, "test")
    (tmp_path / "ds" / "s.json").write_text("{oops")
    with pytest.raises(SynrecError, match=r"s.json is not valid JSON"):
        load_split(dataset_cfg("coop_split", split_file="s.json"), tmp_path, "test")


def test_disk_classnames_reads_each_formats_own_spelling(tmp_path, capsys):
    from synrec.datasets import disk_classnames
    from synrec.datasets.cli import main

    demo_data.write_cifar(tmp_path / "ds", SHAPES, COUNTS, variant="cifar100")
    assert disk_classnames(dataset_cfg("cifar"), tmp_path) == SHAPES
    demo_data.write_coop_split(tmp_path / "ds", [s.title() for s in SHAPES], COUNTS, "s.json")
    assert disk_classnames(dataset_cfg("coop_split", split_file="s.json"), tmp_path) == [s.title() for s in SHAPES]
    demo_data.write_imagefolder(tmp_path / "ds", SHAPES, COUNTS)
    assert disk_classnames(dataset_cfg("imagefolder"), tmp_path) == sorted(s.replace(" ", "_") for s in SHAPES)
    # the command-line form prints a block to paste into the dataset's YAML
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    import yaml

    (cfg_dir / "t.yaml").write_text(yaml.safe_dump({k: v for k, v in dataset_cfg("imagefolder").items()
                                                    if k != "_path"} | {"name": "t"}))
    main(["t", "--config-dir", str(cfg_dir), "--data-root", str(tmp_path)])
    assert yaml.safe_load(capsys.readouterr().out) == {"disk_classnames": sorted(s.replace(" ", "_") for s in SHAPES)}


def test_stanford_cars_in_coops_spelling_reads_with_the_shipped_config(tmp_path):
    """CoOp's split_zhou_StanfordCars.json writes each name year first ('2000 AM General Hummer SUV'); the shipped
    cars.yaml reads it through its disk_classnames, and a swapped pair still stops with the file named."""
    import json
    from pathlib import Path

    from synrec.config import load_dataset_config

    cfg = load_dataset_config("cars", Path(__file__).resolve().parent.parent / "config" / "datasets")
    coop = [" ".join([n.split(" ")[-1], *n.split(" ")[:-1]]) for n in cfg["classnames"]]
    assert coop[0] == "2000 AM General Hummer SUV"
    root = tmp_path / "stanford_cars"
    root.mkdir()
    rows = [[f"cars_test/{i:05d}.jpg", i, name] for i, name in enumerate(coop)]
    (root / "split_zhou_StanfordCars.json").write_text(json.dumps({"train": rows, "val": rows, "test": rows}))
    split = load_split(cfg, tmp_path, "test")
    assert len(split) == 196 and split.labels.tolist() == list(range(196))
    rows[0][2], rows[1][2] = rows[1][2], rows[0][2]
    (root / "split_zhou_StanfordCars.json").write_text(json.dumps({"train": rows, "val": rows, "test": rows}))
    with pytest.raises(SynrecError, match="split_zhou_StanfordCars.json"):
        load_split(cfg, tmp_path, "test")


def test_food101s_official_test_list_reads_in_the_configs_class_order(tmp_path):
    """Food-101's meta/test.txt ('<class folder>/<image id>' lines, images/<folder>/<id>.jpg) as the zero-shot test set;
    CoOp's re-split stays the few-shot one."""
    from PIL import Image

    from synrec.datasets import ZEROSHOT_TEST

    root = tmp_path / "food"
    demo_data.write_coop_split(root, SHAPES, COUNTS, "s.json", images="images")
    lines = []
    for c in reversed(SHAPES):  # the list's order is not the label order
        folder = c.replace(" ", "_")
        (root / "images" / folder).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            Image.new("RGB", (8, 8)).save(root / "images" / folder / f"{100 + i}.jpg")
            lines.append(f"{folder}/{100 + i}")
    (root / "meta").mkdir()
    (root / "meta" / "test.txt").write_text("\n".join(lines) + "\n")
    spec = {"list": "meta/test.txt", "images": "images", "extension": ".jpg"}
    cfg = dataset_cfg("coop_split", root="food", images="images", split_file="s.json", zeroshot_test=spec)
    split = load_split(cfg, tmp_path, ZEROSHOT_TEST)
    assert len(split) == 12 and split.labels.tolist() == [3] * 3 + [2] * 3 + [1] * 3 + [0] * 3
    last = SHAPES[-1].replace(" ", "_")
    assert split.paths[0] == root / "images" / last / "100.jpg" and split.image(0).size == (8, 8)
    assert len(load_split(cfg, tmp_path, "test")) == 8  # CoOp's test split: 4 classes x 2
    no_list = dataset_cfg("coop_split", root="food", images="images", split_file="s.json")
    assert len(load_split(no_list, tmp_path, ZEROSHOT_TEST)) == 8  # without a list: the test split
    (root / "meta" / "test.txt").write_text("\n".join(lines + ["yellow_star/1"]) + "\n")
    with pytest.raises(SynrecError, match=r"test.txt line 13: class folder 'yellow_star' is not a class"):
        load_split(cfg, tmp_path, ZEROSHOT_TEST)
    (root / "meta" / "test.txt").write_text("\n".join(lines[:9]) + "\n")
    with pytest.raises(SynrecError, match=r"test.txt has 3 classes but t_coop_split.yaml lists 4"):
        load_split(cfg, tmp_path, ZEROSHOT_TEST)


def test_the_zero_shot_study_on_food101_uses_the_official_test_list(tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    from synrec import estimate

    cfg = estimate.snakemake_config([], REPO)
    override = estimate.empty_data_override(cfg, tmp_path, REPO, outputs_too=True)
    target = f"{tmp_path}/results/zeroshot/food101/RN50/LE+CF-SCE.json"
    out = subprocess.run([sys.executable, "-m", "snakemake", target, "-n", "--configfile", "config/config.yaml",
                          str(override)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:]
    assert "food101/features/RN50/zs-test.h5" in out.stdout and "food101/features/RN50/test.h5" not in out.stdout


@pytest.mark.parametrize("fmt", ["webp", "png"])
def test_webdataset_reads_clip_benchmark_shards_image_for_image(tmp_path, fmt):
    samples = write_clip_benchmark_webdataset(tmp_path / "ds", list(SHAPES), per_class=3, fmt=fmt)
    split = load_split(dataset_cfg("webdataset"), tmp_path, "test")
    assert split.labels.tolist() == [label for label, _ in samples] and len(split) == 12
    for i in (0, 4, 5, 11):  # across the three shards (5 + 5 + 2)
        assert np.array_equal(np.asarray(split.image(i)), samples[i][1])  # lossless: the very pixels
    fp = split.fingerprint()
    assert load_split(dataset_cfg("webdataset"), tmp_path, "test").fingerprint() == fp


def test_webdataset_label_order_class_count_and_shards_are_checked(tmp_path):
    write_clip_benchmark_webdataset(tmp_path / "ds", list(SHAPES)[::-1], per_class=1)
    with pytest.raises(SynrecError, match=r"label 0 is .* in .*classnames\.txt"):
        load_split(dataset_cfg("webdataset"), tmp_path, "test")
    other = tmp_path / "b"
    write_clip_benchmark_webdataset(other / "ds", list(SHAPES)[:3], per_class=1)
    with pytest.raises(SynrecError, match=r"classnames\.txt has 3 classes but .* lists 4"):
        load_split(dataset_cfg("webdataset"), other, "test")
    gone = tmp_path / "c"
    write_clip_benchmark_webdataset(gone / "ds", list(SHAPES), per_class=3)
    (gone / "ds/test/1.tar").unlink()
    with pytest.raises(SynrecError, match=r"shard .*1\.tar does not exist .*says 3 shards"):
        load_split(dataset_cfg("webdataset"), gone, "test")
    globbed = tmp_path / "d"  # without nshards.txt the shards are taken in numeric order
    samples = write_clip_benchmark_webdataset(globbed / "ds", list(SHAPES), per_class=3, per_shard=1,
                                               nshards_file=False)
    split = load_split(dataset_cfg("webdataset"), globbed, "test")
    assert split.labels.tolist() == [label for label, _ in samples]  # 10.tar after 9.tar


def test_check_says_which_datasets_are_present_complete_and_readable(tmp_path, capsys):
    import yaml

    from synrec.datasets import check_dataset, splits_in_use
    from synrec.datasets.cli import main

    demo_data.write_coop_split(tmp_path / "ds", SHAPES, COUNTS, "s.json", images="images")
    cfg = dataset_cfg("coop_split", images="images", split_file="s.json")
    assert check_dataset(cfg, tmp_path, ["test", "train"]) == {
        "status": "ok", "counts": {"test": 8, "train": 12}, "problems": []}
    # the YAML's published counts: equal is ok; a split that reads but holds fewer images is incomplete
    assert check_dataset(cfg | {"counts": {"test": 8, "train": 12}}, tmp_path, ["test", "train"])["status"] == "ok"
    res = check_dataset(cfg | {"counts": {"test": 9}}, tmp_path, ["test", "train"])
    assert res == {"status": "incomplete", "counts": {"test": 8, "train": 12}, "problems": [
        "test: 8 images, but key 'counts' of t_coop_split.yaml says 9 (a partial download or extraction; a "
        "deliberate subset: drop the split from 'counts')"]}
    split = load_split(cfg, tmp_path, "test")
    split.paths[3].write_bytes(b"not an image")  # the 4th of 8 test images: among the 8 sampled
    res = check_dataset(cfg, tmp_path, ["test", "train"])
    assert res["status"] == "unreadable" and "is corrupt or not an image" in res["problems"][0]
    split.paths[5].unlink()
    res = check_dataset(cfg, tmp_path, ["test"])
    assert res["status"] == "incomplete" and res["problems"] == [
        f"test: 1 of 8 listed images do not exist, e.g. {split.paths[5]}"]
    assert check_dataset(cfg, tmp_path / "elsewhere", ["test"])["status"] == "missing"
    # the splits the configured studies read: test for zero-shot; train (and val) where few-shot uses the dataset
    wf = {"few_shot": {"datasets": ["t_coop_split"], "train_split": "train", "val_split": "val"},
          "table4": {"dataset": "other"}}
    assert splits_in_use(cfg, wf) == ["test", "train", "val"]
    assert splits_in_use(cfg, {**wf, "few_shot": {**wf["few_shot"], "datasets": []}}) == ["test"]
    # the command line: one line per dataset and problem, exit status 1 when any is not ok
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    for name in ("t", "gone"):
        (cfg_dir / f"{name}.yaml").write_text(yaml.safe_dump(
            {k: v for k, v in cfg.items() if k != "_path"} | {"name": name, "root": "ds" if name == "t" else "x"}))
    assert main(["--check", "t", "gone", "--config-dir", str(cfg_dir), "--data-root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "t                INCOMPLETE  " in out and "gone             MISSING" in out
    assert "0 of 2 datasets present, complete and readable" in out


def test_the_readers_do_not_import_the_downloader():
    """synrec.datasets (readers, checks) -> nothing of synrec.prepare; the --check CLI asks prepare how to fetch."""
    import subprocess
    import sys

    code = ("import sys, synrec.datasets; assert 'synrec.prepare' not in sys.modules, 'readers import prepare'; "
            "import synrec.datasets.cli; assert 'synrec.prepare' in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
