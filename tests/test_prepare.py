"""synrec.prepare offline: small archives in each source's published layout (the ones torchvision's dataset classes
download and unpack), taken with --from instead of the network, unpacked by torchvision and read back through our
readers. The published md5s cannot match made-up archives, so the checksum test runs them unpatched and the others
accept existing files."""

import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from synrec import demo_data, prepare
from synrec.config import load_dataset_config
from synrec.datasets import check_dataset
from synrec.errors import SynrecError

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "config" / "datasets"


def shipped(name: str) -> dict:
    """A shipped dataset YAML without its published image counts: the archives here hold a few images each."""
    cfg = load_dataset_config(name, CONFIGS)
    cfg.pop("counts", None)
    return cfg


@pytest.fixture
def offline(monkeypatch):
    """No network (a download attempt fails at once), and checksums that accept the made-up archives."""
    import torchvision.datasets.cifar as tv_cifar
    import torchvision.datasets.utils as tv_utils

    def no_network(url, filename, *args, **kwargs):
        raise OSError(f"no network in the tests ({url})")

    monkeypatch.setattr(tv_utils, "_urlretrieve", no_network)
    return lambda: [monkeypatch.setattr(m, "check_integrity", lambda fpath, md5=None: Path(fpath).is_file())
                    for m in (tv_utils, tv_cifar)]


