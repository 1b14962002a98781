import numpy as np
import pytest
import torch
from PIL import Image

from synrec.errors import SynrecError
from synrec.models import load_clip, load_text_to_image, load_word_to_sentence, local_model_path, model_identity


def test_tiny_clip_loads_through_open_clip_local_dir(tiny_models):
    for key, arch_has_bn in (("clip_rn", True), ("clip_vit", False)):
        model, preprocess, tokenizer = load_clip({"model": f"local-dir:{tiny_models[key]}"})
        x = preprocess(Image.fromarray(np.zeros((40, 30, 3), np.uint8))).unsqueeze(0)
        assert x.shape == (1, 3, 64, 64)
        assert model.encode_image(x).shape == (1, 32)
        assert model.encode_text(tokenizer(["a photo of a cat"])).shape == (1, 32)
        has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
        assert has_bn == arch_has_bn  # the RN tower is open_clip's ModifiedResNet, like CLIP RN50
        assert not model.training


def test_tiny_diffusers_pipeline_text2img_and_img2img(tiny_models):
    pipe = load_text_to_image({"model": tiny_models["sd"]})
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    out = pipe(["a red circle"], num_inference_steps=2, height=32, width=32, output_type="np",
               generator=[torch.Generator().manual_seed(0)]).images
    assert out.shape == (1, 32, 32, 3) and 0 <= out.min() and out.max() <= 1
    i2i = load_text_to_image({"model": tiny_models["sd"]}, img2img=True)
    assert type(i2i).__name__ == "StableDiffusionImg2ImgPipeline"


def test_tiny_t5_samples_text(tiny_models):
    tok, model = load_word_to_sentence({"model": tiny_models["t5"]})
    torch.manual_seed(0)
    ids = model.generate(**tok(["circle"], return_tensors="pt"), do_sample=True, max_length=8)
    assert isinstance(tok.batch_decode(ids, skip_special_tokens=True)[0], str)


def test_unknown_and_missing_models_are_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(SynrecError, match="CLIP model 'RN5O' is not an open_clip model name"):
        load_clip({"model": "RN5O"})
    with pytest.raises(SynrecError, match="unknown pretrained tag or file 'opneai'"):
        load_clip({"model": "RN50", "pretrained": "opneai"})
    with pytest.raises(SynrecError, match=r"CLIP model 'local-dir:.*nothing': .*open_clip_config.json not found"):
        load_clip({"model": f"local-dir:{tmp_path}/nothing"})
    # a real name whose weights are not in the (empty) cache: the message names model and cache, on one line
    with pytest.raises(SynrecError) as e:
        load_clip({"model": "RN50", "pretrained": "openai"})
    assert "CLIP model 'RN50' (pretrained 'openai') could not be loaded" in str(e.value)
    assert "offline=yes" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(SynrecError, match="text-to-image model 'CompVis/stable-diffusion-v1-4' could not be loaded"):
        load_text_to_image({"model": "CompVis/stable-diffusion-v1-4"})
    with pytest.raises(SynrecError, match="word-to-sentence model 'mrm8488/t5-base-finetuned-common_gen' could not"):
        load_word_to_sentence({"model": "mrm8488/t5-base-finetuned-common_gen"})


