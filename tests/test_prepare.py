"""synrec.prepare offline: small archives in each source's published layout (the ones torchvision's dataset classes
download and unpack), taken with --from instead of the network, unpacked by torchvision and read back through our
readers. The published md5s cannot match made-up archives, so the checksum test runs them unpatched and the others
accept existing files."""

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
    res = check_dataset(load_dataset_config("cifar10", CONFIGS), tmp_path / "data", ["test", "train"])
    assert res == {"status": "ok", "counts": {"test": 20, "train": 10}, "problems": []}


def test_a_published_checksum_that_does_not_match_is_a_one_line_error(tmp_path, offline):
    src = _cifar10_archive(tmp_path)  # made-up bytes: torchvision's md5 check refuses them and tries the network
    with pytest.raises(SynrecError, match=r"cifar10: torchvision's CIFAR10 could not fetch or verify it"):
        prepare.prepare("cifar10", tmp_path / "data", src)


def _coop_images(tmp_path, name: str, images: str) -> tuple[Path, dict]:
    cfg = load_dataset_config(name, CONFIGS)
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
    with pytest.raises(SynrecError, match=r"imagenet: no automatic recipe; get ILSVRC-2012 from image-net.org"):
        prepare.prepare("imagenet", tmp_path)
    assert prepare.main(["imagenet", "--data-root", str(tmp_path)]) == 1
    assert "synrec: imagenet: no automatic recipe" in capsys.readouterr().out
