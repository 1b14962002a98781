# Input functions, targets and settings of the zero-shot study (Tables 1-4): rules/generation.smk, features.smk,
# filtering.smk, tuning.smk and tables.smk use them.


def split_strategy(strategy):
    """'LE@sdxl' -> ('LE', 'sdxl'); 'LE' -> ('LE', None): the prompt strategy and the generator (None: the default,
    models.text_to_image)."""
    base, _, generator = strategy.partition("@")
    return base, generator or None


def generator_role(strategy):
    """The model-manifest role of a strategy's generator."""
    generator = split_strategy(strategy)[1]
    return f"text_to_image@{generator}" if generator else "text_to_image"


def generator_spec(strategy):
    return model_roles()[generator_role(strategy)]


def generation_config(strategy=None):
    """config['generation'] with the settings a named generator changes."""
    return synrec_generation_settings(config, strategy)


def image_settings(strategy=None):
    """The generation settings that change the images (batch size, job split and background encoding do not:
    scripts read those from the config, so changing them reruns nothing; nor do the safety settings while the
    checker is off, nor the speed settings at their defaults)."""
    g = generation_config(strategy)
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
    return generation_config(strategy)["classes_per_job"]


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


# --- results/generators.csv: the same zero-shot protocol on each configured generator's images ---------------------

GT = config["generators_table"]
GT_DATASETS = [d for d in GT.get("datasets", list(DATASETS)) if d in DATASETS]
GT_BACKBONE = GT.get("backbone") or BACKBONES[0]
GT_GENERATORS = GT.get("generators") or ["default", *GENERATORS]


def gt_strategy(generator):
    """The generation strategy of generators_table.variant on a generator ('default': models.text_to_image)."""
    run = synrec_generator_variant(GT["variant"], None if generator == "default" else generator)
    return re.match(r"[A-Za-z]+(@\w+)?", run).group(0)


def gt_runs():
    return ["CLIP"] + [synrec_generator_variant(GT["variant"], None if g == "default" else g) for g in GT_GENERATORS]


def gt_benchmarks():
    """{generator: {dataset: the benchmark files of its generation jobs}}."""
    return {
        g: {
            d: [benchmark_path("generate", f"{d}-{gt_strategy(g)}-{c}") for c in generation_chunks(d, gt_strategy(g))]
            for d in GT_DATASETS
        }
        for g in GT_GENERATORS
    }


def gt_images():
    """{generator: {dataset: how many images its generation jobs made}}."""
    return {
        g: {
            d: len(DATASETS[d]["classnames"]) * generation_config(gt_strategy(g))["images_per_class"]
            for d in GT_DATASETS
        }
        for g in GT_GENERATORS
    }


def gt_titles():
    return [[g, GT["default_title"] if g == "default" else GENERATORS[g].get("title", g)] for g in GT_GENERATORS]
