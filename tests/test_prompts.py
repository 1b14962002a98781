from synrec import prompts
from synrec.models import load_word_to_sentence


def test_basic_prompts_use_the_generation_template(shapes_cfg):
    shapes_cfg["generation_template"] = "a centered satellite photo of {}"
    assert prompts.basic_prompts(shapes_cfg)[1] == ["a centered satellite photo of green square"]


def test_prompts_carry_the_prompt_classnames_and_the_head_keeps_classnames(monkeypatch, shapes_cfg):
    """EuroSAT as the paper code: B, LE (and RG, which starts from the B prompts) carry the dataset's own names; the
    zero-shot head keeps CLIP's (``classnames``)."""
    own = ["Red Circle", "Green Square", "Blue Triangle", "Yellow Star"]
    cfg = {**shapes_cfg, "prompt_classnames": own}
    assert [p[0] for p in prompts.basic_prompts(cfg)] == [f"a photo of {n}" for n in own]
    keywords = []
    monkeypatch.setattr(prompts, "enhance_class", lambda tok, model, kw, n, seed, **k: (keywords.append(kw) or
                                                                                        [kw] * n, 1))
    le = {"sentences_per_class": 2, "extra_samples": 0, "max_rounds": 1, "top_k": 5, "max_length": 8, "batch_size": 2}
    out, _ = prompts.le_prompts({**cfg, "le_keyword": "a {}"}, None, None, le, seed=0, progress=False)
    assert keywords == [f"a {n}" for n in own] and out[2] == ["a photo of a Blue Triangle"] * 2
    assert prompts.basic_prompts(shapes_cfg)[2] == [f"a photo of {shapes_cfg['classnames'][2]}"]  # none set


def test_enhance_class_dedups_samples_and_keeps_n(monkeypatch):
    calls = []

    def fake_sample(tok, model, keyword, n, seed, **kw):  # a deterministic sampler with repeats
        calls.append(n)
        return [f"{keyword} {i % 7}" for i in range(n)]

    monkeypatch.setattr(prompts, "sample_sentences", fake_sample)
    out, n_unique = prompts.enhance_class(None, None, "cat", n=5, seed=1, extra=5)
    assert calls == [10] and n_unique == 5 and len(set(out)) == 5 and all(s.startswith("cat ") for s in out)
    again, _ = prompts.enhance_class(None, None, "cat", n=5, seed=1, extra=5)
    assert again == out  # seeded choice


def test_enhance_class_falls_back_to_reuse_when_too_few_unique(monkeypatch):
    calls = []

    def fake_sample(tok, model, keyword, n, seed, **kw):
        calls.append(n)
        return ["only one sentence", "", "another"] * n

    monkeypatch.setattr(prompts, "sample_sentences", fake_sample)
    out, n_unique = prompts.enhance_class(None, None, "cat", n=5, seed=0, extra=2, max_rounds=3)
    assert calls == [7, 2, 2]  # N + extra, then two more rounds of `extra`
    assert n_unique == 2 and len(out) == 5 and set(out) == {"only one sentence", "another"}


def test_le_prompts_with_the_tiny_t5_are_deterministic(tiny_models, shapes_cfg):
    tok, model = load_word_to_sentence({"model": tiny_models["t5"]})
    le = {"sentences_per_class": 3, "extra_samples": 2, "max_rounds": 2, "top_k": 50, "max_length": 8, "batch_size": 4}
    a, na = prompts.le_prompts(shapes_cfg, tok, model, le, seed=0, progress=False)
    b, nb = prompts.le_prompts(shapes_cfg, tok, model, le, seed=0, progress=False)
    assert a == b and na == nb and len(a) == 4 and all(len(p) == 3 for p in a)
    assert all(p.startswith("a photo of ") for p in a[0])
    c, _ = prompts.le_prompts(shapes_cfg, tok, model, le, seed=1, progress=False)
    assert c != a


def test_prompt_for_image_blocks():
    ps = ["s0", "s1", "s2"]
    assert [prompts.prompt_for_image(ps, i, 6) for i in range(6)] == ["s0", "s0", "s1", "s1", "s2", "s2"]
    assert [prompts.prompt_for_image(ps, i, 7) for i in range(7)] == ["s0"] * 3 + ["s1"] * 3 + ["s2"]
    assert prompts.prompt_for_image(["b"], 1999, 2000) == "b"
