# Input functions, targets and settings of the zero-shot study (Tables 1-4): rules/generation.smk, features.smk,
# filtering.smk, tuning.smk and tables.smk use them.


def image_settings():
    """The generation settings that change the images (batch size, job split and background encoding do not:
    scripts read those from the config, so changing them reruns nothing; nor do the safety settings while the
    checker is off, nor the speed settings at their defaults)."""
    g = config["generation"]
    skip = {"batch_size", "classes_per_job", "background_encode"}
    if g["safety_checker"] == "off":
        skip |= {"safety_checker", "safety_retries"}
    skip |= {k for k, v in SPEED_DEFAULTS.items() if g[k] == v}
    if g["image_format"] == "png":
        skip.add("jpeg_quality")
    return {k: v for k, v in g.items() if k not in skip}


def classes_per_job(strategy):
    if strategy.startswith("RG-"):
        return config["few_shot"]["real_guidance"]["classes_per_job"]
    return config["generation"]["classes_per_job"]


def generation_chunks(dataset, strategy):
    n = n_chunks(len(DATASETS[dataset]["classnames"]), classes_per_job(strategy))
    return [f"{i:05d}" for i in range(n)]


def feature_images(w):
    """The real split's manifest (train/val/test) or the synthetic image store the features are computed from."""
    if w.source in REAL_SOURCES:
        return data_manifest(w.dataset, w.source)
    return f"{WORK}/{w.dataset}/synthetic/{w.source.removeprefix('syn-')}/images.h5"


def zeroshot_test_features(w):
    """The zero-shot study's test features: the dataset's own zero-shot test list where it has one (Food-101's
    official test set), else the test split the few-shot study uses too."""
    return f"{WORK}/{w.dataset}/features/{w.backbone}/{zeroshot_test_source(w.dataset)}.h5"


def ct_inputs(w):
    """Train (synthetic) and test features, the zero-shot head, and the CF keep-list for '<strategy>+CF' data."""
    strategy, _, filtering = w.data.partition(CF_JOINER)
    inputs = {
        "train": f"{WORK}/{w.dataset}/features/{w.backbone}/syn-{strategy}.h5",
        "test": zeroshot_test_features(w),
        "head": f"{WORK}/{w.dataset}/heads/{w.backbone}.pt",
        "images": f"{WORK}/{w.dataset}/synthetic/{strategy}/images.h5",  # its safety-checker counts
        "model_manifest": clip_manifest(w.backbone),
        "test_manifest": data_manifest(w.dataset, zeroshot_test_source(w.dataset)),
    }
    if filtering == "CF":
        inputs["keep"] = f"{WORK}/{w.dataset}/synthetic/{strategy}/cf.h5"
    return inputs


def synthetic_images(dataset, data):
    """The image store of a data name (B, LE, B+CF, LE+CF) and, for the +CF ones, the CLIP filter's keep-list."""
    strategy, _, filtering = data.partition(CF_JOINER)
    inputs = {"syn": f"{WORK}/{dataset}/synthetic/{strategy}/images.h5"}
    if filtering == "CF":
        inputs["keep"] = f"{WORK}/{dataset}/synthetic/{strategy}/cf.h5"
    return inputs


def partial_tuning_inputs(w):
    """Table 3: the synthetic images of table3.data, the head, the model, the real test images."""
    return {
        **synthetic_images(w.dataset, config["table3"]["data"]),
        "head": f"{WORK}/{w.dataset}/heads/{w.backbone}.pt",
        "images": data_manifest(w.dataset, "test"),
        "model": clip_manifest(w.backbone),
    }


def from_scratch_inputs(w):
    """Table 4: the synthetic images of table4.data, or the real train split; always the real test split."""
    inputs = {"test_manifest": data_manifest(w.dataset, "test")}
    if w.tsource != "syn":
        inputs["train_manifest"] = data_manifest(w.dataset, "train")
    if w.tsource == "syn":
        inputs.update(synthetic_images(w.dataset, config["table4"]["data"]))
    return inputs


def table2_targets():
    return [f"{RESULTS}/table2.csv"] if TABLE2_DATASETS and config["table2"]["backbone"] in BACKBONES else []


def zeroshot_image_targets():
    """Tables 3 and 4, when their dataset is configured."""
    return [f"{RESULTS}/{t}.csv" for t, cfg in (("table3", T3), ("table4", T4)) if cfg["dataset"] in DATASETS]
