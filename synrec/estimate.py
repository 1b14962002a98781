"""What a table will cost before launching it: GPU-hours per rule and per table target, from the DAG and measured
throughputs (``python -m synrec.cost --estimate``).

The dry run of a target (``snakemake <target> --forceall -n``) lists its jobs with their wildcards and GPU requests.
For each GPU job this module counts its work from the same config the workflow reads (images generated, images
encoded, training images x epochs, CoOp steps) and divides by the throughputs measured by the benchmarks (a folder
of their outputs, ``bench/results/h100/`` by default: one H100, true-size stand-ins, see bench/README.md). Each
GPU job also pays the measured start-up of a job (imports and model load). Multi-GPU jobs are counted at the
single-GPU rate times their GPUs, i.e. perfect scaling (a lower bound for them).

What is an assumption rather than a measurement is printed with the table (``ASSUMED``): the detection rate of
Faster R-CNN, the share of denoising steps real guidance runs, and image counts of real splits that are not on disk.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path

import yaml

from .clip_lora import DEFAULTS as CLIP_LORA_DEFAULTS
from .config import check_config_files, generation_settings, load_class_list, load_dataset_config, table3_epochs
from .errors import SynrecError
from .generation import chunk_classes

REPO = Path(__file__).resolve().parent.parent
DEFAULT_THROUGHPUT = REPO / "bench" / "results" / "h100"

#: What the estimate assumes where nothing was measured (each printed with the table).
ASSUMED = {
    "detection_img_per_s": (35.0, "Faster R-CNN ResNet-50 training images/s per GPU: not measured here (Detectron2's "
                                  "V100 figure, about 10 img/s, times 3.5 for an H100)"),
    "real_split_images": (10000, "images of a real split when the data is not on disk (the zero-shot test sets have "
                                 "2k-50k; at 5-8k img/s this is seconds either way)"),
    "rg_unet_share": (0.5, "share of the 50 denoising steps real guidance runs: at most 0.5 (the paper's noise levels "
                           "start img2img at or below step 25 of 50)"),
    "backward_over_forward": (3.0, "cost of a training step over a forward pass"),
    "caption_s_per_image": (0.5, "seconds per caption of DISEF's captioner (LLaVA-1.5-7B, fp16, batch 8, up to 77 "
                                 "new tokens: decoding reads the 14 GB of weights once per token, about 5 ms on an "
                                 "H100, shared by the batch; plus the 576 image tokens' prefill): not measured here"),
    "coop_text_gflop": (29.0, "GFLOP of one CLIP text-encoder forward+backward per class prompt (63 M params x 77 "
                              "tokens x 6)"),
}
CIFAR_TRAIN, VOC_TRAINVAL = 50000, 16551


def read_throughput(folder: str | Path = DEFAULT_THROUGHPUT) -> dict:
    """The rates the benchmarks measured, from their outputs in ``folder``: ``generation_throughput*.json``,
    ``model_throughput.json`` and ``pretrain.log`` (bench/pretrain_throughput.py's printout)."""
    folder = Path(folder)
    gen = folder / "generation_throughput.json"
    if not gen.is_file():
        raise SynrecError(f"estimate: {gen} not found (run bench/generation_throughput.py --out {gen})")
    g = json.loads(gen.read_text())
    best = g["batches"][str(g["best_batch"])]
    t = {"device": g["device"], "gen_s_per_image": g["s_per_image"], "gen_unet_share": best["share"]["unet_all_steps"],
         "gen_steps": g.get("steps", 50),
         "startup_s": g["startup"]["process_s"], "unet_tflops": best.get("unet_tflops", 1.0),
         "source": str(folder)}
    m = folder / "model_throughput.json"
    if m.is_file():
        mt = json.loads(m.read_text())
        t["clip_img_per_s"] = {k.removeprefix("clip_").removesuffix("_images_per_s"): v for k, v in mt.items()
                               if k.startswith("clip_") and k.endswith("_images_per_s")}
        t["le_s_per_class"] = mt["le_s_per_class"]
    p = folder / "pretrain.log"
    if p.is_file():
        t["train_img_per_s"] = {f"{meth}/{model}": float(bf16) for meth, model, bf16 in
                                re.findall(r"^(\w+)\s+(\S+)\s+bf16\s+([\d.]+) img/s", p.read_text(), re.M)}
    missing = [k for k in ("clip_img_per_s", "le_s_per_class", "train_img_per_s") if k not in t]
    if missing:
        raise SynrecError(f"estimate: {folder} lacks {', '.join(missing)} (run bench/model_throughput.py and "
                          "bench/pretrain_throughput.py there)")
    return t


def snakemake_config(snakemake_args: list[str], repo: str | Path = ".") -> dict:
    """The config the workflow would see: config/config.yaml, then each ``--configfile`` in order (merged the way
    Snakemake merges them), validated with the schema's defaults filled. (``--config key=value`` is not read.)"""
    repo = Path(repo)
    files, take = [], False
    for a in snakemake_args:
        if a in ("--configfile", "--configfiles"):
            take = True
        elif a.startswith("-"):
            take = False
        elif take:
            files.append(a)
    return check_config_files([repo / f for f in files], base=repo / "config" / "config.yaml")


def parse_jobs(text: str) -> list[dict]:
    """``[{rule, wildcards: {...}, gpus}]`` of a ``snakemake -n`` listing."""
    jobs, cur = [], None
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            cur = {"rule": m.group(1), "wildcards": {}, "gpus": 0}
            jobs.append(cur)
        elif cur and line.startswith("wildcards: "):
            cur["wildcards"] = dict(kv.split("=", 1) for kv in re.split(r", (?=\w+=)", line[len("wildcards: "):]))
        elif cur and line.startswith("resources: "):
            g = re.search(r"\bgpu=(\d+)", line)
            cur["gpus"] = int(g.group(1)) if g else 0
    return jobs


class Estimator:
    """GPU-seconds of one job of the workflow, from the config and the throughputs."""

    def __init__(self, cfg: dict, throughput: dict, repo: str | Path = "."):
        self.cfg, self.t, self.repo = cfg, throughput, Path(repo)
        self.assumed: set[str] = set()
        self.assumptions = dict(ASSUMED)  # and one per generator priced by FLOPs
        self._classes: dict[str, int] = {}

    def classes(self, name: str) -> int:
        if name not in self._classes:
            d = self.repo / self.cfg["dataset_config_dir"]
            try:
                n = len(load_dataset_config(name, d)["classnames"])
            except SynrecError:
                n = len(load_class_list(name, d, self.repo / self.cfg["pretraining"]["label_space_dir"])["classnames"])
            self._classes[name] = n
        return self._classes[name]

    def a(self, key: str) -> float:
        self.assumed.add(key)
        return self.assumptions[key][0]

    def generation_config(self, strategy: str) -> dict:
        return generation_settings(self.cfg, strategy)

    def seconds_per_image(self, strategy: str) -> float:
        """Generation seconds per image: SD v1-4's measured rate at the configured steps; for a named generator,
        its denoiser's FLOPs (true size, its resolution and steps, twice per step with CFG) at the UNet's measured
        TFLOP/s, plus the rest of SD's image time scaled by pixels (an assumption, printed)."""
        t, gen, name = self.t, self.generation_config(strategy), strategy.partition("@")[2]
        share = t["gen_unet_share"]
        if not name:
            s = t["gen_s_per_image"] * (1 - share + share * gen["num_inference_steps"] / t.get("gen_steps", 50))
        else:
            from .tiny_generators import FAMILY_TEXT, denoiser_tflops, family_of

            spec = self.cfg["generators"][name]
            family = family_of(spec)
            if family is None:
                raise SynrecError(f"estimate: the family of generator '{name}' ({spec['model']}) is unknown: its "
                                  f"model_index.json is not on disk; set generators.{name}.family")
            calls = 2 if FAMILY_TEXT[family][1] and gen["guidance_scale"] > 1 else 1
            tflop = denoiser_tflops(family, gen["height"], gen["width"])
            pixels = gen["height"] * gen["width"] / (512 * 512)
            s = (gen["num_inference_steps"] * calls * tflop / t["unet_tflops"]
                 + t["gen_s_per_image"] * (1 - share) * pixels)
            key = f"generator_{name}"
            self.assumptions[key] = (s, f"seconds per image of generator '{name}' ({family}, {gen['height']}x"
                                        f"{gen['width']} px, {gen['num_inference_steps']} steps x {calls}): "
                                        f"{tflop:.2f} TFLOP per denoiser call at the SD UNet's measured "
                                        f"{t['unet_tflops']:.0f} TFLOP/s, VAE and text encoders scaled by pixels")
            self.assumed.add(key)
        return s

    def clip_forward(self, backbone: str) -> float:
        """Seconds per image of the backbone's image encoder."""
        model = self.cfg["models"]["clip"][backbone]["model"]
        rates = self.t["clip_img_per_s"]
        return 1.0 / rates.get(model, rates.get(backbone, min(rates.values())))

    def images_of_source(self, w: dict) -> float:
        src, c = w["source"], self.classes(w["dataset"])
        if src.startswith("syn-RG"):
            return c * self.cfg["few_shot"]["real_guidance"]["images_per_class"]
        if src.startswith("syn-"):
            return c * self.generation_config(src.removeprefix("syn-"))["images_per_class"]
        return self.a("real_split_images")

    def seconds(self, job: dict) -> float:
        """GPU-seconds of ``job`` (0 for CPU jobs)."""
        if job["gpus"] == 0:
            return 0.0
        rule, w, cfg, t = job["rule"], job["wildcards"], self.cfg, self.t
        fs = cfg["few_shot"]
        work = 0.0
        # the UNet's share of an image scales with the configured steps (any sampler: one UNet call per step)
        share = t["gen_unet_share"]
        s_img = self.seconds_per_image("")
        if rule == "generate":
            g = self.generation_config(w["strategy"])
            n = len(chunk_classes(int(w["chunk"]), self.classes(w["dataset"]), g["classes_per_job"]))
            work = n * g["images_per_class"] * self.seconds_per_image(w["strategy"])
        elif rule == "real_guidance":
            rg = fs["real_guidance"]
            n = len(chunk_classes(int(w["chunk"]), self.classes(w["dataset"]), rg["classes_per_job"]))
            work = n * rg["images_per_class"] * s_img * (1 - share + share * self.a("rg_unet_share"))
        elif rule == "generate_pretrain":
            g = cfg["pretraining"]["generation"]
            work = g["classes_per_job"] * g["images_per_job"] * s_img
        elif rule == "prompts":
            work = self.classes(w["dataset"]) * t["le_s_per_class"] if w["strategy"] == "LE" else 0.0
        elif rule == "features":
            work = self.images_of_source(w) * self.clip_forward(w["backbone"])
        elif rule == "shot_features":  # Tip-Adapter's cache: augmented views of the K shots per class
            n = fs["tip_adapter"]["augment_passes"] * self.classes(w["dataset"]) * int(w["shots"])
            work = n * self.clip_forward(w["backbone"])
        elif rule == "partial_tuning":  # CF-kept synthetic images x CT epochs through the encoder
            n = self.classes(w["dataset"]) * cfg["clip_filter"]["budget"]
            work = n * table3_epochs(cfg) * self.a("backward_over_forward") * self.clip_forward(w["backbone"])
        elif rule == "frozen_bn":
            c, shots = self.classes(w["dataset"]), int(w["shots"])
            if w["tdata"] == "real":
                n, epochs = c * shots, fs["ct_real"]["epochs"]
            else:
                n, epochs = c * cfg["clip_filter"]["budget"], cfg["ct"]["epochs"]
            work = n * epochs * self.a("backward_over_forward") * self.clip_forward(w["backbone"])
        elif rule == "coop":  # every step runs the text encoder over all C class prompts, forward and backward
            co, c, shots = fs["coop"], self.classes(w["dataset"]), int(w["shots"])
            epochs = co["dataset_epochs"].get(w["dataset"], co["epochs"][str(shots)])
            steps = epochs * math.ceil(c * shots / co["batch_size"])
            work = steps * c * self.a("coop_text_gflop") * 1e9 / (t["unet_tflops"] * 1e12)
        elif rule == "clip_lora":  # per step: a batch per stream through the image encoder, C prompts through the
            # text encoder, forward and backward; then the test split re-encoded once
            cl, c, shots = {**CLIP_LORA_DEFAULTS, **fs["clip_lora"]}, self.classes(w["dataset"]), int(w["shots"])
            steps = cl["iters_per_shot"] * shots
            images = min(cl["batch_size"], c * shots) + (cl["batch_size"] if w["clmethod"] != "clip-lora" else 0)
            step = (images * self.a("backward_over_forward") * self.clip_forward(w["backbone"])
                    + c * self.a("coop_text_gflop") * 1e9 / (t["unet_tflops"] * 1e12))
            work = steps * step + self.a("real_split_images") * self.clip_forward(w["backbone"])
        elif rule == "datadream_lora":  # per LoRA: steps x batch images through the UNet, forward and backward
            dd, c = fs["datadream"], self.classes(w["dataset"])
            groups = (len(chunk_classes(int(w["chunk"]), c, dd["classes_per_job"])) if dd["mode"] == "per_class"
                      else 1)
            per_lora = c * int(w["shots"]) // (c if dd["mode"] == "per_class" else 1)
            steps = dd["epochs"] * math.ceil(per_lora / dd["batch_size"])
            unet_call = t["gen_s_per_image"] * share / (t.get("gen_steps", 50) * 2)  # one UNet pass, one image (CFG)
            batch = min(dd["batch_size"], per_lora)
            work = groups * steps * batch * self.a("backward_over_forward") * unet_call
        elif rule == "datadream_generate":
            dd = fs["datadream"]
            n = len(chunk_classes(int(w["chunk"]), self.classes(w["dataset"]), dd["classes_per_job"]))
            work = n * dd["images_per_class"] * s_img
        elif rule == "captions":  # DISEF: one caption per shot
            work = self.classes(w["dataset"]) * int(w["shots"]) * self.a("caption_s_per_image")
        elif rule == "disef_generate":  # img2img: the UNet runs the strength's share of the steps
            ds = fs["disef"]
            g = self.generation_config(f"DISEF-{w['shots']}shot-seed{w['fseed']}")
            n = len(chunk_classes(int(w["chunk"]), self.classes(w["dataset"]), ds["classes_per_job"]))
            unet = share * int(g["num_inference_steps"] * ds["strength"]) / t.get("gen_steps", 50)
            work = n * ds["images_per_class"] * t["gen_s_per_image"] * (1 - share + unet)
        elif rule == "from_scratch":
            t4 = cfg["table4"]
            c = self.classes(w["dataset"])
            n = c * (t4["syn_per_class"] if w["tsource"] == "syn" else int(w["tsource"].split("-")[1]))
            work = n * t4["epochs"] / self.train_rate("supervised", t4["model"])
        elif rule == "pretrain":
            pt = cfg["pretraining"]
            recipe = pt["mocov2"] if w["ptmethod"] == "mocov2" else pt["supervised"][w["ptmodel"]]
            n = pt["amounts"][w["amount"]]
            work = n * recipe["epochs"] / self.train_rate(w["ptmethod"], w["ptmodel"])
        elif rule == "transfer_cifar":
            recipe = cfg["pretraining"]["cifar"]["train"][w["ptmodel"]]
            work = CIFAR_TRAIN * recipe["epochs"] / self.train_rate("supervised", w["ptmodel"])
        elif rule == "transfer_voc":
            work = VOC_TRAINVAL * cfg["pretraining"]["voc"]["epochs"] / self.a("detection_img_per_s")
        return work + t["startup_s"] * job["gpus"]

    def train_rate(self, method: str, model: str) -> float:
        rates = self.t["train_img_per_s"]
        key = f"{method}/{model}"
        if key not in rates:
            raise SynrecError(f"estimate: no measured training rate for {key} in {self.t['source']} "
                              f"(have {sorted(rates)})")
        return rates[key]


def estimate_rows(targets: dict[str, list[dict]], est: Estimator) -> list[list]:
    """Per target: ``[target, rule, jobs, gpu_jobs, est_gpu_hours]`` per rule with GPU jobs, and a total row."""
    rows = []
    for target, jobs in targets.items():
        per_rule = defaultdict(lambda: [0, 0, 0.0])
        for job in jobs:
            acc = per_rule[job["rule"]]
            acc[0] += 1
            acc[1] += job["gpus"] > 0
            acc[2] += est.seconds(job) / 3600
        total = [0, 0, 0.0]
        for rule in sorted(per_rule):
            n, g, h = per_rule[rule]
            if g:
                rows.append([target, rule, n, g, f"{h:.4f}"])
            total = [total[0] + n, total[1] + g, total[2] + h]
        rows.append([target, "all rules", total[0], total[1], f"{total[2]:.4f}"])
    return rows


def empty_data_override(cfg: dict, tmp: str | Path, repo: str | Path = ".", outputs_too: bool = False) -> Path:
    """A config file pointing ``data_root`` (and with ``outputs_too`` ``work_dir`` and ``results_dir``) into
    ``tmp``, with an empty folder for every configured dataset and VOC, and empty stand-ins for IN-1k weights that
    are files: a dry run of the whole DAG needs no data (it reads none until jobs run)."""
    tmp, repo = Path(tmp), Path(repo)
    for name in cfg["datasets"]:
        (tmp / load_dataset_config(name, repo / cfg["dataset_config_dir"])["root"]).mkdir(parents=True, exist_ok=True)
    pt = cfg["pretraining"]
    (tmp / pt["voc"]["root"]).mkdir(parents=True, exist_ok=True)
    weights = {m: {k: (v if v.startswith("timm:") else str(tmp / Path(v).name)) for k, v in d.items()}
               for m, d in pt["in1k_weights"].items()}
    for d in weights.values():
        for v in d.values():
            if not v.startswith("timm:"):
                Path(v).touch()
    override = tmp / "without-data.yaml"
    outputs = {"work_dir": str(tmp / "work"), "results_dir": str(tmp / "results")} if outputs_too else {}
    override.write_text(yaml.safe_dump({"data_root": str(tmp), **outputs, "pretraining": {"in1k_weights": weights}}))
    return override
