"""Fetch datasets from their public sources into the layout their ``config/datasets/<name>.yaml`` reads.

    python -m synrec.prepare eurosat dtd cifar10 cifar100 [--data-root data] [--from DIR] [--hub]
    python -m synrec.prepare --models [--configfile config/my.yaml]     # the models, into HF_HOME (model_fetch.py)

Run it on a login node with network; compute nodes need none. The archives come through torchvision's own dataset
classes, so their URLs and published md5 checksums are torchvision's, and an archive already in place with the
right checksum is not fetched again (a rerun resumes file by file). CoOp's split files (``split_zhou_*.json``) come
from the Google-Drive files CoOp's DATASETS.md links, through torchvision's Drive helper (it needs
``pip install gdown``; Drive publishes no checksum for them). ``--from DIR`` takes the archives and split files
from ``DIR`` (linked into place, not copied) instead of the network; the checksums are still verified. Afterwards each
dataset is read back and checked like ``python -m synrec.datasets --check`` does.

Aircraft and CUB are sorted after unpacking into the class folders their YAMLs read, by their own split files
(hard links: no second copy on disk), one split folder at a time under a temporary name.

``--hub`` fetches instead the copy a dataset YAML names under ``hub_webdataset``: CLIP_benchmark's webdataset test
set on the Hugging Face hub (Cars, Aircraft, ImageNet, ImageNet-Sketch, ImageNet-R), through ``huggingface_hub``.
It is read when the dataset's own folder is absent, for the splits it holds (the zero-shot study's test split).

ImageNet's archives need a login: download them, then ``--from`` their folder. Datasets without a recipe here
(Birdsnap, Cars' train and val, ImageNet-Sketch's own archive) print where to get them; ``--check`` then says what
is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_path
from .datasets import _under
from .errors import SynrecError


@dataclass
class Recipe:
    """How to fetch one dataset: torchvision dataset classes to construct with ``download=True`` (class, keyword
    arguments, the folder under data_root they fetch into), the archives they read (for ``--from``, relative to
    data_root), CoOp's split file (Drive id, path) and the links that show torchvision's layout as the one the YAML
    reads (links, not moves: torchvision finds its own layout again on a rerun)."""

    calls: tuple[tuple[str, dict, str], ...]
    archives: tuple[str, ...] = ()
    split: tuple[str, str] | None = None
    links: tuple[tuple[str, str], ...] = ()  # (link, target relative to the link's folder)
    urls: tuple[tuple[str, str, str], ...] = ()  # (url, published md5, folder under data_root) outside torchvision
    arrange: str = ""  # a function of ARRANGE: sorts the unpacked images into the class folders the YAML reads
    login: str = ""  # the archives need a login: they come only with --from; this says where to get them


RECIPES = {
    "cifar10": Recipe((("CIFAR10", {"train": False}, "."),), ("cifar-10-python.tar.gz",)),
    "cifar100": Recipe((("CIFAR100", {"train": False}, "."),), ("cifar-100-python.tar.gz",)),
    "eurosat": Recipe((("EuroSAT", {}, "."),), ("eurosat/EuroSAT.zip",),
                      ("1Ip7yaCWFi0eaOFUGga0lUdVi_DDQth1o", "eurosat/split_zhou_EuroSAT.json")),
    # torchvision's DTD lands in dtd/dtd/{images,labels,imdb}; CoOp's layout (and our YAML) reads dtd/images
    "dtd": Recipe((("DTD", {}, "."),), ("dtd/dtd-r1.0.1.tar.gz",),
                  ("1u3_QfB467jqHgNXC00UIzbLZRQCg2S7x", "dtd/split_zhou_DescribableTextures.json"),
                  (("dtd/images", "dtd/images"), ("dtd/labels", "dtd/labels"))),
    "food101": Recipe((("Food101", {}, "."),), ("food-101.tar.gz",),
                      ("1QK0tGi096I0Ba6kggatX1ee6dJFIcEJl", "food-101/split_zhou_Food101.json")),
    # torchvision: oxford-iiit-pet/{images,annotations}; CoOp and our YAML: oxford_pets/
    "pets": Recipe((("OxfordIIITPet", {}, "."),), ("oxford-iiit-pet/images.tar.gz",
                                                   "oxford-iiit-pet/annotations.tar.gz"),
                   ("1501r8Ber4nNKvmlFVQZ8SeUHTcdTTEqs", "oxford-iiit-pet/split_zhou_OxfordPets.json"),
                   (("oxford_pets", "oxford-iiit-pet"),)),
    "sun397": Recipe((("SUN397", {}, "sun397"),), ("sun397/SUN397.tar.gz",),
                     ("1y2RD81BYuiyvebdN-JymPfyWYcd8_MUq", "sun397/split_zhou_SUN397.json")),
    # torchvision: caltech101/101_ObjectCategories (from Caltech's caltech-101.zip); CoOp and our YAML: caltech-101/
    "caltech101": Recipe((("Caltech101", {}, "."),), ("caltech101/caltech-101.zip",),
                         ("1hyarUivQE36mY6jSomru6Fjd-JzwcCzN", "caltech101/split_zhou_Caltech101.json"),
                         (("caltech-101", "caltech101"),)),
    "caltech256": Recipe((("Caltech256", {}, "."),), ("caltech256/256_ObjectCategories.tar",),
                         links=(("256_ObjectCategories", "caltech256/256_ObjectCategories"),)),
    # only the image archive of torchvision's Flowers102 (its class needs scipy for the .mat labels, which CoOp's
    # split file makes unnecessary): oxford_flowers/jpg
    "flowers": Recipe((("archive:Flowers102:image", {}, "oxford_flowers"),), ("oxford_flowers/102flowers.tgz",),
                      ("1Pp0sRXzZFZq15zVOzKjKBu4A9i01nozT", "oxford_flowers/split_zhou_OxfordFlowers.json")),
    # ImageNet-R: the authors' tar (its md5 as ImageNet-R loaders in other projects pin it) -> imagenet-r/<synset>/
    "imagenet_r": Recipe((), ("imagenet-r.tar",), urls=(("https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar",
                                                          "a61312130a589d0ca1a8fca1f2bd3337", "."),)),
    # FGVC-Aircraft 2013b (torchvision's URL; Oxford publishes no checksum): fgvc_aircraft/fgvc-aircraft-2013b, its
    # images sorted by images_variant_{train,val,test}.txt into fgvc_aircraft_folders/<split>/<NNN>.<variant>/
    "aircraft": Recipe((("FGVCAircraft", {}, "fgvc_aircraft"),), ("fgvc_aircraft/fgvc-aircraft-2013b.tar.gz",),
                       arrange="aircraft"),
    # CUB-200-2011 from CaltechDATA (md5 as other CUB loaders pin it), its images sorted by train_test_split.txt
    # into CUB_200_2011/{train,test}/<NNN.Class_name>/
    "cub": Recipe((), ("CUB_200_2011.tgz",), urls=(("https://data.caltech.edu/records/65de6-vp158/files/"
                                                    "CUB_200_2011.tgz", "97eceeb196236b17998738112f37df78", "."),),
                  arrange="cub"),
    # ImageNet (ILSVRC-2012): its three archives, downloaded with a login, taken with --from (linked, not copied)
    # and unpacked by torchvision's ImageNet class (its md5s): imagenet/images/{train,val}/<synset>/, the val images
    # sorted by the devkit's ground truth (reading the devkit's meta.mat needs scipy)
    "imagenet": Recipe((("ImageNet", {"split": "val"}, "imagenet/images"),
                        ("ImageNet", {"split": "train"}, "imagenet/images")),
                       ("imagenet/images/ILSVRC2012_devkit_t12.tar.gz", "imagenet/images/ILSVRC2012_img_val.tar",
                        "imagenet/images/ILSVRC2012_img_train.tar"),
                       login="ILSVRC2012_devkit_t12.tar.gz, ILSVRC2012_img_val.tar and ILSVRC2012_img_train.tar "
                             "from image-net.org (login)"),
    # PASCAL VOC for Table 11: VOC2007 trainval + test and VOC2012 trainval under voc/VOCdevkit (pretraining.voc)
    "voc": Recipe((("VOCDetection", {"year": "2007", "image_set": "trainval"}, "voc"),
                   ("VOCDetection", {"year": "2007", "image_set": "test"}, "voc"),
                   ("VOCDetection", {"year": "2012", "image_set": "trainval"}, "voc")),
                  ("voc/VOCtrainval_06-Nov-2007.tar", "voc/VOCtest_06-Nov-2007.tar",
                   "voc/VOCtrainval_11-May-2012.tar")),
}

#: where to get the datasets that have no recipe yet (CoOp's DATASETS.md sources, and the paper's others)
MANUAL = {
    "cars": "cars_train.tgz, cars_test.tgz (Stanford's original URL is gone; torchvision's class says so, mirrors "
            "vary) unpacked as stanford_cars/{cars_train,cars_test}/<id>.jpg, and CoOp's split_zhou_StanfordCars.json "
            "(CoOp's DATASETS.md) in stanford_cars/",
    "birdsnap": "birdsnap.tgz (Birdsnap v1.1 metadata, thomasberg.org/datasets/birdsnap/1.1/); run its "
                "get_birdsnap.py, which fetches the images from their Flickr URLs (resumable; some are gone), then "
                "sort them into birdsnap/test/<dir>/ (the paths test_images.txt lists) and birdsnap/train/<dir>/ (the "
                "rest), <dir> as in species.txt",
    "imagenet_sketch": "ImageNet-Sketch.zip (github.com/HaohanWang/ImageNet-Sketch, Google Drive or Kaggle) "
                       "unzipped so that imagenet-sketch/sketch/<synset>/ holds the images",
}


def how_to_get(cfg: dict, data_root: str | Path) -> str:
    """The command or manual step that puts dataset ``cfg`` under ``data_root``."""
    name = cfg["name"]
    login = RECIPES[name].login if name in RECIPES else ""
    fix = (f"get {login}, then python -m synrec.prepare {name} --from <their folder> --data-root {data_root}" if login
           else f"python -m synrec.prepare {name} --data-root {data_root}" if name in RECIPES else
           f"get {MANUAL[name]}" if name in MANUAL else
           f"put it under {data_root} as {cfg.get('_path')} says (root, format, split file)")
    if cfg.get("hub_webdataset"):
        fix += f" (its test split alone: python -m synrec.prepare {name} --hub --data-root {data_root})"
    return fix


def _link(src: Path, dst: Path) -> None:
    """``dst`` as a hard link to ``src`` (no second copy on disk), or a copy where links are not possible."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _sort_into(out: Path, items: dict[str, list[tuple[Path, str]]]) -> None:
    """``out/<split>/<class folder>/<file>`` for each ``(image, class folder)`` of each split, each split built
    under a temporary name and renamed when complete (a split folder that exists is complete and is kept)."""
    for split, pairs in items.items():
        final = out / split
        if final.is_dir():
            continue
        tmp = out / f".{split}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        for image, folder in pairs:
            if not image.is_file():
                raise SynrecError(f"{image} is listed in the dataset's split files but was not unpacked")
            _link(image, tmp / folder / image.name)
        tmp.rename(final)