def _cached(hub, repo_id, filename):
    """A file in the Hugging Face cache, in the layout huggingface_hub writes (refs/main names the snapshot)."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True, exist_ok=True)
    (repo / "snapshots" / "abc123" / filename).write_text("{}")


def test_every_model_is_checked_before_any_job_against_its_library_and_the_cache(tmp_path, monkeypatch):
    """Issues 32 and 30: a wrong CLIP name or tag, a missing folder, a hub model or CLIP weights not in the cache:
    one line each, from check_model, which the run's refresh calls before any job is submitted (a compute node
    cannot fetch, and Snakemake would first remove the job's outputs); what is there passes."""
    import huggingface_hub.constants as hc

    from synrec.models import check_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    for spec, message in (({"model": "RN5000"}, "CLIP model 'RN5000' is not an open_clip model name"),
                          ({"model": "RN50", "pretrained": "opneai"}, "unknown pretrained tag or file 'opneai'")):
        with pytest.raises(SynrecError, match=message):
            check_model("clip-RN50", spec)
    with pytest.raises(SynrecError) as e:  # a real name and tag, the weights not fetched yet
        check_model("clip-RN50", {"model": "RN50", "pretrained": "openai"})
    assert "its weights (timm/resnet50_clip.openai) are not in the Hugging Face cache" in str(e.value)
    assert "`hf download timm/resnet50_clip.openai`" in str(e.value) and "\n" not in str(e.value)
    _cached(tmp_path / "hub", "timm/resnet50_clip.openai", "open_clip_model.safetensors")
    check_model("clip-RN50", {"model": "RN50", "pretrained": "openai"})
    with pytest.raises(SynrecError, match=r"text_to_image model folder \./nothing does not exist"):
        check_model("text_to_image", {"model": "./nothing"})
    with pytest.raises(SynrecError) as e:
        check_model("text_to_image", {"model": "nosuch-org/nosuch-model"})
    assert "text-to-image model 'nosuch-org/nosuch-model' is not in the Hugging Face cache" in str(e.value)
    assert "hf download nosuch-org/nosuch-model" in str(e.value) and "\n" not in str(e.value)
    _cached(tmp_path / "hub", "nosuch-org/nosuch-model", "model_index.json")
    check_model("text_to_image", {"model": "nosuch-org/nosuch-model"})
    # a named generator is checked as a diffusers pipeline too (model_index.json), its role in the message
    with pytest.raises(SynrecError, match="text-to-image@sdxl model 'org/sdxl' is not in the Hugging Face cache"):
        check_model("text_to_image@sdxl", {"model": "org/sdxl"})
    _cached(tmp_path / "hub", "org/sdxl", "model_index.json")
    check_model("text_to_image@sdxl", {"model": "org/sdxl"})
    with pytest.raises(SynrecError, match="word-to-sentence model 'nosuch-org/nosuch-model' is not in"):
        check_model("word_to_sentence", {"model": "nosuch-org/nosuch-model"})  # a T5 repo has config.json


def test_local_paths_vs_hub_names_and_identity(tiny_models, tmp_path):
    assert local_model_path({"model": "CompVis/stable-diffusion-v1-4"}) is None
    assert local_model_path({"model": "RN50", "pretrained": "openai"}) is None
    assert local_model_path({"model": "resources/tiny/t5"}) == "resources/tiny/t5"
    assert local_model_path({"model": "local-dir:x/y"}) == "x/y"
    ident = model_identity({"model": f"local-dir:{tiny_models['clip_rn']}"})
    assert len(ident["sha256"]) == 16
    assert ident != model_identity({"model": f"local-dir:{tiny_models['clip_vit']}"})
    assert "sha256" not in model_identity({"model": "RN50", "pretrained": "openai"})


def test_a_models_dtype_applies_on_gpu_and_on_cpu_only_when_asked():
    import torch

    from synrec.models import pick_dtype

    assert pick_dtype({"model": "x", "dtype": "float16"}, "cuda") == torch.float16
    assert pick_dtype({"model": "x", "dtype": "float16"}, "cpu") == torch.float32
    assert pick_dtype({"model": "x", "dtype": "bfloat16", "dtype_on_cpu": True}, "cpu") == torch.bfloat16
    assert pick_dtype({"model": "x"}, "cuda") == torch.float32


def test_the_word_to_sentence_model_loads_in_its_dtype(tiny_models):
    import torch

    from synrec.models import load_word_to_sentence

    _, model = load_word_to_sentence({"model": tiny_models["t5"], "dtype": "bfloat16", "dtype_on_cpu": True})
    assert next(model.parameters()).dtype == torch.bfloat16
