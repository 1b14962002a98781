"""Tiny stand-ins for the three models the paper uses, saved in each library's own format.

They exist so the demo and the tests exercise the *real* loading code (open_clip ``local-dir:``, diffusers
``from_pretrained``, transformers ``from_pretrained``) without network access. The builders here write them with
random weights (the unit tests use those); :mod:`synrec.demo_models` trains the same architectures on the demo's
drawn world so the demo's numbers move.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

#: open_clip model configs of the two tiny CLIPs. "RN" uses open_clip's ModifiedResNet (the CLIP RN50 family,
#: BatchNorm included), "ViT" a VisionTransformer, mirroring the paper's two backbones.
TINY_CLIP_CONFIGS = {
    "RN": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16, "head_width": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    },
    "ViT": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    },
}


def _staging(out_dir: str | Path) -> tuple[Path, Path]:
    """``(out, tmp)``: models are written to a fresh ``tmp`` sibling, then renamed onto ``out`` by _replace_dir."""
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return out, tmp


def _replace_dir(tmp: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def build_tiny_clip(out_dir: str | Path, arch: str = "RN", seed: int = 0) -> Path:
    """Write an open_clip ``local-dir:`` model (``open_clip_config.json`` + ``open_clip_model.safetensors``)."""
    return write_open_clip(out_dir, TINY_CLIP_CONFIGS[arch], seed)


def write_open_clip(out_dir: str | Path, cfg: dict, seed: int = 0) -> Path:
    """A random-weight ``open_clip.CLIP(**cfg)`` in open_clip's ``local-dir:`` format."""
    import open_clip
    import safetensors.torch

    out, tmp = _staging(out_dir)
    torch.manual_seed(seed)
    model = open_clip.CLIP(**cfg)
    config = {
        "model_cfg": cfg,
        "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD)},
    }
    (tmp / "open_clip_config.json").write_text(json.dumps(config, indent=2))
    safetensors.torch.save_file(model.state_dict(), str(tmp / "open_clip_model.safetensors"))
    _replace_dir(tmp, out)
    return out


def _write_clip_bpe_vocab(folder: Path) -> None:
    """vocab.json + merges.txt for transformers' CLIPTokenizer, from the BPE table open_clip ships."""
    from open_clip.tokenizer import SimpleTokenizer

    st = SimpleTokenizer()
    (folder / "vocab.json").write_text(json.dumps(st.encoder))
    merges = sorted(st.bpe_ranks.items(), key=lambda kv: kv[1])
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(pair) for pair, _ in merges) + "\n")


#: The tiny CLIP text tower's shape, shared by the Stable Diffusion text encoder (SD conditions on a CLIP text tower,
#: so the demo can give its generator the demo CLIP's trained one).
TINY_TEXT = {"hidden_size": 32, "intermediate_size": 128, "num_attention_heads": 2, "num_hidden_layers": 1}


def tiny_stable_diffusion_parts(seed: int = 0) -> dict:
    """Random-weight UNet, VAE (32 px images <-> 4 x 8 x 8 latents), CLIP text encoder and scheduler."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 32),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=32,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            max_position_embeddings=77,
            hidden_act="gelu",  # open_clip's text tower (not OpenAI's quick_gelu)
            bos_token_id=49406,
            eos_token_id=49407,
            pad_token_id=49407,
            **TINY_TEXT,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False,
        steps_offset=1,
    )
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "scheduler": scheduler}


def clip_bpe_tokenizer(folder: Path):
    """transformers' ``CLIPTokenizer`` over open_clip's shipped BPE table (vocab files written to ``folder``), with
    the special tokens spelled as that table spells them."""
    from transformers import CLIPTokenizer

    _write_clip_bpe_vocab(folder)
    special = "<start_of_text>", "<end_of_text>"
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), bos_token=special[0],
                         eos_token=special[1], pad_token=special[1], unk_token=special[1], model_max_length=77)


def tiny_safety_checker(seed: int = 0):
    """A random-weight ``StableDiffusionSafetyChecker`` (a tiny CLIP vision tower) and its image processor: the
    component Stable Diffusion checkpoints ship, at a size that runs anywhere."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(seed)
    cfg = CLIPConfig(text_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                                  "num_hidden_layers": 1},
                     vision_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                                    "num_hidden_layers": 1, "image_size": 32, "patch_size": 16},
                     projection_dim=16)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return StableDiffusionSafetyChecker(cfg).eval(), processor


def build_tiny_stable_diffusion(out_dir: str | Path, seed: int = 0, parts: dict | None = None,
                                safety_checker: bool = False) -> Path:
    """Write a diffusers ``StableDiffusionPipeline`` directory with tiny UNet, VAE and text encoder (random ones
    from :func:`tiny_stable_diffusion_parts`, or the given ``parts``)."""
    parts = parts or tiny_stable_diffusion_parts(seed)
    return write_stable_diffusion(out_dir, parts, tiny_safety_checker(seed) if safety_checker else None)


def write_stable_diffusion(out_dir: str | Path, parts: dict, checker=None, variant: str | None = None) -> Path:
    """Save a ``StableDiffusionPipeline`` of ``parts`` (unet, vae, text_encoder, scheduler) with a CLIP BPE
    tokenizer, and ``checker = (safety checker, image processor)`` or none."""
    from diffusers import StableDiffusionPipeline

    out, tmp = _staging(out_dir)
    (tmp / "bpe").mkdir()
    tokenizer = clip_bpe_tokenizer(tmp / "bpe")
    checker, processor = checker or (None, None)
    safety_checker = checker is not None
    pipe = StableDiffusionPipeline(
        **parts,
        tokenizer=tokenizer,
        safety_checker=checker,
        feature_extractor=processor,
        requires_safety_checker=safety_checker,
    )
    pipe.save_pretrained(str(tmp), variant=variant)
    shutil.rmtree(tmp / "bpe")
    _replace_dir(tmp, out)
    return out