def _arrange_aircraft(data_root: Path) -> None:
    from torchvision.datasets import FGVCAircraft

    items = {}
    for split in ("train", "val", "test"):
        tv = FGVCAircraft(str(data_root / "fgvc_aircraft"), split=split, annotation_level="variant")
        folders = [f"{i + 1:03d}.{c.replace('/', '_')}" for i, c in enumerate(tv.classes)]
        items[split] = [(Path(f), folders[label]) for f, label in zip(tv._image_files, tv._labels)]
    _sort_into(data_root / "fgvc_aircraft_folders", items)


def _arrange_cub(data_root: Path) -> None:
    root = data_root / "CUB_200_2011"

    def table(name: str) -> dict[str, str]:
        path = root / name
        if not path.is_file():
            raise SynrecError(f"{path} does not exist (CUB_200_2011.tgz unpacks it)")
        return dict(line.split(" ", 1) for line in path.read_text().splitlines() if line.strip())

    images, is_train = table("images.txt"), table("train_test_split.txt")
    items = {"train": [], "test": []}
    for image_id, rel in images.items():
        rel = rel.strip()
        items["train" if is_train[image_id].strip() == "1" else "test"].append((root / "images" / rel,
                                                                                rel.split("/")[0]))
    _sort_into(root, items)


