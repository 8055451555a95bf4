"""Networks exported by torch.onnx (the TorchScript exporter, dynamo=False):
its real output, with the Shape/Gather/Concat subgraphs, Flatten forms and
initializer naming that exporter writes, against onnxruntime at batch 1 and
3 in one session. Needs torch (`pip install torch==2.13.0`, a CPU build);
.ci/run installs it, and without it these tests skip with that reason."""
import io

import numpy as np
import pytest

import cnnrt
from helpers import assert_close, run_ort

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch==2.13.0, CPU build)")
nn = torch.nn

# The legacy exporter is what these tests exercise on purpose; torch warns
# that it is deprecated on every export.
pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.short is None else self.short(x)))


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 7, 2, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layers(self.stem(x))
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1)
        return torch.softmax(self.fc(x.view(x.size(0), -1)), dim=1)


class TinyMobile(nn.Module):
    """Depthwise separable blocks with ReLU6 and Hardswish, a dilated conv,
    LeakyReLU, and a flatten through reshape(-1)."""

    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(
            nn.Conv2d(3, 24, 3, 2, 1), nn.BatchNorm2d(24), nn.ReLU6(),
            nn.Conv2d(24, 24, 3, 1, 1, groups=24), nn.BatchNorm2d(24), nn.Hardswish(),
            nn.Conv2d(24, 40, 1), nn.BatchNorm2d(40), nn.ReLU6(),
            nn.Conv2d(40, 40, 5, 2, 2, groups=40), nn.BatchNorm2d(40), nn.Hardswish(),
            nn.Conv2d(40, 32, 3, 1, 2, dilation=2), nn.LeakyReLU(0.1),
            nn.AvgPool2d(2, ceil_mode=True))
        self.head = nn.Linear(32 * 8 * 8, 7)

    def forward(self, x):
        x = self.f(x)
        return self.head(x.reshape(x.shape[0], -1))


def _randomize_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def _export(model, shape, opset):
    torch.manual_seed(0)
    _randomize_bn(model, 1)
    model.eval()
    buf = io.BytesIO()
    torch.onnx.export(model, torch.randn(*shape), buf, opset_version=opset, dynamo=False,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    import onnx

    return onnx.load_from_string(buf.getvalue())


@pytest.mark.parametrize("net", ["resnet", "mobile"])
@pytest.mark.parametrize("opset", [11, 13, 17])
def test_torch_exported_network(isa, net, opset):
    model = _export(TinyResNet() if net == "resnet" else TinyMobile(), (1, 3, 64, 64), opset)
    sess = cnnrt.load(model, threads=2, isa=isa)
    assert sess.inputs[0].shape[0] == "batch"
    rng = np.random.default_rng(opset)
    for batch in (1, 3):
        x = rng.standard_normal((batch, 3, 64, 64)).astype(np.float32)
        ref = run_ort(model, {"x": x})[0]
        got = sess.run(None, {"x": x})[0]
        assert_close(got, ref, f"{net} opset {opset} batch {batch}")
        assert np.array_equal(got.argmax(1), ref.argmax(1))
    assert "fuse_activation" in sess.passes_applied  # (the exporter already folds BatchNorm in eval mode)
