"""CT over cached features vs re-encoding the images every epoch (the paper code's path without --cache-dir).

Both sides run in this one process on the same tiny CLIP and the same images, side by side:
  cached:    encode the images once, then E epochs of CT on the features
  re-encode: every epoch encode the images again (frozen encoder, no grad), then one epoch of CT
Prints seconds per side and the ratio. On the tiny models the encoder is cheap, so the ratio is a floor: with
CLIP RN50/ViT-B/16 at 224 px an encoder pass dominates and the ratio approaches E.

    .venv/bin/python bench/ct_cached_vs_reencode.py [--images 1024] [--epochs 10]
"""

import tempfile
from pathlib import Path

import torch
from _bench import parser, ratio, seconds

from synrec import demo_data, tiny
from synrec.classifier_tuning import train_ct
from synrec.features import encode_images, text_classifier
from synrec.models import load_clip

CT = {"lr": 0.002, "weight_decay": 0.1, "batch_size": 512, "warmup_steps": 0, "grad_clip": 1.0}


class Arrays:
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def image(self, i):
        from PIL import Image

        return Image.fromarray(self.images[i])


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(2)
    classes = demo_data.SHAPES_CLASSES
    images, labels = demo_data.make_images(classes, args.images // len(classes), 32, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        model, pre, tok = load_clip({"model": f"local-dir:{tiny.build_tiny_clip(Path(tmp) / 'clip', 'RN')}"})
        emb = text_classifier(model, tok, classes, ["a photo of a {c}."], "cpu")
        src = Arrays(images)
        encode_images(model, pre, Arrays(images[:64]), "cpu", progress=False)  # warm-up

        def cached():
            feats = encode_images(model, pre, src, "cpu", batch_size=256, progress=False)
            train_ct(feats, labels, emb, {**CT, "epochs": args.epochs}, progress=False)

        def reencode():
            for _ in range(args.epochs):
                feats = encode_images(model, pre, src, "cpu", batch_size=256, progress=False)
                train_ct(feats, labels, emb, {**CT, "epochs": 1}, progress=False)

        times = seconds(cached), seconds(reencode)
    print(f"{len(labels)} images, {args.epochs} CT epochs, tiny CLIP-RN, 2 CPU threads")
    ratio(f"CT, {args.epochs} epochs", "re-encode", times[1], "cached", times[0])


if __name__ == "__main__":
    main()
