"""`cnnrt run MODEL --input name=file.npy ...`: run a model on given inputs."""
from __future__ import annotations

import os
from typing import Dict, List

import numpy as np

from .common import (OK, CommandError, add_shape_arg, concrete_shape, fmt_shape, formatter, is_class_scores, load,
                     model_path, parse_dims, parse_shapes, random_feeds)

EXAMPLE = """Inputs: NAME=FILE.npy (an array), NAME=FILE.npz (its array of that name,
or its only one), NAME=IMAGE.png|jpg|... (read through Pillow: pip install
'cnnrt[cli]'), or FILE alone for a single-input model. An image is resized to
the input's H x W (or --resize), scaled to [0, 1], normalised by --mean and
--std, and laid out per --layout; grey for a 1-channel input. --random fills
the inputs not given with seeded N(0, 1) data. Outputs are summarised; an
output of shape [N, K] reads as class scores and its top-k is printed.

Examples:
  cnnrt run model.onnx --input input=x.npy --output out.npz
  cnnrt run resnet50.onnx --input cat.jpg --resize 256 --crop 224 \\
      --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --top 5
  cnnrt run demo --input digit.png
"""

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def register(sub) -> None:
    p = sub.add_parser("run", help="run a model on .npy/.npz/image inputs; print or save the outputs",
                       description=EXAMPLE, formatter_class=formatter)
    p.add_argument("model", help="an ONNX file, or 'demo'")
    p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=FILE",
                   help=".npy, .npz or an image file per input; repeatable")
    p.add_argument("--output", "-o", default=None, metavar="OUT.npz", help="save every output to this .npz")
    p.add_argument("--random", action="store_true", help="seeded random data for inputs not given")
    add_shape_arg(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    g = p.add_argument_group("image inputs")
    g.add_argument("--resize", default=None, metavar="S|HxW",
                   help="resize to HxW, or the shorter side to S then centre-crop to the input size")
    g.add_argument("--crop", default=None, metavar="S|HxW", help="centre crop after --resize (default: the input's H x W)")
    g.add_argument("--mean", default=None, help="per-channel mean, after scaling to [0, 1] (e.g. 0.485,0.456,0.406)")
    g.add_argument("--std", default=None, help="per-channel std (e.g. 0.229,0.224,0.225)")
    g.add_argument("--scale", type=float, default=1 / 255, help="pixel value factor before --mean/--std (default 1/255)")
    g.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW", help="the model's image layout (default NCHW)")
    g.add_argument("--bgr", action="store_true", help="channels in BGR order (Caffe-style models)")
    p.add_argument("--top", type=int, default=5, metavar="K", help="top-k classes printed for class scores (default 5)")
    p.add_argument("--labels", default=None, metavar="FILE", help="class names, one per line, for the top-k")
    p.set_defaults(func=main)


def _floats(text, what):
    try:
        return np.array([float(v) for v in text.split(",")], np.float32)
    except ValueError:
        raise CommandError(f"{what}: '{text}' is not a comma list of numbers") from None


def _hw(text, what):
    d = parse_dims(text, what)
    if len(d) == 1:
        return d[0], None
    if len(d) == 2:
        return d[0], d[1]
    raise CommandError(f"{what}: '{text}': S or HxW expected")


def load_image(path: str, info, args) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:
        raise CommandError("reading images needs Pillow: pip install 'cnnrt[cli]' (or pip install Pillow)") from None
    shape = info.shape
    if shape is None or len(shape) != 4:
        raise CommandError(f"input '{info.name}' has shape {fmt_shape(shape)}; an image fills a rank-4 input")
    c_ax, h_ax, w_ax = (1, 2, 3) if args.layout == "NCHW" else (3, 1, 2)
    C, H, W = (shape[c_ax], shape[h_ax], shape[w_ax])
    if not all(isinstance(d, int) for d in (C, H, W)) and (args.crop is None and args.resize is None):
        raise CommandError(f"input '{info.name}' has shape {fmt_shape(shape)}: give the image size with --resize HxW")
    C = C if isinstance(C, int) else 3
    if C not in (1, 3):
        raise CommandError(f"input '{info.name}' has {C} channels; an image fills 1 (grey) or 3 (RGB)")
    try:
        img = Image.open(path)
        img = img.convert("L" if C == 1 else "RGB")
    except (OSError, ValueError) as e:
        raise CommandError(f"{path}: not an image Pillow can read ({e})") from None
    crop = _hw(args.crop, "--crop") if args.crop else ((H, W) if isinstance(H, int) and isinstance(W, int) else None)
    if args.resize:
        a, b = _hw(args.resize, "--resize")
        if b is None:  # shorter side to a, aspect kept
            w0, h0 = img.size
            s = a / min(w0, h0)
            img = img.resize((max(1, round(w0 * s)), max(1, round(h0 * s))), Image.BILINEAR)
        else:
            img = img.resize((b, a), Image.BILINEAR)
        if crop is None:
            crop = (img.size[1], img.size[0])
    elif crop is not None and img.size != (crop[1], crop[0]):
        img = img.resize((crop[1], crop[0]), Image.BILINEAR)
    ch, cw = crop if crop[1] is not None else (crop[0], crop[0])
    w0, h0 = img.size
    if ch > h0 or cw > w0:
        raise CommandError(f"{path}: {w0}x{h0} after --resize is smaller than the crop {cw}x{ch}")
    left, top = (w0 - cw) // 2, (h0 - ch) // 2
    img = img.crop((left, top, left + cw, top + ch))
    x = np.asarray(img, np.float32) * np.float32(args.scale)
    if x.ndim == 2:
        x = x[:, :, None]
    if args.bgr:
        x = x[:, :, ::-1]
    if args.mean:
        m = _floats(args.mean, "--mean")
        x = x - (m if m.size in (1, x.shape[2]) else _bad_len("--mean", m, x))
    if args.std:
        s = _floats(args.std, "--std")
        x = x / (s if s.size in (1, x.shape[2]) else _bad_len("--std", s, x))
    x = x[None]  # NHWC
    if args.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x, np.float32)


