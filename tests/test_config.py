from pathlib import Path

import pytest
import yaml

from synrec.config import CONFIG_SCHEMA, load_dataset_config, stable_hash, validate
from synrec.errors import SynrecError

REPO = Path(__file__).resolve().parent.parent


def paper_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_paper_config_is_valid_and_defaults_are_filled():
    cfg = validate(paper_config(), CONFIG_SCHEMA, "config.yaml")
    assert cfg["ct"] == {"epochs": 30, "lr": 0.002, "weight_decay": 0.1, "batch_size": 512, "warmup_steps": 0,
                         "grad_clip": 1.0}
    assert cfg["sce"] == {"weight": 0.5, "temperature": 2.0}
    assert cfg["clip_filter"] == {"backbone": "RN50", "threshold": None, "budget": 800}
    assert cfg["le"]["max_rounds"] == 4  # a default from the schema
    assert cfg["models"]["word_to_sentence"]["model"] == "mrm8488/t5-base-finetuned-common_gen"
    assert cfg["models"]["clip"]["RN50"] == {"model": "RN50", "pretrained": "openai", "dtype": "float16"}
    assert len(cfg["datasets"]) == 17


def test_all_seventeen_dataset_configs_load_with_the_papers_class_counts():
    expected = {"cifar10": 10, "cifar100": 100, "caltech101": 100, "caltech256": 257, "imagenet": 1000,
                "sun397": 397, "aircraft": 100, "birdsnap": 500, "cars": 196, "cub": 200, "flowers": 102,
                "food101": 101, "pets": 37, "dtd": 47, "eurosat": 10, "imagenet_sketch": 1000, "imagenet_r": 200}
    tasks = {}
    for name in paper_config()["datasets"]:
        cfg = load_dataset_config(name, REPO / "config" / "datasets")
        assert len(cfg["classnames"]) == expected[name], name
        assert cfg["classnames_source"] and cfg["templates_source"]
        tasks[name] = cfg["task"]
    assert tasks["eurosat"] == "si" and tasks["dtd"] == "t" and tasks["sun397"] == "s" and tasks["imagenet_r"] == "r"


def test_dtd_and_aircraft_heads_use_the_paper_codes_single_templates():
    """The paper's DTD 42.23 and Aircraft 17.34 are single-template numbers (the code's dtd_template and
    aircraft_template), not CLIP_benchmark's 8- and 2-template ensembles."""
    load = lambda name: load_dataset_config(name, REPO / "config" / "datasets")  # noqa: E731
    assert load("dtd")["templates"] == ["{c} texture."]
    assert load("aircraft")["templates"] == ["a photo of a {c}, a type of aircraft."]