def _cifar10_archive(tmp_path) -> Path:
    names = load_dataset_config("cifar10", CONFIGS)["classnames"]
    demo_data.write_cifar(tmp_path / "build" / "cifar-10-batches-py", names, {"train": 1, "test": 2})
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    with tarfile.open(src / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "build" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return src


def test_cifar10_from_local_archives_unpacks_into_the_layout_its_yaml_reads(tmp_path, offline):
    offline()
    src = _cifar10_archive(tmp_path)
    prepare.prepare("cifar10", tmp_path / "data", src)
    res = check_dataset(shipped("cifar10"), tmp_path / "data", ["test", "train"])
    assert res == {"status": "ok", "counts": {"test": 20, "train": 10}, "problems": []}
    # the shipped YAML's published counts (10,000 test images) tell this 20-image extraction from the real one
    res = check_dataset(load_dataset_config("cifar10", CONFIGS), tmp_path / "data", ["test"])
    assert res["status"] == "incomplete" and res["problems"] == [
        f"test: 20 images, but key 'counts' of {CONFIGS / 'cifar10.yaml'} says 10,000 (a partial download or "
        "extraction; a deliberate subset: drop the split from 'counts')"]


def test_a_published_checksum_that_does_not_match_is_a_one_line_error(tmp_path, offline):
    src = _cifar10_archive(tmp_path)  # made-up bytes: torchvision's md5 check refuses them and tries the network
    with pytest.raises(SynrecError, match=r"cifar10: torchvision's CIFAR10 could not fetch or verify it"):
        prepare.prepare("cifar10", tmp_path / "data", src)


def _coop_images(tmp_path, name: str, images: str) -> tuple[Path, dict]:
    cfg = shipped(name)
    build = tmp_path / "build" / name
    demo_data.write_coop_split(build, cfg.get("disk_classnames") or cfg["classnames"],
                               {"train": 1, "val": 1, "test": 1}, cfg["split_file"], images=images, size=16)
    return build, cfg


def test_eurosat_zip_and_coop_split_file_from_local_copies(tmp_path, offline):
    offline()
    build, cfg = _coop_images(tmp_path, "eurosat", "2750")
    src = tmp_path / "src"
    src.mkdir()
    with zipfile.ZipFile(src / "EuroSAT.zip", "w") as z:  # the archive holds 2750/<class>/<image>
        for p in sorted((build / "2750").rglob("*.png")):
            z.write(p, p.relative_to(build).as_posix())
    (src / cfg["split_file"]).write_bytes((build / cfg["split_file"]).read_bytes())
    prepare.prepare("eurosat", tmp_path / "data", src)
    res = check_dataset(cfg, tmp_path / "data", ["test", "train", "val"])
    assert res["status"] == "ok" and res["counts"] == {"test": 10, "train": 10, "val": 10}
    prepare.prepare("eurosat", tmp_path / "data", src)  # a rerun finds everything in place


def test_dtd_tarball_in_torchvisions_layout_is_shown_as_coops(tmp_path, offline):
    offline()
    build, cfg = _coop_images(tmp_path, "dtd", "images")
    src = tmp_path / "src"
    src.mkdir()
    files = sorted((build / "images").rglob("*.png"))
    labels = build / "train1.txt"
    labels.write_text("".join(f"{p.parent.name}/{p.name}\n" for p in files))
    with tarfile.open(src / "dtd-r1.0.1.tar.gz", "w:gz") as tar:  # dtd/images/<class>/..., dtd/labels/*.txt
        tar.add(build / "images", arcname="dtd/images")
        tar.add(labels, arcname="dtd/labels/train1.txt")
    (src / cfg["split_file"]).write_bytes((build / cfg["split_file"]).read_bytes())
    prepare.prepare("dtd", tmp_path / "data", src)
    assert (tmp_path / "data/dtd/dtd/images").is_dir()  # torchvision's own layout stays (a rerun finds it)
    res = check_dataset(cfg, tmp_path / "data", ["test", "train", "val"])
    assert res["status"] == "ok" and res["counts"] == {"test": 47, "train": 47, "val": 47}
    prepare.prepare("dtd", tmp_path / "data", src)


def test_datasets_without_a_recipe_say_where_to_get_them(tmp_path, capsys):
    with pytest.raises(SynrecError, match=r"birdsnap: no automatic recipe; get birdsnap.tgz \(Birdsnap v1.1 metadata"):
        prepare.prepare("birdsnap", tmp_path)
    assert prepare.main(["birdsnap", "--data-root", str(tmp_path)]) == 1
    assert "synrec: birdsnap: no automatic recipe" in capsys.readouterr().out
    # ImageNet's archives need a login: its recipe takes them from a folder
    with pytest.raises(SynrecError, match=r"^imagenet: get ILSVRC2012_devkit_t12.tar.gz, ILSVRC2012_img_val.tar and "
                                          r"ILSVRC2012_img_train.tar from image-net.org \(login\), then run "
                                          r"python -m synrec.prepare imagenet --from <their folder>$"):
        prepare.prepare("imagenet", tmp_path)


def _tar(path: Path, members: dict[str, Path], mode: str = "w:gz") -> None:
    with tarfile.open(path, mode) as tar:
        for arcname, src in members.items():
            tar.add(src, arcname=arcname)


def test_food101_pets_and_sun397_in_their_published_layouts(tmp_path, offline):
    import json

    offline()
    src = tmp_path / "src"
    src.mkdir()
    # Food-101: food-101/{images/<class>/<id>.jpg, meta/{train,test}.json}
    build, food = _coop_images(tmp_path, "food101", "images")
    meta = build / "meta"
    meta.mkdir()
    rows = {c.parent.name: [f"{c.parent.name}/{c.stem}"] for c in (build / "images").rglob("*.png")}
    for s in ("train", "test"):
        (meta / f"{s}.json").write_text(json.dumps(rows))
    _tar(src / "food-101.tar.gz", {"food-101/images": build / "images", "food-101/meta": meta})
    (src / food["split_file"]).write_bytes((build / food["split_file"]).read_bytes())
    # Oxford-IIIT Pets: images.tar.gz (images/...) and annotations.tar.gz (annotations/{trainval,test}.txt)
    build, pets = _coop_images(tmp_path, "pets", "images")
    ann = build / "annotations"
    ann.mkdir()
    for s in ("trainval", "test"):
        (ann / f"{s}.txt").write_text("Abyssinian_1 1 1 1\n")
    _tar(src / "images.tar.gz", {"images": build / "images"})
    _tar(src / "annotations.tar.gz", {"annotations": ann})
    (src / pets["split_file"]).write_bytes((build / pets["split_file"]).read_bytes())
    # SUN397: SUN397/{ClassName.txt, <letter>/<class>/...}
    build, sun = _coop_images(tmp_path, "sun397", "SUN397")
    (build / "SUN397" / "ClassName.txt").write_text("/a/abbey\n")
    _tar(src / "SUN397.tar.gz", {"SUN397": build / "SUN397"})
    (src / sun["split_file"]).write_bytes((build / sun["split_file"]).read_bytes())

    data = tmp_path / "data"
    for name, cfg, n in (("food101", food, 101), ("pets", pets, 37), ("sun397", sun, 397)):
        prepare.prepare(name, data, src)
        res = check_dataset(cfg, data, ["test", "train", "val"])
        assert res["status"] == "ok" and res["counts"] == {"test": n, "train": n, "val": n}, (name, res)
    assert (data / "oxford_pets").is_symlink() and (data / "oxford-iiit-pet/annotations/test.txt").is_file()
    prepare.prepare("pets", data, src)  # a rerun: the link and torchvision's layout are found again


def test_voc_2007_and_2012_tars_unpack_where_table_11_reads_them(tmp_path, offline):
    from synrec.detection import VOCBoxes

    offline()
    src = tmp_path / "src"
    src.mkdir()
    names = ["aeroplane", "bicycle", "bird"]
    v07 = demo_data.write_voc(tmp_path / "b07", names, {"trainval": 3, "test": 2}, year="2007")
    v12 = demo_data.write_voc(tmp_path / "b12", names, {"trainval": 4}, year="2012")
    base = v07 / "VOCdevkit" / "VOC2007"
    test_ids = (base / "ImageSets/Main/test.txt").read_text().split()
    with tarfile.open(src / "VOCtrainval_06-Nov-2007.tar", "w") as tv, \
            tarfile.open(src / "VOCtest_06-Nov-2007.tar", "w") as te:
        for p in sorted(base.rglob("*")):
            if p.is_file():
                to_test = p.stem in test_ids or p.name == "test.txt"
                (te if to_test else tv).add(p, arcname=str(p.relative_to(v07)))
    _tar(src / "VOCtrainval_11-May-2012.tar", {"VOCdevkit": v12 / "VOCdevkit"}, mode="w")
    assert prepare.main(["voc", "--data-root", str(tmp_path / "data"), "--from", str(src)]) == 0
    train = VOCBoxes(tmp_path / "data/voc", [("2007", "trainval"), ("2012", "trainval")], train=True)
    test = VOCBoxes(tmp_path / "data/voc", [("2007", "test")], train=False)
    assert (len(train), len(test)) == (7, 2) and test.target(0)["boxes"].shape[1] == 4


def test_caltech101_caltech256_and_flowers_in_their_published_layouts(tmp_path, offline):
    import io

    offline()
    src = tmp_path / "src"
    src.mkdir()
    # Caltech-101: caltech-101.zip holding caltech-101/101_ObjectCategories.tar.gz (with BACKGROUND_Google, which
    # torchvision drops) and caltech-101/Annotations.tar
    build, c101 = _coop_images(tmp_path, "caltech101", "101_ObjectCategories")
    (build / "101_ObjectCategories" / "BACKGROUND_Google").mkdir()
    _tar(build / "101_ObjectCategories.tar.gz", {"101_ObjectCategories": build / "101_ObjectCategories"})
    empty = io.BytesIO()
    tarfile.open(fileobj=empty, mode="w").close()
    with zipfile.ZipFile(src / "caltech-101.zip", "w") as z:
        z.write(build / "101_ObjectCategories.tar.gz", "caltech-101/101_ObjectCategories.tar.gz")
        z.writestr("caltech-101/Annotations.tar", empty.getvalue())
    (src / c101["split_file"]).write_bytes((build / c101["split_file"]).read_bytes())
    # Caltech-256: 256_ObjectCategories.tar of <nnn.name>/ folders, 3 images each (the YAML slices train 0-60)
    c256 = shipped("caltech256")
    folders = tmp_path / "build" / "c256"
    demo_data.write_imagefolder(folders, c256["disk_classnames"], {"all": 3}, size=8)
    for d in (folders / "all").iterdir():  # write_imagefolder names folders by name; the archive's are nnn.name
        d.rename(folders / "all" / next(n for n in c256["disk_classnames"] if demo_data.folder_name(n) == d.name))
    _tar(src / "256_ObjectCategories.tar", {"256_ObjectCategories": folders / "all"}, mode="w")
    # Flowers-102: 102flowers.tgz holding jpg/
    build, flowers = _coop_images(tmp_path, "flowers", "jpg")
    _tar(src / "102flowers.tgz", {"jpg": build / "jpg"})
    (src / flowers["split_file"]).write_bytes((build / flowers["split_file"]).read_bytes())

    data = tmp_path / "data"
    prepare.prepare("caltech101", data, src)
    res = check_dataset(c101, data, ["test", "train", "val"])
    assert res["status"] == "ok" and res["counts"] == {"test": 100, "train": 100, "val": 100}, res
    prepare.prepare("caltech256", data, src)
    res = check_dataset(c256, data, ["train"])  # its test split starts at a class's 61st image: none here
    assert res["status"] == "ok" and res["counts"] == {"train": 257 * 3}, res
    prepare.prepare("flowers", data, src)
    res = check_dataset(flowers, data, ["test", "train", "val"])
    assert res["status"] == "ok" and res["counts"] == {"test": 102, "train": 102, "val": 102}, res


def test_imagenet_r_tar_from_its_authors_url(tmp_path, offline):
    offline()
    cfg = shipped("imagenet_r")
    build = tmp_path / "build" / "imagenet-r"
    demo_data.write_imagefolder(tmp_path / "build" / "x", [f"c{i}" for i in range(len(cfg["folders"]))], {"all": 1},
                                size=8)
    (tmp_path / "build" / "x" / "all").rename(build)
    for d, synset in zip(sorted(build.iterdir()), cfg["folders"]):
        d.rename(build / synset)
    src = tmp_path / "src"
    src.mkdir()
    _tar(src / "imagenet-r.tar", {"imagenet-r": build}, mode="w")
    prepare.prepare("imagenet_r", tmp_path / "data", src)
    res = check_dataset(cfg, tmp_path / "data", ["test"])
    assert res["status"] == "ok" and res["counts"] == {"test": 200}, res


def _jpeg(path: Path, value: int) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (value % 256, 40, 90)).save(path)
    return path


