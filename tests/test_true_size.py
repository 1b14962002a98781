"""The true-size stand-ins have the real checkpoints' shapes (parameter counts as published), load through the
workflow's loaders, and cost nothing to check: the architectures are built on PyTorch's meta device."""

import open_clip
import pytest
import torch
from transformers import T5Config, T5ForConditionalGeneration

from synrec import true_size


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_stable_diffusion_parts_have_sd_v1_4s_parameter_counts():
    with torch.device("meta"):
        parts = true_size.stable_diffusion_parts()
        checker, _ = true_size.safety_checker()
    # CompVis/stable-diffusion-v1-4: unet 859,520,964; vae 83,653,863; text encoder (CLIP ViT-L/14 text) 123,060,480
    assert n_params(parts["unet"]) == 859_520_964
    assert n_params(parts["vae"]) == 83_653_863
    assert n_params(parts["text_encoder"]) == 123_060_480
    assert 300e6 < n_params(checker) < 310e6  # a CLIP ViT-L/14 vision tower and its projection
    assert type(parts["scheduler"]).__name__ == "PNDMScheduler" and parts["scheduler"].config.steps_offset == 1


@pytest.mark.parametrize("name, count", [("RN50", 102_007_137), ("ViT-B-16", 149_620_737)])
def test_clip_configs_are_open_clips_own_with_openais_parameter_counts(name, count):
    with torch.device("meta"):
        model = open_clip.CLIP(**true_size.open_clip_config(name))
    assert n_params(model) == count


def test_t5_has_t5_bases_parameter_count():
    with torch.device("meta"):
        model = T5ForConditionalGeneration(T5Config(**true_size.T5_BASE))
    assert n_params(model) == 222_903_552


def test_a_built_clip_loads_through_the_workflows_loader(tmp_path):
    from synrec.models import load_clip

    folder = true_size.build("RN50", tmp_path / "rn50")
    model, preprocess, _ = load_clip({"model": f"local-dir:{folder}"})
    assert n_params(model) == 102_007_137
    with torch.no_grad():
        out = model.encode_image(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1024)


def test_unknown_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="expected one of"):
        true_size.build("RN101", tmp_path / "x")