def test_paper_code_prompt_and_weight_choices():
    """docs/differences.md: EuroSAT generates from its own names (the paper code's LE/generation labels) and tunes a
    head of CLIP's; the domain-shifted sets generate in their domain; MoCo v2's IN-1k weights are the 200-epoch
    model, whose VOC AP50 (82.4) is the paper's 82.44."""
    load = lambda name: load_dataset_config(name, REPO / "config" / "datasets")  # noqa: E731
    eurosat = load("eurosat")
    assert eurosat["prompt_classnames"][2] == "Herbaceous Vegetation Land"
    assert eurosat["classnames"][2] == "brushland or shrubland"
    assert load("imagenet_sketch")["generation_template"] == "sketch of {}"  # the paper code's variant
    assert load("imagenet_r")["generation_template"] == "a rendition of {}"
    weights = paper_config()["pretraining"]["in1k_weights"]["mocov2"]["resnet50"]
    assert weights.endswith("moco_v2_200ep_pretrain.pth.tar")


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"ct": {"lr": "fast"}}, "key 'ct.lr': 'fast' is not of type 'number'"),
        ({"datasets": []}, "key 'datasets'"),
        ({"device": "gpu"}, "key 'device': 'gpu' does not match '^(auto|cpu|cuda(:[0-9]+)?)$'"),
        ({"typo_key": 1}, "'typo_key' was unexpected"),
        ({"sce": {"weight": 2}}, "key 'sce.weight': 2 is greater than the maximum of 1"),
        # sizes are bounded: a negative height used to crash generation after writing empty shards
        ({"generation": {"height": -32}}, "key 'generation.height': -32 is less than the minimum of 8"),
        ({"generation": {"width": 500}}, "key 'generation.width': 500 is not a multiple of 8"),
        ({"ct": {"batch_size": 0}}, "key 'ct.batch_size': 0 is less than the minimum of 1"),
        ({"few_shot": {"mix": {"lr": -0.1}}}, "key 'few_shot.mix.lr': -0.1 is less than the minimum of 0"),
        # JSON Schema counts 16.0 as an integer; generation then crashed in range() with a 145-line TypeError
        ({"generation": {"images_per_class": 16.0}},
         "key 'generation.images_per_class': 16.0 is not of type 'integer' (write a whole number without a decimal "
         "point)"),
    ],
)
def test_malformed_config_is_one_line_naming_the_key(patch, message):
    cfg = paper_config()
    for k, v in patch.items():
        cfg[k] = v
    with pytest.raises(SynrecError) as e:
        validate(cfg, CONFIG_SCHEMA, "config.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith("config.yaml: ")


def test_dataset_config_errors_name_the_file_and_key(tmp_path):
    good = yaml.safe_load((REPO / "config" / "datasets" / "demo_shapes.yaml").read_text())
    with pytest.raises(SynrecError, match="not found"):
        load_dataset_config("nope", tmp_path)
    (tmp_path / "bad.yaml").write_text("name: bad\ntitle: [unclosed\n")
    with pytest.raises(SynrecError, match=r"bad.yaml: not valid YAML \(line"):
        load_dataset_config("bad", tmp_path)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({**good, "name": "t", "templates": ["a photo of a {}."]}))
    with pytest.raises(SynrecError, match=r"t.yaml: key 'templates.0' must contain '\{c\}'"):
        load_dataset_config("t", tmp_path)
    (tmp_path / "u.yaml").write_text(yaml.safe_dump({**good, "name": "u", "format": "zip"}))
    with pytest.raises(SynrecError, match=r"u.yaml: key 'format': 'zip' is not one of"):
        load_dataset_config("u", tmp_path)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({**good, "name": "p", "prompt_classnames": ["one", "two"]}))
    with pytest.raises(SynrecError, match="p.yaml: key 'prompt_classnames' has 2 entries but 'classnames' has 4"):
        load_dataset_config("p", tmp_path)
    (tmp_path / "v.yaml").write_text(yaml.safe_dump({**good, "name": "w"}))
    with pytest.raises(SynrecError, match="key 'name' is 'w' but the file is named 'v.yaml'"):
        load_dataset_config("v", tmp_path)