def test_aircraft_tarball_is_sorted_into_variant_folders_in_label_order(tmp_path, offline):
    """fgvc-aircraft-2013b as Oxford publishes it (data/images/<id>.jpg, variants.txt, images_variant_<split>.txt
    lines '<id> <variant>'), read by torchvision's FGVCAircraft, sorted into the folders aircraft.yaml reads."""
    offline()
    cfg = shipped("aircraft")
    build = tmp_path / "build" / "fgvc-aircraft-2013b" / "data"
    variants = cfg["classnames"]  # 'F/A-18' among them: a folder name cannot hold it as it is
    (build / "variants.txt").parent.mkdir(parents=True)
    (build / "variants.txt").write_text("".join(f"{v}\n" for v in variants))
    truth = {}
    for k, split in enumerate(("train", "val", "test")):
        rows = []
        for i, v in enumerate(variants[::-1]):  # listed out of label order
            image_id = f"{k}{i:06d}"
            _jpeg(build / "images" / f"{image_id}.jpg", i)
            rows.append(f"{image_id} {v}\n")
            truth[image_id] = variants.index(v)
        (build / f"images_variant_{split}.txt").write_text("".join(rows))
    (build / "images_variant_trainval.txt").write_text(
        (build / "images_variant_train.txt").read_text() + (build / "images_variant_val.txt").read_text())
    src = tmp_path / "src"
    src.mkdir()
    _tar(src / "fgvc-aircraft-2013b.tar.gz", {"fgvc-aircraft-2013b": build.parent})
    data = tmp_path / "data"
    prepare.prepare("aircraft", data, src)
    res = check_dataset(cfg, data, ["train", "val", "test"])  # class count and the names, label by label
    assert res["status"] == "ok" and res["counts"] == {"train": 100, "val": 100, "test": 100}, res
    from synrec.datasets import load_split

    test = load_split(cfg, data, "test")
    assert {p.stem: int(label) for p, label in zip(test.paths, test.labels)} == {
        i: t for i, t in truth.items() if i.startswith("2")}
    fa18 = next(p for p in test.paths if truth[p.stem] == variants.index("F/A-18"))
    assert fa18.parent.name == f"{variants.index('F/A-18') + 1:03d}.F_A-18"
    assert fa18.stat().st_ino == (data / "fgvc_aircraft/fgvc-aircraft-2013b/data/images" / fa18.name).stat().st_ino
    prepare.prepare("aircraft", data, src)  # a rerun finds everything in place
    # a variant list in another order than aircraft.yaml's: the label-by-label check refuses it
    (data / "fgvc_aircraft_folders/test" / fa18.parent.name).rename(data / "fgvc_aircraft_folders/test/000.F_A-18")
    with pytest.raises(SynrecError, match=r"label 0 is '000.F_A-18' in .*test but '001.707-320' in .*aircraft.yaml"):
        load_split(cfg, data, "test")