ARRANGE = {"aircraft": _arrange_aircraft, "cub": _arrange_cub}


def _take_from(src_dir: Path, rel: str, data_root: Path) -> bool:
    """``<data_root>/<rel>`` as a link to ``<src_dir>/<its name>`` (archives are large), or, where links are not
    possible, a copy written under a temporary name (an interrupted copy is never taken for the archive)."""
    src, dst = src_dir / Path(rel).name, data_root / rel
    if not src.is_file():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        try:
            dst.symlink_to(src.resolve())
        except OSError:
            with atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)
    return True


def prepare(name: str, data_root: str | Path, source_dir: str | Path | None = None) -> None:
    """Fetch dataset ``name`` into ``data_root`` (from ``source_dir`` instead of the network when given)."""
    import torchvision.datasets as tvd
    from torchvision.datasets.utils import download_and_extract_archive, download_file_from_google_drive

    if name not in RECIPES:
        where = MANUAL.get(name, "see its config/datasets YAML (root, format) and config/README.md")
        raise SynrecError(f"{name}: no automatic recipe; get {where}, then run python -m synrec.datasets --check "
                          f"{name}")
    r, data_root = RECIPES[name], Path(data_root)
    if r.login and source_dir is None:
        raise SynrecError(f"{name}: get {r.login}, then run python -m synrec.prepare {name} --from <their folder>")
    data_root.mkdir(parents=True, exist_ok=True)
    if source_dir is not None:
        for rel in r.archives:
            if not _take_from(Path(source_dir), rel, data_root):
                raise SynrecError(f"{name}: {Path(source_dir) / Path(rel).name} not found (--from)")
    for cls, kwargs, parent in r.calls:
        (data_root / parent).mkdir(parents=True, exist_ok=True)
        try:
            if cls.startswith("archive:"):  # one archive of a torchvision class, by its own URL and md5
                _, cls, key = cls.split(":")
                tv = getattr(tvd, cls)
                filename, md5 = tv._file_dict[key]
                download_and_extract_archive(tv._download_url_prefix + filename, str(data_root / parent), md5=md5)
            elif r.login:  # no download: the archives are in place (--from)
                getattr(tvd, cls)(root=str(data_root / parent), **kwargs)
            else:
                getattr(tvd, cls)(root=str(data_root / parent), download=True, **kwargs)
        except Exception as exc:  # a checksum that does not match, no network, a broken or unexpected archive
            raise SynrecError(f"{name}: torchvision's {cls} could not fetch or verify it "
                              f"({str(exc).splitlines()[0][:160]})") from None
    for url, md5, parent in r.urls:
        try:
            download_and_extract_archive(url, str(data_root / parent), md5=md5)
        except Exception as exc:
            raise SynrecError(f"{name}: {url} could not be fetched or verified ({str(exc).splitlines()[0][:160]})"
                              ) from None
    if r.arrange:
        try:
            ARRANGE[r.arrange](data_root)
        except (SynrecError, OSError, RuntimeError, KeyError, ValueError) as exc:  # a file the layout should hold
            why = str(exc) if isinstance(exc, SynrecError) else str(exc).splitlines()[0][:160]
            raise SynrecError(f"{name}: the unpacked archive is not in its published layout ({why})") from None
    for link, target in r.links:
        if not ((data_root / link).exists() or (data_root / link).is_symlink()):
            (data_root / link).symlink_to(target, target_is_directory=True)
    if r.split:
        file_id, rel = r.split
        target = data_root / rel
        if not target.is_file() and not (source_dir and _take_from(Path(source_dir), rel, data_root)):
            try:
                download_file_from_google_drive(file_id, str(target.parent), target.name)
            except Exception as exc:  # requests/Drive errors: no network, quota, a moved file
                raise SynrecError(f"{name}: CoOp's split file {target.name} could not be fetched from Google Drive "
                                  f"(id {file_id}: {str(exc).splitlines()[0][:120]}); put it at {target}") from None


