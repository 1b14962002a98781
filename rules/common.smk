# Helpers shared by the rules: which files a model or dataset stands for.
from synrec.models import local_model_path


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