def test_cub_tarball_is_sorted_by_its_train_test_split(tmp_path, offline):
    """CUB_200_2011.tgz as CaltechDATA publishes it (images/<NNN.Class>/<file>.jpg, images.txt, train_test_split.txt),
    sorted into CUB_200_2011/{train,test}/<NNN.Class>/; a listed image missing from the archive is one line, and no
    split folder is left half made."""
    offline()
    cfg = shipped("cub")
    build = tmp_path / "build" / "CUB_200_2011"
    images, split, n = [], [], 0
    for folder in cfg["disk_classnames"]:
        for j in range(3):
            n += 1
            rel = f"{folder}/{folder.split('.')[1]}_{j:04d}.jpg"
            _jpeg(build / "images" / rel, n)
            images.append(f"{n} {rel}\n")
            split.append(f"{n} {int(j < 2)}\n")  # two train images per class, one test
    (build / "images.txt").write_text("".join(images))
    (build / "train_test_split.txt").write_text("".join(split))
    src = tmp_path / "src"
    src.mkdir()
    _tar(src / "CUB_200_2011.tgz", {"CUB_200_2011": build})
    data = tmp_path / "data"
    prepare.prepare("cub", data, src)
    res = check_dataset(cfg, data, ["train", "test"])
    assert res["status"] == "ok" and res["counts"] == {"train": 400, "test": 200}, res
    assert sorted(p.name for p in (data / "CUB_200_2011/test/001.Black_footed_Albatross").iterdir()) == [
        "Black_footed_Albatross_0002.jpg"]
    # an archive that lists an image it does not hold
    (build / "images.txt").write_text("".join(images) + f"{n + 1} 001.Black_footed_Albatross/gone.jpg\n")
    (build / "train_test_split.txt").write_text("".join(split) + f"{n + 1} 1\n")
    (src / "CUB_200_2011.tgz").unlink()
    _tar(src / "CUB_200_2011.tgz", {"CUB_200_2011": build})
    data2 = tmp_path / "data2"
    with pytest.raises(SynrecError, match=r"^cub: the unpacked archive is not in its published layout \(.*gone\.jpg "
                                          r"is listed in the dataset's split files but was not unpacked\)$"):
        prepare.prepare("cub", data2, src)
    assert not (data2 / "CUB_200_2011/train").exists()