def disk_usage(folder: str | Path) -> int:
    """Bytes under ``folder``, links followed, each file counted once (hard links and linked folders are not counted
    twice)."""
    seen, total = set(), 0
    for parent, _, files in os.walk(folder, followlinks=True):
        for f in files:
            try:
                st = os.stat(os.path.join(parent, f))
            except FileNotFoundError:  # a dangling link
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


HUB_FILES = ("classnames.txt", "zeroshot_classification_templates.txt", "dataset_type.txt")


def prepare_hub(cfg: dict, data_root: str | Path, source_dir: str | Path | None = None) -> Path:
    """Fetch the dataset's hub copy (key ``hub_webdataset``: CLIP_benchmark's webdataset test set) into
    ``<data_root>/<root>`` with ``huggingface_hub`` (resumable; each file checked against the hub's hash), or copy it
    from ``<source_dir>/<repo name>``. Returns the folder."""
    name, hub = cfg["name"], cfg.get("hub_webdataset")
    if not hub:
        raise SynrecError(f"{name}: no hub copy (key 'hub_webdataset' in {cfg.get('_path')})")
    dest = _under(hub["root"], data_root)
    if source_dir is not None:
        src = Path(source_dir) / hub["repo"].split("/")[-1]
        if not src.is_dir():
            raise SynrecError(f"{name}: {src} not found (--from with --hub: a local copy of {hub['repo']})")
        for split in hub["splits"]:  # each split folder under a temporary name, renamed when complete
            if not (dest / split).is_dir():
                tmp = dest / f".{split}.partial"
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.copytree(src / split, tmp)
                tmp.rename(dest / split)
        for f in HUB_FILES:
            if (src / f).is_file():
                with atomic_path(dest / f) as tmp:
                    shutil.copyfile(src / f, tmp)
        return dest
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo_id=hub["repo"], repo_type="dataset", local_dir=str(dest),
                          allow_patterns=[*HUB_FILES, *(f"{s}/*" for s in hub["splits"])])
    except Exception as exc:  # no network, a gated repository without a login (HF_TOKEN), a moved repository
        raise SynrecError(f"{name}: {hub['repo']} could not be fetched from the Hugging Face hub "
                          f"({str(exc).splitlines()[0][:160]})") from None
    return dest