#: Words the tiny T5 tokenizer is trained on; class names of the demo dataset are added by the caller.
_T5_CORPUS = (
    "a photo of the on in with and by near over under is are at a small large bright dark red green blue "
    "yellow white black round square shape field city sky water tree road house car bird dog cat flower"
).split()


def build_tiny_t5(out_dir: str | Path, extra_words: list[str] = (), seed: int = 0,
                  vocab_size: int = 120, shape: dict | None = None) -> Path:
    """Write a transformers T5 word-to-sentence model + fast tokenizer (``AutoModelForSeq2SeqLM`` loadable);
    ``shape``: T5Config fields that replace the tiny ones (a true-size model's)."""
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast

    out, tmp = _staging(out_dir)
    corpus = list(_T5_CORPUS) + [w for w in extra_words]
    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(
        [" ".join(corpus)] * 4 + corpus, vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"],
        unk_token="<unk>",
    )
    sp.save(str(tmp / "sp.json"))
    tokenizer = T5TokenizerFast(tokenizer_file=str(tmp / "sp.json"), pad_token="<pad>", eos_token="</s>",
                                unk_token="<unk>", extra_ids=0)
    torch.manual_seed(seed)
    fields = {"vocab_size": len(tokenizer), "d_model": 32, "d_ff": 64, "d_kv": 8, "num_layers": 2,
              "num_decoder_layers": 2, "num_heads": 4, **(shape or {})}
    model = T5ForConditionalGeneration(
        T5Config(
            **fields,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    )
    model.generation_config.max_length = 20
    tokenizer.save_pretrained(str(tmp))
    model.save_pretrained(str(tmp))
    (tmp / "sp.json").unlink()
    _replace_dir(tmp, out)
    return out


#: the words of the tiny captioner's vocabulary beside the caller's (BLIP's BERT tokenizer lower-cases)
_CAPTION_WORDS = ("a picture of the on dark background , . photo shape small big with and in".split())


def build_tiny_captioner(out_dir: str | Path, extra_words: list[str] = (), seed: int = 0, image_size: int = 32,
                         shape: dict | None = None) -> Path:
    """Write a transformers BLIP captioner (``BlipForConditionalGeneration`` + ``BlipProcessor``, loadable with
    ``AutoModelForImageTextToText`` / ``AutoProcessor``), random weights, a word-level BERT vocabulary of
    ``extra_words`` and a few caption words; ``shape``: BlipTextConfig fields that replace the tiny ones."""
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    out, tmp = _staging(out_dir)
    words = sorted({w.lower() for text in (*_CAPTION_WORDS, *extra_words) for w in text.split()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"] + [w for w in words if not w.startswith("[")]
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True, bos_token="[DEC]")
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": image_size, "width": image_size}),
                              tokenizer=tok)
    text = {"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "encoder_hidden_size": 32, "max_position_embeddings": 64,
            "bos_token_id": vocab.index("[DEC]"), "pad_token_id": 0, "sep_token_id": vocab.index("[SEP]"),
            "eos_token_id": vocab.index("[SEP]"), **(shape or {})}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": image_size, "patch_size": 8}
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(BlipConfig(vision_config=vision, text_config=text, projection_dim=32))
    processor.save_pretrained(str(tmp))
    model.save_pretrained(str(tmp))
    _replace_dir(tmp, out)
    return out


#: LLaVA-1.5's conversation form (its processor's chat template, in the tiny one's words)
_LLAVA_TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'user' %}USER: {% for c in m['content'] %}"
                   "{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %} "
                   "{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}")


def build_tiny_llava(out_dir: str | Path, extra_words: list[str] = (), seed: int = 0, image_size: int = 32) -> Path:
    """Write a random-weight LLaVA (``LlavaForConditionalGeneration`` + ``LlavaProcessor`` with a chat template in
    LLaVA-1.5's form; ``AutoModelForImageTextToText`` / ``AutoProcessor`` loadable): the chat path of DISEF's
    default captioner, at a size a CPU test runs."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    from .captioning import QUERY

    out, tmp = _staging(out_dir)
    special = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
    text = " ".join([QUERY, "USER: ASSISTANT:", *_CAPTION_WORDS, *extra_words])
    words = sorted({w for w in pre_tokenizers.Whitespace().pre_tokenize_str(text.replace("{c}", ""))
                    for w in [w[0]]} - set(special))
    vocab = {w: i for i, w in enumerate(special + words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer, backend.decoder = pre_tokenizers.Whitespace(), decoders.WordPiece(prefix="##")
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>", extra_special_tokens={"image_token": "<image>"})
    crop = {"height": image_size, "width": image_size}
    processor = LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size=crop),
                               tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
                               chat_template=_LLAVA_TEMPLATE, num_additional_image_tokens=1)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=image_size, patch_size=8)
    text_cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                           bos_token_id=1, eos_token_id=2, pad_token_id=3)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(LlavaConfig(vision_config=vision, text_config=text_cfg,
                                                      image_token_index=vocab["<image>"],
                                                      vision_feature_select_strategy="default",
                                                      vision_feature_layer=-1))
    processor.save_pretrained(str(tmp))
    model.save_pretrained(str(tmp))
    _replace_dir(tmp, out)
    return out