def test_a_hub_copy_is_fetched_with_huggingface_hub_and_read_where_the_own_layout_is_absent(tmp_path, monkeypatch,
                                                                                          capsys):
    """--hub: CLIP_benchmark's webdataset test set of Cars from the hub (huggingface_hub's snapshot_download, here
    answered from a local folder built as its builder writes it), read and checked against cars.yaml's class names
    (the devkit's spelling: the copy's own); the few-shot train split needs the own layout, and says so."""
    import huggingface_hub
    from conftest import write_clip_benchmark_webdataset

    from synrec.datasets import load_split

    cfg = shipped("cars")
    hub = tmp_path / "hub" / "wds_cars"
    samples = write_clip_benchmark_webdataset(hub, cfg["classnames"], per_class=1, fmt="png", per_shard=64)
    calls = []

    def snapshot_download(repo_id, repo_type, local_dir, allow_patterns):
        calls.append((repo_id, repo_type, allow_patterns))
        shutil.copytree(hub, local_dir, dirs_exist_ok=True)
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    data = tmp_path / "data"
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    (cfg_dir / "cars.yaml").write_text((CONFIGS / "cars.yaml").read_text().split("\ncounts:")[0] + "\n")
    assert prepare.main(["cars", "--hub", "--data-root", str(data), "--config-dir", str(cfg_dir)]) == 0
    assert calls == [("clip-benchmark/wds_cars", "dataset", ["classnames.txt", "zeroshot_classification_templates.txt",
                                                              "dataset_type.txt", "test/*"])]
    assert f"cars: ok (test 196), 0.00 GB on disk under {data / 'wds_cars'}" in capsys.readouterr().out
    test = load_split(cfg, data, "test")
    assert test.labels.tolist() == [label for label, _ in samples] and test.members is not None
    with pytest.raises(SynrecError, match=r"cars': its hub copy \(clip-benchmark/wds_cars\) under wds_cars holds only "
                                          r"test; split 'train' needs the dataset in its own layout"):
        load_split(cfg, data, "train")
    # the published count applies to the copy too: 196 images where cars.yaml says 8,041
    assert check_dataset(load_dataset_config("cars", CONFIGS), data, ["test"])["status"] == "incomplete"
    # with the own layout present, that is what is read
    (data / "stanford_cars").mkdir()
    with pytest.raises(SynrecError, match=r"split file .*stanford_cars/split_zhou_StanfordCars\.json does not exist"):
        load_split(cfg, data, "test")
    # --from: the copy from a local folder named after the repository
    prepare.prepare_hub(cfg, tmp_path / "data2", tmp_path / "hub")
    assert len(load_split(cfg, tmp_path / "data2", "test")) == 196
    # no network: one line
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda **kw: (_ for _ in ()).throw(OSError("offline\nmore")))
    with pytest.raises(SynrecError, match=r"^cars: clip-benchmark/wds_cars could not be fetched from the Hugging Face "
                                          r"hub \(offline\)$"):
        prepare.prepare_hub(cfg, tmp_path / "data3")


