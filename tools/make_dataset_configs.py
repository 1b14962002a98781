"""Write config/datasets/<name>.yaml for the 17 datasets of the paper's Table 1.

Class names and CLIP templates come from well-kept packages where one ships them, else from the transcribed lists
in tools/classnames/ (sources in its README). Every file records its sources. Run once when a source changes:

    pip download --no-deps -d /tmp/cb clip-benchmark && cd /tmp/cb && python -m zipfile -e clip_benchmark-*.whl x
    python tools/make_dataset_configs.py --clip-benchmark /tmp/cb/x/clip_benchmark/datasets

The generated files are committed; the workflow never runs this.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import open_clip
import timm
import yaml

ROOT = Path(__file__).resolve().parent.parent
LISTS = Path(__file__).resolve().parent / "classnames"
TIMM_INFO = Path(timm.__file__).parent / "data" / "_info"
CLIP_PROMPTS = "OpenAI CLIP data/prompts.md (tools/classnames/{})"


def lines(name: str) -> list[str]:
    return [line for line in (LISTS / f"{name}.txt").read_text().splitlines() if line.strip()]


def timm_lines(name: str) -> list[str]:
    return (TIMM_INFO / name).read_text().split()


# CoOp's Caltech101 (100 classes) names its classes after the folders; CLIP renamed a few.
CALTECH101_FOLDER = {"off-center face": "face", "side of a car": "car_side", "body of a cougar cat": "cougar_body",
                     "face of a cougar cat": "cougar_face", "head of a crocodile": "crocodile_head",
                     "head of a flamingo": "flamingo_head", "snoopy (cartoon beagle)": "snoopy",
                     "yin and yang symbol": "yin_yang"}
EUROSAT_COOP = ["Annual Crop Land", "Forest", "Herbaceous Vegetation Land", "Highway or Road", "Industrial Buildings",
                "Pasture Land", "Permanent Crop Land", "Residential Buildings", "River", "Sea or Lake"]


COOP = "CoOp's split_zhou_{}.json (the counts CoOp's paper lists)"
# images per split, as the publishers or CoOp's split files give them (Birdsnap: none, its images are fetched from
# URLs of which a varying share still answers)
COUNTS = {
    "cifar10": ({"train": 50000, "test": 10000}, "the CIFAR-10 page (cs.toronto.edu/~kriz/cifar.html)"),
    "cifar100": ({"train": 50000, "test": 10000}, "the CIFAR-100 page (cs.toronto.edu/~kriz/cifar.html)"),
    "caltech101": ({"train": 4128, "val": 1649, "test": 2465}, COOP.format("Caltech101")),
    "caltech256": ({"train": 15420, "test": 15187},
                   "30,607 images in 257 folders (Griffin et al. 2007); train = each folder's first 60"),
    "imagenet": ({"train": 1281167, "test": 50000}, "ILSVRC-2012 train and val"),
    "sun397": ({"train": 15880, "val": 3970, "test": 19850}, COOP.format("SUN397")),
    "aircraft": ({"train": 3334, "val": 3333, "test": 3333}, "FGVC-Aircraft 2013b images_variant_{train,val,test}.txt"),
    "cars": ({"train": 6509, "val": 1635, "test": 8041}, COOP.format("StanfordCars")),
    "cub": ({"train": 5994, "test": 5794}, "CUB-200-2011 train_test_split.txt"),
    "flowers": ({"train": 4093, "val": 1633, "test": 2463}, COOP.format("OxfordFlowers")),
    "food101": ({"train": 50500, "val": 20200, "test": 30300, "zeroshot_test": 25250},
                COOP.format("Food101") + "; zeroshot_test: Food-101's meta/test.txt"),
    "pets": ({"train": 2944, "val": 736, "test": 3669}, COOP.format("OxfordPets")),
    "dtd": ({"train": 2820, "val": 1128, "test": 1692}, COOP.format("DescribableTextures")),
    "eurosat": ({"train": 13500, "val": 5400, "test": 8100}, COOP.format("EuroSAT")),
    "imagenet_sketch": ({"test": 50889}, "the released ImageNet-Sketch, as its Hugging Face copy counts it"),
    "imagenet_r": ({"test": 30000}, "ImageNet-R (Hendrycks et al. 2021)"),
}


# CLIP_benchmark's webdataset copies of test sets that are hard to get otherwise (Cars: no working download;
# ImageNet: a login): the same test images, in its webdataset layout, on the Hugging Face hub
HUB = {"cars": "wds_cars", "aircraft": "wds_fgvc_aircraft", "imagenet": "wds_imagenet1k",
       "imagenet_sketch": "wds_imagenet_sketch", "imagenet_r": "wds_imagenet-r"}


def year_first(name: str) -> str:
    """CoOp's Stanford Cars spelling: the devkit's name with its trailing year moved to the front
    ('AM General Hummer SUV 2000' -> '2000 AM General Hummer SUV'), as CoOp's stanford_cars.py writes its split."""
    *words, year = name.split(" ")
    return " ".join([year, *words])