def test_conda_env_pins_match_requirements():
    lines = (REPO / "envs" / "requirements.txt").read_text().splitlines()
    req = {line for line in lines if line and not line.startswith("#")}
    env = yaml.safe_load((REPO / "envs" / "synrec.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pip) == req
    assert "torch==2.14.1" in req and "torchvision==0.29.1" in req


def test_stable_hash_is_order_independent_and_sensitive():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_scripts_read_params_not_config():
    """A script's settings come as rule params (so params say what changes an output); the config is read only for
    the provenance hash of result_record/config_hash and through runlog.throughput_settings."""
    import re

    offenders = []
    for path in sorted((REPO / "scripts").glob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"(?:sm|snakemake)\.config\s*[\[.]", line):  # indexed or a method: a setting read
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, offenders


def test_snakefile_holds_declarations_only():
    import re

    text = (REPO / "workflow" / "Snakefile").read_text()
    code = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    allowed = re.compile(r"^(from snakemake\.utils import min_version|min_version\(.*\)|configfile:.*|report:.*|"
                         r"include:.*|localrules:|rule all:)$")
    assert [line for line in code if not allowed.match(line)] == []


def test_readme_is_short_and_its_links_exist():
    import re

    text = (REPO / "README.md").read_text()
    assert len(text) < 8000
    links = set(re.findall(r"`((?:docs|config|bench)/[\w./-]+\.md)`", text))
    assert {"docs/differences.md", "docs/cluster.md", "config/README.md", "bench/README.md"} <= links
    assert all((REPO / link).is_file() for link in links)


def test_every_script_puts_the_checkout_on_sys_path_before_importing_synrec():
    """Inside a --use-conda env synrec is not installed: ``import _synrec_path`` must come before any synrec import
    (the import sorter keeps it in a section of its own, first)."""
    for path in sorted((REPO / "scripts").glob("*.py")):
        if path.name == "_synrec_path.py":
            continue
        imports = [line for line in path.read_text().splitlines() if line.startswith(("import ", "from "))]
        assert imports and imports[0].startswith("import _synrec_path"), path.name


def test_config_files_are_checked_naming_the_file_and_line_snakemake_does_not(tmp_path, capsys):
    from synrec.config import check_config_files
    from synrec.config import main as check_main

    bad = tmp_path / "bad.yaml"
    bad.write_text("generation: {height: 64\n  width: [\n")
    with pytest.raises(SynrecError, match=r"bad\.yaml: not valid YAML \(line 2\)"):
        check_config_files([bad])
    neg = tmp_path / "neg.yaml"
    neg.write_text("generation: {height: -32}\n")
    with pytest.raises(SynrecError, match=r"neg\.yaml \(over config\.yaml\): key 'generation\.height'"):
        check_config_files([neg])
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n")
    with pytest.raises(SynrecError, match="must be a mapping"):
        check_config_files([listing])
    ok = tmp_path / "ok.yaml"
    ok.write_text("generation: {height: 256, width: 256}\n")
    assert check_config_files([ok])["generation"]["height"] == 256
    assert check_main([str(bad)]) == 1 and "bad.yaml: not valid YAML (line 2)" in capsys.readouterr().err
    assert check_main([str(ok)]) == 0


@pytest.mark.parametrize(
    "generators, table, message",
    [
        ({"sd-xl": {"model": "x"}}, {}, "key 'generators': 'sd-xl' does not match"),
        ({"sdxl": {"model": "x", "generation": {"steps": 30}}}, {},
         "generators.sdxl.generation.steps is not a generation setting"),
        ({"sdxl": {"model": "x"}}, {"generators": ["default", "flux"]},
         "generators_table.generators names 'flux', which is neither 'default' nor a key of generators (['sdxl'])"),
        ({}, {"backbone": "RN5000"}, "generators_table.backbone 'RN5000' is not a key of models.clip"),
    ],
)
def test_a_wrong_generator_entry_is_one_line_naming_the_key(generators, table, message):
    from synrec.config import check_cross_fields

    cfg = paper_config()
    cfg["generators"], cfg["generators_table"] = generators, table
    with pytest.raises(SynrecError) as e:
        check_cross_fields(validate(cfg, CONFIG_SCHEMA, "config.yaml"))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_generator_takes_its_own_settings_and_the_defaults_stay_as_they_were():
    cfg = paper_config()
    cfg["generators"] = {"flux_schnell": {"model": "black-forest-labs/FLUX.1-schnell", "dtype": "bfloat16",
                                          "generation": {"num_inference_steps": 4, "guidance_scale": 0.0,
                                                         "call_kwargs": {"max_sequence_length": 256}}}}
    from synrec.config import check_cross_fields

    out = validate(cfg, CONFIG_SCHEMA, "config.yaml")
    check_cross_fields(out)
    assert out["generators"]["flux_schnell"]["generation"]["num_inference_steps"] == 4
    assert out["generation"]["num_inference_steps"] == 50 and out["generators_table"]["variant"] == "LE+CF-SCE"
