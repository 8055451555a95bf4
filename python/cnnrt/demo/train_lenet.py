#!/usr/bin/env python3
"""Train the bundled LeNet-5 demo model on scikit-learn's 8x8 digits.

Re-creates, next to this file:

* ``lenet5_digits.onnx`` - LeNet-5, input ``input`` float32 [batch,1,32,32],
  output ``logits`` float32 [batch,10] (raw logits, no Softmax; argmax gives
  the class), ONNX opset 13, self-contained (no external data).
* ``digits_test.npz``    - the held-out split: ``images`` float32
  [N,1,32,32] in 0..1, ``labels`` int64 [N].

Run:  python python/cnnrt/demo/train_lenet.py

Only this script needs torch, scikit-learn, onnx and onnxruntime; they are
not dependencies of the cnnrt package.
"""
import os
import random
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_PATH = os.path.join(HERE, "lenet5_digits.onnx")
NPZ_PATH = os.path.join(HERE, "digits_test.npz")

SEED = 0
EPOCHS = 30
BATCH = 32
LR = 2e-3
WD = 1e-4
MAX_SHIFT = 2   # random-translation augmentation (pixels at 32x32)


class LeNet5(nn.Module):
    """Classic LeNet-5 (ReLU + max-pool variant) for 1x32x32 inputs."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)     # 1x32x32 -> 6x28x28
        self.conv2 = nn.Conv2d(6, 16, 5)    # 6x14x14 -> 16x10x10
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # 6x14x14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # 16x5x5
        x = torch.flatten(x, 1)                      # exports as Flatten
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)                           # logits


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # bit-for-bit reproducible CPU reductions


def load_data():
    """8x8 digits (0..16) -> float32 0..1, bilinearly upsampled to 32x32."""
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]  # N,1,8,8
    y = digits.target.astype(np.int64)
    x = F.interpolate(torch.from_numpy(x), size=(32, 32), mode="bilinear",
                      align_corners=False).numpy().astype(np.float32)
    x = np.ascontiguousarray(np.clip(x, 0.0, 1.0))
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


def shift(x, gen, max_shift=MAX_SHIFT):
    """Augmentation: translate each image by up to +-max_shift pixels."""
    if max_shift == 0:
        return x
    n = x.shape[0]
    p = max_shift
    padded = F.pad(x, (p, p, p, p))
    d = torch.randint(0, 2 * p + 1, (n, 2), generator=gen)
    h, w = x.shape[2], x.shape[3]
    return torch.stack([padded[i, :, d[i, 0]:d[i, 0] + h, d[i, 1]:d[i, 1] + w]
                        for i in range(n)])


def accuracy(logits, labels):
    return float((np.argmax(logits, axis=1) == labels).mean())


def main():
    seed_everything(SEED)
    x_tr, x_te, y_tr, y_te = load_data()
    print(f"train {len(x_tr)}  test {len(x_te)}")

    model = LeNet5()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WD)
    # cosine decay to 0 so the final weights settle instead of bouncing
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = F.cross_entropy(model(shift(xt[idx], gen)), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        model.eval()
        with torch.no_grad():
            acc = accuracy(model(torch.from_numpy(x_te)).numpy(), y_te)
        print(f"epoch {epoch + 1:2d}  loss {total / len(xt):.4f}  "
              f"test acc {acc * 100:.2f}%")

    model.eval()
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(x_te)).numpy()
    torch_acc = accuracy(torch_logits, y_te)

    dummy = torch.zeros(1, 1, 32, 32)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.onnx.export(model, dummy, ONNX_PATH, opset_version=13, dynamo=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"},
                                    "logits": {0: "batch"}})
    np.savez_compressed(NPZ_PATH, images=x_te.astype(np.float32),
                        labels=y_te.astype(np.int64))

    # --- verify the exported artefacts -----------------------------------
    import onnx
    import onnxruntime as ort

    m = onnx.load(ONNX_PATH)
    onnx.checker.check_model(m)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL
                   for t in m.graph.initializer), "external data found"
    print("opset:", [(o.domain or "ai.onnx", o.version) for o in m.opset_import])
    print("ops:  ", [n.op_type for n in m.graph.node])

    data = np.load(NPZ_PATH)
    sess = ort.InferenceSession(ONNX_PATH, providers=["CPUExecutionProvider"])
    ort_logits = sess.run(None, {"input": data["images"]})[0]
    ort_acc = accuracy(ort_logits, data["labels"])
    maxdiff = float(np.abs(ort_logits - torch_logits).max())
    print(f"torch accuracy       {torch_acc * 100:.2f}%")
    print(f"onnxruntime accuracy {ort_acc * 100:.2f}%  "
          f"(max |logit diff| vs torch {maxdiff:.2e})")
    print(f"wrote {ONNX_PATH} ({os.path.getsize(ONNX_PATH)} bytes)")
    print(f"wrote {NPZ_PATH} ({os.path.getsize(NPZ_PATH)} bytes)")
    if ort_acc < 0.97 or ort_acc != torch_acc:
        print("ERROR: accuracy check failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