def build(cb_dir: Path) -> dict[str, dict]:
    cb_names = json.loads((cb_dir / "en_classnames.json").read_text())
    cb_tpl = json.loads((cb_dir / "en_zeroshot_classification_templates.json").read_text())
    cb = "clip-benchmark en_classnames.json[{}]"
    cbt = "clip-benchmark en_zeroshot_classification_templates.json[{}]"
    imagenet = list(open_clip.IMAGENET_CLASSNAMES)
    imagenet_tpl = [t("{c}") for t in open_clip.SIMPLE_IMAGENET_TEMPLATES]
    in_src = "open_clip.IMAGENET_CLASSNAMES (CLIP's ImageNet names)"
    in_tpl_src = "open_clip.SIMPLE_IMAGENET_TEMPLATES (CLIP's 7 selected ImageNet templates, as the paper code)"
    wnids = timm_lines("imagenet_synsets.txt")
    r_idx = [int(i) for i in timm_lines("imagenet_r_indices.txt")]
    caltech101 = [re.sub(r"\s+", " ", c) for c in cb_names["caltech101"] if c not in ("background", "centered face")]
    cal256 = lines("caltech256")
    cub = lines("cub")
    d = {}

    def add(name, title, task, fmt, root, classnames, cn_src, templates, t_src, **kw):
        d[name] = {"name": name, "title": title, "task": task, "format": fmt, "root": root, **kw,
                   "classnames": classnames, "classnames_source": cn_src, "templates": templates,
                   "templates_source": t_src}
        d[name].setdefault("generation_template", "a photo of {}")

    add("cifar10", "CIFAR-10", "o", "cifar", "cifar-10-batches-py", lines("cifar10"), CLIP_PROMPTS.format("cifar10"),
        cb_tpl["cifar10"], cbt.format("cifar10"))
    add("cifar100", "CIFAR-100", "o", "cifar", "cifar-100-python", lines("cifar100"), CLIP_PROMPTS.format("cifar100"),
        cb_tpl["cifar100"], cbt.format("cifar100"))
    add("caltech101", "Caltech101", "o", "coop_split", "caltech-101", caltech101,
        cb.format("caltech101") + " without 'background' and 'centered face' (CoOp's 100 classes)",
        cb_tpl["caltech101"], cbt.format("caltech101"), images="101_ObjectCategories",
        split_file="split_zhou_Caltech101.json", disk_classnames=[CALTECH101_FOLDER.get(c, c) for c in caltech101])
    add("caltech256", "Caltech256", "o", "imagefolder", "256_ObjectCategories",
        [re.sub(r"-101$", "", c).replace("-", " ") for c in cal256], "Caltech-256 folder names (tools/classnames)",
        ["a photo of a {c}."], "simple template", splits={"train": ".", "test": "."},
        per_class_slice={"train": [0, 60], "test": [60, None]},
        disk_classnames=[f"{i + 1:03d}.{c}" for i, c in enumerate(cal256)])
    add("imagenet", "ImageNet", "o", "imagefolder", "imagenet/images", imagenet, in_src, imagenet_tpl, in_tpl_src,
        splits={"train": "train", "test": "val"}, folders=wnids)
    add("sun397", "SUN397", "s", "coop_split", "sun397", lines("sun397"), CLIP_PROMPTS.format("sun397"),
        cb_tpl["sun397"], cbt.format("sun397"), images="SUN397", split_file="split_zhou_SUN397.json",
        check_names=False)  # CoOp's JSON names are reversed folder paths; see check_names in the schema
    add("aircraft", "Aircraft", "f", "imagefolder", "fgvc_aircraft_folders", lines("fgvc_aircraft"),
        CLIP_PROMPTS.format("fgvc_aircraft"), ["a photo of a {c}, a type of aircraft."],
        "the paper code's aircraft_template (one prompt; its 17.34 is a single-template number)",
        splits={"train": "train", "val": "val", "test": "test"},
        disk_classnames=[f"{i + 1:03d}.{c.replace('/', '_')}" for i, c in enumerate(lines("fgvc_aircraft"))],
        generation_template="a photo of {}, a type of aircraft")
    add("birdsnap", "Birdsnap", "f", "imagefolder", "birdsnap", lines("birdsnap"), CLIP_PROMPTS.format("birdsnap"),
        ["a photo of a {c}, a type of bird."], "OpenAI CLIP data/prompts.md", splits={"train": "train", "test": "test"},
        generation_template="a photo of {}, a type of bird")
    add("cars", "Cars", "f", "coop_split", "stanford_cars", lines("stanford_cars"),
        CLIP_PROMPTS.format("stanford_cars"), cb_tpl["cars"], cbt.format("cars"), images=".",
        split_file="split_zhou_StanfordCars.json", disk_classnames=[year_first(c) for c in lines("stanford_cars")])
    add("cub", "CUB", "f", "imagefolder", "CUB_200_2011", cub, "CUB-200-2011 classes.txt (tools/classnames/cub)",
        ["a photo of a {c}, a type of bird."], "the paper code's birds_template",
        splits={"train": "train", "test": "test"},
        disk_classnames=[f"{i + 1:03d}.{c.replace(' ', '_')}" for i, c in enumerate(cub)],
        generation_template="a photo of {}, a type of bird")
    add("flowers", "Flower", "f", "coop_split", "oxford_flowers", cb_names["flowers"], cb.format("flowers"),
        cb_tpl["flowers"], cbt.format("flowers"), images="jpg", split_file="split_zhou_OxfordFlowers.json",
        generation_template="a photo of {}, a type of flower")
    add("food101", "Food", "f", "coop_split", "food-101", lines("food101"), CLIP_PROMPTS.format("food101"),
        cb_tpl["food101"], cbt.format("food101"), images="images", split_file="split_zhou_Food101.json",
        zeroshot_test={"list": "meta/test.txt", "images": "images", "extension": ".jpg"},
        generation_template="a photo of {}, a type of food")
    add("pets", "Pets", "f", "coop_split", "oxford_pets", cb_names["pets"], cb.format("pets"), cb_tpl["pets"],
        cbt.format("pets"), images="images", split_file="split_zhou_OxfordPets.json",
        generation_template="a photo of {}, a type of pet")
    add("dtd", "DTD", "t", "coop_split", "dtd", lines("dtd"), CLIP_PROMPTS.format("dtd"), ["{c} texture."],
        "the paper code's dtd_template (one prompt; its 42.23 is a single-template number)", images="images",
        split_file="split_zhou_DescribableTextures.json",
        generation_template="a photo of {} texture")
    add("eurosat", "EuroSAT", "si", "coop_split", "eurosat", cb_names["eurosat"], cb.format("eurosat"),
        ["a centered satellite photo of {c}."], "the paper code's eurosat_template", images="2750",
        split_file="split_zhou_EuroSAT.json", disk_classnames=EUROSAT_COOP, prompt_classnames=EUROSAT_COOP,
        generation_template="a centered satellite photo of {}")
    add("imagenet_sketch", "ImageNet-Sketch", "r", "imagefolder", "imagenet-sketch", imagenet, in_src, imagenet_tpl,
        in_tpl_src, splits={"test": "sketch"}, folders=wnids, generation_template="sketch of {}")
    add("imagenet_r", "ImageNet-R", "r", "imagefolder", "imagenet-r", [imagenet[i] for i in r_idx],
        in_src + " at timm's imagenet_r_indices", imagenet_tpl, in_tpl_src, splits={"test": "."},
        folders=timm_lines("imagenet_r_synsets.txt"), generation_template="a rendition of {}")
    for name, repo in HUB.items():
        d[name]["hub_webdataset"] = {"repo": f"clip-benchmark/{repo}", "root": repo, "splits": ["test"]}
    for name, (counts, source) in COUNTS.items():
        d[name]["counts"], d[name]["counts_source"] = counts, source
    return d


HEADER = ("# Generated by tools/make_dataset_configs.py (sources below); edit the generator or override here.\n"
          "# Keys are documented in config/dataset.schema.yaml.\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip-benchmark", type=Path, required=True, help="clip_benchmark/datasets folder")
    ap.add_argument("--out", type=Path, default=ROOT / "config" / "datasets")
    args = ap.parse_args()
    for name, cfg in build(args.clip_benchmark).items():
        text = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=120)
        (args.out / f"{name}.yaml").write_text(HEADER + text)
        print(f"{name}: {len(cfg['classnames'])} classes, {len(cfg['templates'])} templates")


if __name__ == "__main__":
    main()