def main(argv: list[str] | None = None) -> int:
    from .config import load_dataset_config
    from .datasets import check_dataset, dataset_folder, has_val_split, on_disk

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="dataset names (config/datasets/<name>.yaml)")
    ap.add_argument("--models", action="store_true", help="fetch every model the config names into the Hugging Face "
                    "cache instead (synrec/model_fetch.py)")
    ap.add_argument("--configfile", nargs="+", default=[], help="with --models: config files over config/config.yaml, "
                    "as given to snakemake")
    ap.add_argument("--data-root", default="data")
    ap.add_argument("--from", dest="source", default=None, help="take archives and split files from this folder")
    ap.add_argument("--config-dir", default="config/datasets")
    ap.add_argument("--hub", action="store_true", help="fetch the YAML's hub_webdataset copy (the test split, for the "
                    "zero-shot study) from the Hugging Face hub instead")
    args = ap.parse_args(argv)
    if args.models:
        from .config import check_config_files
        from .model_fetch import fetch_models

        try:
            lines, failed = fetch_models(check_config_files(args.configfile))
        except SynrecError as exc:
            print(f"synrec: {exc}")
            return 1
        print("\n".join(lines))
        return 1 if failed else 0
    if not args.names:
        ap.error("name the datasets to fetch, or give --models")
    failed = 0
    for name in args.names:
        try:
            if args.hub:
                cfg = load_dataset_config(name, args.config_dir)
                dest = prepare_hub(cfg, args.data_root, args.source)
                splits = cfg["hub_webdataset"]["splits"]
                if "_copy" not in on_disk(cfg, args.data_root):
                    print(f"{name}: {dataset_folder(cfg, args.data_root)} (its own layout) is present and is read; "
                          f"the hub copy in {dest} is not used")
            else:
                prepare(name, args.data_root, args.source)
                if not (Path(args.config_dir) / f"{name}.yaml").is_file():  # VOC: no dataset YAML to check against
                    print(f"{name}: fetched under {args.data_root}")
                    continue
                cfg = load_dataset_config(name, args.config_dir)
                splits = [cfg["test_split"], "train", *(["val"] if has_val_split(cfg, "val") else [])]
            res = check_dataset(cfg, args.data_root, list(dict.fromkeys(splits)))
            counts = ", ".join(f"{k} {v:,}" for k, v in res["counts"].items())
            size = disk_usage(dataset_folder(cfg, args.data_root)) / 1e9
            print(f"{name}: {res['status']} ({counts}), {size:.2f} GB on disk under "
                  f"{dataset_folder(cfg, args.data_root)}" + "".join(f"\n  - {p}" for p in res["problems"]))
            failed += res["status"] != "ok"
        except SynrecError as exc:
            print(f"synrec: {exc}")
            failed += 1
    return 1 if failed else 0



if __name__ == "__main__":
    raise SystemExit(main())
