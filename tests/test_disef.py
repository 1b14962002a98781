"""DISEF (issue 29): captions keyed to their own shot, each image prompted with its shot's caption and started from
that shot, the zero-shot filter, and the captioner loading through transformers' Auto classes."""

import numpy as np
import pytest
from PIL import Image

from synrec import demo_data
from synrec.captioning import caption_images, caption_text, load_captioner
from synrec.disef import disef_prompt, plan_disef_images, zero_shot_keep
from synrec.errors import SynrecError
from synrec.seeds import derive_seed


@pytest.fixture(scope="module")
def captioner(tmp_path_factory):
    """The demo's captioner (a tiny BLIP trained on the drawn world to name the shape and colour it sees)."""
    from synrec.demo_models import train_demo_captioner

    out = train_demo_captioner(tmp_path_factory.mktemp("cap") / "captioner", seed=0, steps=300)
    return load_captioner({"model": str(out)})


def test_each_caption_describes_its_own_picture_in_batches(captioner):
    """24 pictures of random colours and shapes, captioned in batches of 5 after a neutral prefix: caption i names
    the colour drawn in picture i. The tiny captioner reads colour right about 19 times in 20 (it varies with the
    CPU's thread count); chance is 1 in 8, so 18 of 24 shows the captions stay with their pictures across batches."""
    processor, model = captioner
    rng = np.random.default_rng(3)
    names = [f"{demo_data.COLOURS[c]} {demo_data.SHAPES[s]}"
             for c, s in zip(np.concatenate([rng.permutation(8) for _ in range(3)]), rng.integers(0, 4, 24))]
    pictures = [Image.fromarray(demo_data.draw_shape(n, 32, rng)) for n in names]
    captions = caption_images(processor, model, pictures, names, {"batch_size": 5, "prefix": "a picture of a shape,"},
                              progress=False)
    assert len(captions) == 24 and all(c.startswith("a picture of a shape,") for c in captions), captions
    hits = [n.split()[0] in c.split(",", 1)[1] for n, c in zip(names, captions)]
    assert sum(hits) >= 18, list(zip(names, captions))


def test_a_plain_captioner_continues_its_prefix_and_the_query_is_for_chat_models(captioner):
    processor, _ = captioner
    assert caption_text(processor, "blue square", {"prefix": "a picture of a {c},", "query": "q {c}"}) == \
        "a picture of a blue square,"


def test_each_image_is_prompted_with_its_own_shots_caption_and_starts_from_that_shot():
    shots = {0: [5, 9], 1: [2, 7]}
    captions = {5: "a red circle on the left", 9: "a red circle at night", 2: "a green square", 7: "something"}
    names = ["red circle", "green square"]
    plan = plan_disef_images("d", shots, captions, 5, seed=0, tag="DISEF-2shot-seed1", classnames=names)
    assert [(p[0], p[1], p[4]) for p in plan] == [(0, i, [5, 9][i % 2]) for i in range(5)] + \
        [(1, i, [2, 7][i % 2]) for i in range(5)]
    for label, i, prompt, seed, shot in plan:
        assert prompt == disef_prompt(captions[shot], names[label])  # the caption of the shot it starts from
        assert seed == derive_seed(0, "d", "DISEF-2shot-seed1", names[label], i)
    assert plan[1][2] == "a red circle at night" and plan[-2][2] == "green square, something"
    assert len({p[3] for p in plan}) == len(plan)  # every image its own seed
    styled = plan_disef_images("d", shots, captions, 2, seed=0, tag="t", classnames=names, template="{c}: {caption}")
    assert [p[2] for p in styled] == ["red circle: a red circle on the left", "red circle: a red circle at night",
                                      "green square: a green square", "green square: something"]


def test_the_class_name_is_added_to_a_caption_only_when_it_lacks_it():
    assert disef_prompt("A Red Circle on a table", "red circle") == "A Red Circle on a table"
    assert disef_prompt("a shape on a table", "red circle") == "red circle, a shape on a table"
    assert disef_prompt("a shape", "red circle", "a photo of a {c}: {caption}") == "a photo of a red circle: a shape"


def test_the_filter_keeps_exactly_the_images_zero_shot_clip_gives_their_own_class():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(5, 16))
    feats = rng.normal(size=(200, 16)) * rng.uniform(0.1, 10, size=(200, 1))  # feature norms must not matter
    labels = rng.integers(0, 5, size=200)
    keep = zero_shot_keep(feats, labels, emb * rng.uniform(0.1, 10, size=(5, 1)))  # nor the embeddings' norms
    cos = (feats / np.linalg.norm(feats, axis=1, keepdims=True)) @ (emb / np.linalg.norm(emb, axis=1, keepdims=True)).T
    expected = [i for i in range(200) if cos[i].argmax() == labels[i]]
    assert keep.tolist() == expected and 10 < len(expected) < 190


def test_an_unloadable_captioner_is_one_line_naming_it(tmp_path):
    with pytest.raises(SynrecError, match=r"captioner model '.*nowhere' could not be loaded"):
        load_captioner({"model": str(tmp_path / "nowhere")})


def test_a_chat_captioner_answers_disefs_question_and_batching_changes_no_caption(tmp_path):
    """DISEF's default captioner is LLaVA: a tiny random-weight LLaVA (its transformers classes, a chat template in
    LLaVA-1.5's form) gets the question with the class name in a user turn; the caption is only what it writes after
    the prompt; and a caption is the same captioned alone or beside prompts of other lengths (left padding)."""
    from synrec.tiny import build_tiny_llava

    names = ["red circle", "green square", "a blue triangle on the table", "cross"]
    processor, model = load_captioner({"model": str(build_tiny_llava(tmp_path / "llava", extra_words=names))})
    text = caption_text(processor, "red circle", {"query": "Provide a caption, knowing it's a {c}."})
    assert text == "USER: <image>\nProvide a caption, knowing it's a red circle. ASSISTANT:"
    rng = np.random.default_rng(0)
    pictures = [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in names]
    cfg = {"max_new_tokens": 6, "batch_size": 4}
    together = caption_images(processor, model, pictures, names, cfg, progress=False)
    alone = [caption_images(processor, model, [p], [n], cfg, progress=False)[0] for p, n in zip(pictures, names)]
    assert together == alone and all(c and "USER" not in c and "ASSISTANT" not in c for c in together), together
    assert len(set(together)) > 1  # the pictures and names reach the model