def _bad_len(what, v, x):
    raise CommandError(f"{what} has {v.size} values, the image {x.shape[2]} channels")


def read_inputs(items: List[str], inputs, args) -> Dict[str, np.ndarray]:
    names = [i.name for i in inputs]
    feeds = {}
    for it in items:
        if "=" in it and not os.path.exists(it):
            name, path = it.split("=", 1)
        elif len(inputs) == 1:
            name, path = names[0], it
        else:
            raise CommandError(f"--input {it}: the model has inputs {names}; write NAME=FILE")
        if name not in names:
            raise CommandError(f"--input {it}: no input named '{name}'; the model's inputs are {names}")
        if not os.path.exists(path):
            raise CommandError(f"--input {it}: no such file: {path}")
        info = inputs[names.index(name)]
        low = path.lower()
        try:
            if low.endswith(IMAGE_EXT):
                feeds[name] = load_image(path, info, args)
            elif low.endswith(".npz"):
                with np.load(path, allow_pickle=False) as z:
                    keys = list(z.keys())
                    if name in keys:
                        feeds[name] = z[name]
                    elif len(keys) == 1:
                        feeds[name] = z[keys[0]]
                    else:
                        raise CommandError(f"--input {it}: {path} has arrays {keys}, none named '{name}'")
            else:
                feeds[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise CommandError(f"--input {it}: cannot read {path}: {e}") from None
    return feeds


def softmax(y: np.ndarray) -> np.ndarray:
    z = y - y.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def describe_output(name: str, y: np.ndarray, top: int, labels=None) -> List[str]:
    lines = [f"{name}: {y.dtype} {list(y.shape)}"]
    if y.size and y.dtype.kind in "fiub":
        f = y.astype(np.float64)
        lines[0] += f"  min {f.min():.4g}  max {f.max():.4g}  mean {f.mean():.4g}"
    if is_class_scores(y) and top > 0:
        s = y.reshape(y.shape[0], y.shape[1]).astype(np.float64)
        probs = s if (s.min() >= 0 and np.allclose(s.sum(axis=1), 1, atol=1e-3)) else softmax(s)
        for n in range(min(s.shape[0], 4)):
            order = np.argsort(-s[n], kind="stable")[:top]
            head = f"  top-{len(order)}" + (f" (batch {n})" if s.shape[0] > 1 else "") + ":"
            lines.append(head)
            for r, k in enumerate(order):
                lab = f"  {labels[k]}" if labels is not None and k < len(labels) else ""
                lines.append(f"    {r + 1}. class {k:<5d} score {s[n, k]:>10.4f}  p {probs[n, k]:.4f}{lab}")
    return lines


def main(args) -> int:
    path = model_path(args.model)
    shapes = parse_shapes(args.shape)
    sess = load(path, threads=args.threads)
    feeds = read_inputs(args.input, sess.inputs, args)
    missing = [i for i in sess.inputs if i.name not in feeds]
    if missing and args.random:
        feeds.update(random_feeds(missing, shapes, args.seed))
    elif missing:
        want = ", ".join(f"{i.name} ({i.dtype} {fmt_shape(i.shape)})" for i in missing)
        raise CommandError(f"no data for input(s) {want}: pass --input NAME=FILE (or --random)")
    for i in sess.inputs:
        if i.name in shapes and list(feeds[i.name].shape) != concrete_shape(i, shapes):
            raise CommandError(f"input '{i.name}' has shape {list(feeds[i.name].shape)}, --shape says {shapes[i.name]}")
    outs = sess.run(None, feeds)
    labels = None
    if args.labels:
        with open(args.labels, encoding="utf-8") as f:
            labels = [ln.strip() for ln in f]
    for i in sess.inputs:
        print(f"input  {i.name}: {feeds[i.name].dtype} {list(feeds[i.name].shape)}")
    for o, y in zip(sess.outputs, outs):
        lines = describe_output(o.name, y, args.top, labels)
        print("\n".join(["output " + lines[0]] + lines[1:]))
    if args.output:
        tmp = args.output + ".tmp.npz"
        np.savez(tmp, **{o.name: y for o, y in zip(sess.outputs, outs)})
        os.replace(tmp, args.output)  # no partial file under the user's name
        print(f"wrote {args.output} ({len(outs)} array{'s' if len(outs) != 1 else ''})")
    return OK
