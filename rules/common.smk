# Helper functions shared by the rules (kept here so rule files hold only rules).
import re

from synrec.models import local_model_path


def _fail(exc):
    sys.exit(f"synrec: {exc}")


def _alternatives(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(n) for n in names)


def model_input(spec):
    """A local model folder is an input (so rule tiny_model can build it); a hub name needs none."""
    path = local_model_path(spec)
    return [path] if path else []


def clip_spec(backbone):
    return config["models"]["clip"][backbone]


def dataset_dir(name):
    root = Path(DATASETS[name]["root"])
    return str(root if root.is_absolute() else Path(config["data_root"]) / root)


def log_path(rule_name, pattern):
    return f"logs/{rule_name}/{pattern}.log"


def generation_chunks(dataset):
    n = n_chunks(len(DATASETS[dataset]["classnames"]), config["generation"]["classes_per_job"])
    return [f"{i:05d}" for i in range(n)]


def feature_images(w):
    """The real dataset folder (test split) or the synthetic image store the features are computed from."""
    if w.source == "test":
        return dataset_dir(w.dataset)
    return f"{W}/{w.dataset}/synthetic/{w.source.removeprefix('syn-')}/images.h5"


def ct_inputs(w):
    """Train (synthetic) and test features, the zero-shot head, and the CF keep-list for '<strategy>+CF' data."""
    strategy, _, filtering = w.data.partition(CF_JOINER)
    inputs = {
        "train": f"{W}/{w.dataset}/features/{w.backbone}/syn-{strategy}.h5",
        "test": f"{W}/{w.dataset}/features/{w.backbone}/test.h5",
        "head": f"{W}/{w.dataset}/heads/{w.backbone}.pt",
    }
    if filtering == "CF":
        inputs["keep"] = f"{W}/{w.dataset}/synthetic/{strategy}/cf.h5"
    return inputs