def test_imagenet_archives_from_a_folder_unpack_into_synset_folders_with_val_sorted_by_the_devkit(tmp_path, offline,
                                                                                                  monkeypatch):
    """The three ILSVRC-2012 archives as image-net.org publishes them (the train tar holds one tar per synset; the val
    tar flat images; the devkit meta.mat and the val ground truth as ILSVRC2012 ids), unpacked by torchvision's
    ImageNet class into imagenet/images/{train,val}/<synset>/; each val image lands in its ground truth's synset."""
    import numpy as np
    import torchvision.datasets.imagenet as tv_imagenet

    sio = pytest.importorskip("scipy.io", reason="scipy (pinned in envs/requirements.txt) reads the devkit's meta.mat")

    offline()
    monkeypatch.setattr(tv_imagenet, "check_integrity", lambda fpath, md5=None: Path(fpath).is_file())
    cfg = shipped("imagenet")
    wnids = cfg["folders"]
    rng = np.random.default_rng(0)
    ids = rng.permutation(len(wnids)) + 1  # ILSVRC2012 ids are not in the synsets' sorted order
    build, src = tmp_path / "build", tmp_path / "src"
    src.mkdir()
    devkit = build / "ILSVRC2012_devkit_t12" / "data"
    devkit.mkdir(parents=True)
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "wordnet_height", "num_train_images"]
    synsets = np.zeros((len(wnids) + 1, 1), dtype=[(f, "O") for f in fields])
    for i, (wnid, k) in enumerate(zip(wnids, ids)):
        synsets[i, 0] = (int(k), wnid, f"class {wnid}", "", 0, 0, 1)
    synsets[len(wnids), 0] = (1001, "n00001740", "entity", "", 3, 19, 0)  # an inner node: not a class
    sio.savemat(devkit / "meta.mat", {"synsets": synsets})
    truth = [int(ids[(7 * j) % len(wnids)]) for j in range(len(wnids))]  # val image j is of synset (7 j mod 1000)
    (devkit / "ILSVRC2012_validation_ground_truth.txt").write_text("".join(f"{t}\n" for t in truth))
    _tar(src / "ILSVRC2012_devkit_t12.tar.gz", {"ILSVRC2012_devkit_t12": build / "ILSVRC2012_devkit_t12"})
    with tarfile.open(src / "ILSVRC2012_img_val.tar", "w") as val:
        for j in range(len(wnids)):
            name = f"ILSVRC2012_val_{j + 1:08d}.JPEG"
            val.add(_jpeg(build / "val" / name, j), arcname=name)
    with tarfile.open(src / "ILSVRC2012_img_train.tar", "w") as train:
        for i, wnid in enumerate(wnids):
            inner = build / "train" / f"{wnid}.tar"
            inner.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(inner, "w") as t:
                t.add(_jpeg(build / "img" / f"{wnid}_1.JPEG", i), arcname=f"{wnid}_1.JPEG")
            train.add(inner, arcname=f"{wnid}.tar")
    data = tmp_path / "data"
    prepare.prepare("imagenet", data, src)
    assert (data / "imagenet/images/ILSVRC2012_img_train.tar").is_symlink()  # linked, not copied
    res = check_dataset(cfg, data, ["train", "test"])
    assert res["status"] == "ok" and res["counts"] == {"train": 1000, "test": 1000}, res
    from synrec.datasets import load_split

    val = load_split(cfg, data, "test")
    label_of = {p.name: int(label) for p, label in zip(val.paths, val.labels)}
    id_to_label = {int(k): i for i, k in enumerate(ids)}
    assert all(label_of[f"ILSVRC2012_val_{j + 1:08d}.JPEG"] == id_to_label[t] for j, t in enumerate(truth))
    train = load_split(cfg, data, "train")
    assert [p.name for p in train.paths[:2]] == [f"{wnids[0]}_1.JPEG", f"{wnids[1]}_1.JPEG"]


def test_disk_usage_counts_each_file_once_through_links(tmp_path):
    """The size prepare prints: hard links (Aircraft's and CUB's class folders) and linked folders (Pets' and
    Caltech's YAML names) do not count their images twice."""
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.jpg").write_bytes(b"x" * 1000)
    (root / "images" / "b.jpg").write_bytes(b"y" * 500)
    (root / "train").mkdir()
    os.link(root / "images" / "a.jpg", root / "train" / "a.jpg")
    (root / "same").symlink_to("images", target_is_directory=True)
    assert prepare.disk_usage(root) == 1500
    (root / "images" / "c.jpg").write_bytes(b"z" * 7)
    assert prepare.disk_usage(root) == 1507
