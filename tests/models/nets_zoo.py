"""The CNNs users bring, written in torch with their real structure and
widths scaled down (about /4) so that a whole export + compare stays cheap:
shared by tests/models/test_networks.py.

Every builder returns (module, example input shape, kind) where kind is
"classifier" (one output of logits or probabilities, argmax compared),
"dense" (fully convolutional: H/W may vary) or "other". Weights are seeded:
convolutions He-normal (fan-in), biases N(0, 0.05), BatchNorm with random
running statistics and affine (eval mode), so that nothing is the identity a
bug could hide behind; classifier heads are scaled so that logits have a
standard deviation of a few units (a wrong logit moves the argmax).
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def s(c, div=4, mult=1):
    """A channel count scaled down by `div`, rounded up to a multiple of `mult`."""
    c = max(mult, math.ceil(c / div))
    return int(math.ceil(c / mult) * mult)


def conv_bn(cin, cout, k=3, stride=1, groups=1, act=nn.ReLU, dilation=1, padding=None):
    pad = (k - 1) // 2 * dilation if padding is None else padding
    layers = [nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- MobileNetV2

class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        layers = [] if expand == 1 else [conv_bn(cin, hid, 1, act=nn.ReLU6)]
        layers += [conv_bn(hid, hid, 3, stride, groups=hid, act=nn.ReLU6), conv_bn(hid, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.res else self.conv(x)


class MobileNetV2(nn.Module):
    CFG = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, classes=1000):
        super().__init__()
        cin = s(32)
        layers = [conv_bn(3, cin, 3, 2, act=nn.ReLU6)]
        for t, c, n, st in self.CFG:
            for i in range(n):
                layers.append(InvertedResidual(cin, s(c), st if i == 0 else 1, t))
                cin = s(c)
        layers.append(conv_bn(cin, s(1280), 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(s(1280), classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


# --------------------------------------------------------------------------- MobileNetV3

class SqueezeExcite(nn.Module):
    """torchvision's SqueezeExcitation: avg pool, 1x1 reduce, act, 1x1 expand, gate."""

    def __init__(self, c, squeeze, act=nn.ReLU, gate=nn.Hardsigmoid):
        super().__init__()
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.act = act()
        self.gate = gate()

    def forward(self, x):
        w = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(w))))


class V3Block(nn.Module):
    def __init__(self, cin, k, exp, cout, se, act, stride):
        super().__init__()
        layers = [] if exp == cin else [conv_bn(cin, exp, 1, act=act)]
        layers.append(conv_bn(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp, s(exp // 4, 1, 8) if exp >= 32 else max(1, exp // 4)))
        layers.append(conv_bn(exp, cout, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.res else y


class MobileNetV3(nn.Module):
    RE, HS = nn.ReLU, nn.Hardswish
    SMALL = [(16, 3, 16, 16, True, RE, 2), (16, 3, 72, 24, False, RE, 2), (24, 3, 88, 24, False, RE, 1),
             (24, 5, 96, 40, True, HS, 2), (40, 5, 240, 40, True, HS, 1), (40, 5, 240, 40, True, HS, 1),
             (40, 5, 120, 48, True, HS, 1), (48, 5, 144, 48, True, HS, 1), (48, 5, 288, 96, True, HS, 2),
             (96, 5, 576, 96, True, HS, 1), (96, 5, 576, 96, True, HS, 1)]
    LARGE = [(16, 3, 16, 16, False, RE, 1), (16, 3, 64, 24, False, RE, 2), (24, 3, 72, 24, False, RE, 1),
             (24, 5, 72, 40, True, RE, 2), (40, 5, 120, 40, True, RE, 1), (40, 5, 120, 40, True, RE, 1),
             (40, 3, 240, 80, False, HS, 2), (80, 3, 200, 80, False, HS, 1), (80, 3, 184, 80, False, HS, 1),
             (80, 3, 184, 80, False, HS, 1), (80, 3, 480, 112, True, HS, 1), (112, 3, 672, 112, True, HS, 1),
             (112, 5, 672, 160, True, HS, 2), (160, 5, 960, 160, True, HS, 1), (160, 5, 960, 160, True, HS, 1)]

    def __init__(self, large=False, classes=1000):
        super().__init__()
        cfg, last, hidden = (self.LARGE, 960, 1280) if large else (self.SMALL, 576, 1024)
        layers = [conv_bn(3, s(16), 3, 2, act=nn.Hardswish)]
        for cin, k, exp, cout, se, act, st in cfg:
            layers.append(V3Block(s(cin), k, s(exp), s(cout), se, act, st))
        layers.append(conv_bn(s(cfg[-1][3]), s(last), 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(s(last), s(hidden)), nn.Hardswish(), nn.Dropout(0.2),
                                        nn.Linear(s(hidden), classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


# --------------------------------------------------------------------------- EfficientNet-B0

class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        hid = cin * expand
        layers = [] if expand == 1 else [conv_bn(cin, hid, 1, act=nn.SiLU)]
        layers += [conv_bn(hid, hid, k, stride, groups=hid, act=nn.SiLU),
                   SqueezeExcite(hid, max(1, cin // 4), act=nn.SiLU, gate=nn.Sigmoid),
                   conv_bn(hid, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.res else y  # stochastic depth is the identity in eval mode


class EfficientNetB0(nn.Module):
    CFG = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
           (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]

    def __init__(self, classes=1000):
        super().__init__()
        layers = [conv_bn(3, s(32), 3, 2, act=nn.SiLU)]
        for e, k, st, cin, cout, n in self.CFG:
            for i in range(n):
                layers.append(MBConv(s(cin) if i == 0 else s(cout), s(cout), k, st if i == 0 else 1, e))
        layers.append(conv_bn(s(320), s(1280), 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(s(1280), classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


# --------------------------------------------------------------------------- ShuffleNetV2

def channel_shuffle(x, groups):
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, -1, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        bf = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=None), conv_bn(cin, bf, 1))
        cb = cin if stride > 1 else bf
        self.branch2 = nn.Sequential(conv_bn(cb, bf, 1), conv_bn(bf, bf, 3, stride, groups=bf, act=None),
                                     conv_bn(bf, bf, 1))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        ch = [s(24, mult=2), s(116, mult=2), s(232, mult=2), s(464, mult=2), s(1024)]
        self.conv1 = conv_bn(3, ch[0], 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], ch[0]
        for reps, cout in zip([4, 8, 4], ch[1:4]):
            units = [ShuffleUnit(cin, cout, 2)] + [ShuffleUnit(cout, cout, 1) for _ in range(reps - 1)]
            stages.append(nn.Sequential(*units))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.conv5 = conv_bn(cin, ch[4], 1)
        self.fc = nn.Linear(ch[4], classes)

    def forward(self, x):
        x = self.conv5(self.stages(self.maxpool(self.conv1(x))))
        return self.fc(x.mean([2, 3]))


# --------------------------------------------------------------------------- DenseNet-121

class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2, self.conv2 = nn.BatchNorm2d(bn_size * growth), nn.Conv2d(bn_size * growth, growth, 3, 1, 1, bias=False)

    def forward(self, feats):
        x = torch.cat(feats, 1)
        x = self.conv1(F.relu(self.norm1(x)))
        return self.conv2(F.relu(self.norm2(x)))


class DenseBlock(nn.Module):
    def __init__(self, n, cin, growth, bn_size):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(cin + i * growth, growth, bn_size) for i in range(n))

    def forward(self, x):
        feats = [x]
        for layer in self.layers:
            feats.append(layer(feats))
        return torch.cat(feats, 1)


class DenseNet(nn.Module):
    """DenseNet-121's structure (pre-activation dense layers whose input is
    the Concat of every earlier output, transitions BN-ReLU-1x1-AvgPool) with
    growth 32/4 and half the layers per block (3, 6, 12, 8)."""

    def __init__(self, blocks=(3, 6, 12, 8), growth=8, init=16, bn_size=4, classes=1000):
        super().__init__()
        layers = [nn.Conv2d(3, init, 7, 2, 3, bias=False), nn.BatchNorm2d(init), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
        c = init
        for i, n in enumerate(blocks):
            layers.append(DenseBlock(n, c, growth, bn_size))
            c += n * growth
            if i != len(blocks) - 1:
                layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
                c //= 2
        layers.append(nn.BatchNorm2d(c))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


# --------------------------------------------------------------------------- SqueezeNet 1.1

class Fire(nn.Module):
    def __init__(self, cin, sq, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, sq, 1)
        self.e1 = nn.Conv2d(sq, e1, 1)
        self.e3 = nn.Conv2d(sq, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)


class SqueezeNet(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        mp = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, s(64), 3, 2), nn.ReLU(), mp(),
            Fire(s(64), s(16), s(64), s(64)), Fire(s(128), s(16), s(64), s(64)), mp(),
            Fire(s(128), s(32), s(128), s(128)), Fire(s(256), s(32), s(128), s(128)), mp(),
            Fire(s(256), s(48), s(192), s(192)), Fire(s(384), s(48), s(192), s(192)),
            Fire(s(384), s(64), s(256), s(256)), Fire(s(512), s(64), s(256), s(256)))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(s(512), classes, 1), nn.ReLU(),
                                        nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# --------------------------------------------------------------------------- GoogLeNet

class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.b1 = conv_bn(cin, s(c1), 1)
        self.b2 = nn.Sequential(conv_bn(cin, s(c3r), 1), conv_bn(s(c3r), s(c3), 3))
        self.b3 = nn.Sequential(conv_bn(cin, s(c5r), 1), conv_bn(s(c5r), s(c5), 5))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), conv_bn(cin, s(pp), 1))
        self.cout = s(c1) + s(c3) + s(c5) + s(pp)

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class GoogLeNet(nn.Module):
    """torchvision's GoogLeNet layout (BatchNorm, no LRN: torch 2.13's
    TorchScript exporter writes nn.LocalResponseNorm as Pad/Slice/If
    arithmetic, not as the ONNX LRN op) with the original 5x5 branch."""

    CFG = {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "pool3": None,
           "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
           "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128), "pool4": None,
           "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128)}

    def __init__(self, classes=1000):
        super().__init__()
        layers = [conv_bn(3, s(64), 7, 2), nn.MaxPool2d(3, 2, ceil_mode=True),
                  conv_bn(s(64), s(64), 1), conv_bn(s(64), s(192), 3), nn.MaxPool2d(3, 2, ceil_mode=True)]
        c = s(192)
        for cfg in self.CFG.values():
            if cfg is None:
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
                continue
            block = Inception(c, *cfg)
            layers.append(block)
            c = block.cout
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.fc(torch.flatten(x, 1))


# --------------------------------------------------------------------------- U-Net

def double_conv(cin, cout):
    return nn.Sequential(conv_bn(cin, cout, 3), conv_bn(cout, cout, 3))


class UNet(nn.Module):
    def __init__(self, cin=3, classes=5, widths=(16, 32, 64, 128, 256)):
        super().__init__()
        self.downs = nn.ModuleList()
        c = cin
        for w in widths[:-1]:
            self.downs.append(double_conv(c, w))
            c = w
        self.bottom = double_conv(c, widths[-1])
        self.ups, self.dec = nn.ModuleList(), nn.ModuleList()
        c = widths[-1]
        for w in reversed(widths[:-1]):
            self.ups.append(nn.ConvTranspose2d(c, w, 2, 2))
            self.dec.append(double_conv(2 * w, w))
            c = w
        self.out = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        skips = []
        for d in self.downs:
            x = d(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, dec, skip in zip(self.ups, self.dec, reversed(skips)):
            x = dec(torch.cat([skip, up(x)], 1))
        return self.out(x)


# --------------------------------------------------------------------------- DeepLabV3

class Bottleneck(nn.Module):
    def __init__(self, cin, mid, cout, stride=1, dilation=1):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, mid, 1), conv_bn(mid, mid, 3, stride, dilation=dilation),
                                  conv_bn(mid, cout, 1, act=None))
        self.short = None if stride == 1 and cin == cout else conv_bn(cin, cout, 1, stride, act=None)

    def forward(self, x):
        return F.relu(self.body(x) + (x if self.short is None else self.short(x)))


class ASPP(nn.Module):
    def __init__(self, cin, c, rates=(6, 12, 18)):
        super().__init__()
        self.branches = nn.ModuleList([conv_bn(cin, c, 1)] + [conv_bn(cin, c, 3, dilation=r) for r in rates])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.project = nn.Sequential(conv_bn(5 * c, c, 1), nn.Dropout(0.5))

    def forward(self, x):
        size = x.shape[-2:]
        outs = [b(x) for b in self.branches]
        outs.append(F.interpolate(self.pool(x), size=size, mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, 1))


class DeepLabV3(nn.Module):
    """A ResNet-style backbone at output stride 8 (the last two stages
    dilated 2 and 4 instead of strided), ASPP (rates 6/12/18 and image
    pooling), head, bilinear upsampling to the input size."""

    def __init__(self, classes=21):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 16, 3, 2), conv_bn(16, 16, 3), nn.MaxPool2d(3, 2, 1))
        self.layer1 = nn.Sequential(Bottleneck(16, 8, 32), Bottleneck(32, 8, 32))
        self.layer2 = nn.Sequential(Bottleneck(32, 16, 64, 2), Bottleneck(64, 16, 64))
        self.layer3 = nn.Sequential(Bottleneck(64, 32, 128, 1, 2), Bottleneck(128, 32, 128, 1, 2))
        self.layer4 = nn.Sequential(Bottleneck(128, 64, 256, 1, 4), Bottleneck(256, 64, 256, 1, 4))
        self.aspp = ASPP(256, 64)
        self.head = nn.Sequential(conv_bn(64, 64, 3), nn.Conv2d(64, classes, 1))

    def forward(self, x):
        size = x.shape[-2:]
        y = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        y = self.head(self.aspp(y))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------- WaveNet

class WaveNetLayer(nn.Module):
    def __init__(self, res, dil_ch, skip, dilation):
        super().__init__()
        self.dilation = dilation
        self.filt = nn.Conv1d(res, dil_ch, 2, dilation=dilation)
        self.gate = nn.Conv1d(res, dil_ch, 2, dilation=dilation)
        self.res = nn.Conv1d(dil_ch, res, 1)
        self.skip = nn.Conv1d(dil_ch, skip, 1)

    def forward(self, x):
        xp = F.pad(x, (self.dilation, 0))  # causal: pad on the left only
        z = torch.tanh(self.filt(xp)) * torch.sigmoid(self.gate(xp))
        return x + self.res(z), self.skip(z)


class WaveNet(nn.Module):
    """Causal dilated Conv1d stack (dilations 1..512, two stacks), gated
    tanh*sigmoid units, residual and skip sums, softmax over 256 classes."""

    def __init__(self, res=16, dil_ch=16, skip=32, classes=256, stacks=2):
        super().__init__()
        self.causal = nn.Conv1d(1, res, 2)
        self.layers = nn.ModuleList(WaveNetLayer(res, dil_ch, skip, 2 ** i) for _ in range(stacks) for i in range(10))
        self.out1 = nn.Conv1d(skip, skip, 1)
        self.out2 = nn.Conv1d(skip, classes, 1)

    def forward(self, x):
        x = self.causal(F.pad(x, (1, 0)))
        total = 0
        for layer in self.layers:
            x, sk = layer(x)
            total = total + sk
        y = self.out2(F.relu(self.out1(F.relu(total))))
        return torch.softmax(y, dim=1)


# --------------------------------------------------------------------------- YOLO-style

def cbs(cin, cout, k=1, stride=1):
    return conv_bn(cin, cout, k, stride, act=nn.SiLU)


class C2f(nn.Module):
    """YOLOv8's C2f: 1x1 conv, chunk in two, bottlenecks on the second half,
    Concat of every intermediate, 1x1 conv."""

    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        self.c = cout // 2
        self.cv1 = cbs(cin, 2 * self.c)
        self.cv2 = cbs((2 + n) * self.c, cout)
        self.m = nn.ModuleList(nn.Sequential(cbs(self.c, self.c, 3), cbs(self.c, self.c, 3)) for _ in range(n))
        self.shortcut = shortcut

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(y[-1] + m(y[-1]) if self.shortcut else m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.cv1 = cbs(cin, cin // 2)
        self.cv2 = cbs(cin * 2, cout)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class YOLO(nn.Module):
    """YOLOv8-n-like backbone/PAN neck (SiLU, C2f with chunk -> Split, SPPF,
    nearest Upsample x2, Concat) and a YOLOv5-style anchor head decoded in
    the graph: sigmoid, grid from arange of the feature size, (2s-0.5+grid)
    *stride for xy, (2s)^2*anchor for wh."""

    ANCHORS = [[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)], [(116, 90), (156, 198), (373, 326)]]
    STRIDES = [8, 16, 32]

    def __init__(self, classes=8):
        super().__init__()
        self.no = classes + 5
        self.b0 = nn.Sequential(cbs(3, 8, 3, 2), cbs(8, 16, 3, 2), C2f(16, 16, 1), cbs(16, 32, 3, 2), C2f(32, 32, 2))
        self.b1 = nn.Sequential(cbs(32, 64, 3, 2), C2f(64, 64, 2))
        self.b2 = nn.Sequential(cbs(64, 128, 3, 2), C2f(128, 128, 1), SPPF(128, 128))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n1 = C2f(128 + 64, 64, 1, False)
        self.n2 = C2f(64 + 32, 32, 1, False)
        self.d1 = cbs(32, 32, 3, 2)
        self.n3 = C2f(32 + 64, 64, 1, False)
        self.d2 = cbs(64, 64, 3, 2)
        self.n4 = C2f(64 + 128, 128, 1, False)
        self.heads = nn.ModuleList(nn.Conv2d(c, 3 * self.no, 1) for c in (32, 64, 128))
        self.register_buffer("anchors", torch.tensor(self.ANCHORS, dtype=torch.float32))

    def forward(self, x):
        p3 = self.b0(x)
        p4 = self.b1(p3)
        p5 = self.b2(p4)
        t4 = self.n1(torch.cat([self.up(p5), p4], 1))
        o3 = self.n2(torch.cat([self.up(t4), p3], 1))
        o4 = self.n3(torch.cat([self.d1(o3), t4], 1))
        o5 = self.n4(torch.cat([self.d2(o4), p5], 1))
        outs = []
        for i, f in enumerate((o3, o4, o5)):
            y = self.heads[i](f)
            bs, _, ny, nx = y.shape
            y = y.view(bs, 3, self.no, ny, nx).permute(0, 1, 3, 4, 2).sigmoid()
            gy, gx = torch.meshgrid(torch.arange(ny, dtype=torch.float32), torch.arange(nx, dtype=torch.float32), indexing="ij")
            grid = torch.stack((gx, gy), 2).view(1, 1, ny, nx, 2)
            anchor = self.anchors[i].view(1, 3, 1, 1, 2)
            xy, wh, conf = y.split((2, 2, self.no - 4), 4)
            xy = (xy * 2 - 0.5 + grid) * self.STRIDES[i]
            wh = (wh * 2) ** 2 * anchor
            outs.append(torch.cat((xy, wh, conf), 4).view(bs, -1, self.no))
        return torch.cat(outs, 1)


# --------------------------------------------------------------------------- SSD-lite

def dw_sep(cin, cout, stride=1):
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=nn.ReLU6), conv_bn(cin, cout, 1, act=nn.ReLU6))


class SSDLite(nn.Module):
    """A MobileNet-style backbone with extra stride-2 layers and, on six
    feature levels, depthwise-separable class and box heads; per level the
    outputs are permuted to NHWC and reshaped to [N, anchors, C], Concat
    over levels, Softmax over classes. Two outputs: scores, boxes."""

    def __init__(self, classes=21, anchors=(4, 6, 6, 6, 4, 4)):
        super().__init__()
        self.classes = classes
        self.stem = nn.Sequential(conv_bn(3, 8, 3, 2, act=nn.ReLU6), dw_sep(8, 16), dw_sep(16, 24, 2), dw_sep(24, 24),
                                  dw_sep(24, 32, 2), dw_sep(32, 32), dw_sep(32, 64, 2), dw_sep(64, 64))
        self.s2 = nn.Sequential(dw_sep(64, 96, 2), dw_sep(96, 96))
        chans = [64, 96, 64, 32, 32, 16]
        self.extras = nn.ModuleList(nn.Sequential(conv_bn(ci, co // 2, 1, act=nn.ReLU6), dw_sep(co // 2, co, 2))
                                    for ci, co in zip(chans[1:-1], chans[2:]))
        self.cls = nn.ModuleList(nn.Sequential(conv_bn(c, c, 3, groups=c, act=nn.ReLU6), nn.Conv2d(c, a * classes, 1))
                                 for c, a in zip(chans, anchors))
        self.reg = nn.ModuleList(nn.Sequential(conv_bn(c, c, 3, groups=c, act=nn.ReLU6), nn.Conv2d(c, a * 4, 1))
                                 for c, a in zip(chans, anchors))

    def forward(self, x):
        f = [self.stem(x)]
        f.append(self.s2(f[-1]))
        for e in self.extras:
            f.append(e(f[-1]))
        n = x.shape[0]
        scores = [c(t).permute(0, 2, 3, 1).reshape(n, -1, self.classes) for c, t in zip(self.cls, f)]
        boxes = [r(t).permute(0, 2, 3, 1).reshape(n, -1, 4) for r, t in zip(self.reg, f)]
        return torch.softmax(torch.cat(scores, 1), dim=-1), torch.cat(boxes, 1)


# --------------------------------------------------------------------------- DB text detector

class DBNet(nn.Module):
    """DBNet (PaddleOCR / MMOCR shape): a MobileNetV3-like backbone with
    HardSigmoid SE gates, an FPN (1x1 laterals, nearest x2 top-down adds,
    3x3 smoothing, nearest upsampling of every level to 1/4, Concat), and
    probability / threshold heads (3x3 conv, two ConvTranspose x2, Sigmoid),
    output Concat([P, T]). The differentiable binarisation 1/(1+exp(-50(P-T)))
    is training-only in DB (inference thresholds P), and its x12.5 slope
    turns float32 noise into more than the DESIGN tolerance: torch and
    onnxruntime themselves differ by 1.1e-4 there. It is not exported."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 8, 3, 2, act=nn.Hardswish)
        self.c2 = nn.Sequential(V3Block(8, 3, 16, 16, False, nn.ReLU, 2), V3Block(16, 3, 32, 16, False, nn.ReLU, 1))
        self.c3 = nn.Sequential(V3Block(16, 5, 48, 24, True, nn.Hardswish, 2), V3Block(24, 5, 64, 24, True, nn.Hardswish, 1))
        self.c4 = nn.Sequential(V3Block(24, 3, 96, 40, True, nn.Hardswish, 2), V3Block(40, 3, 120, 40, True, nn.Hardswish, 1))
        self.c5 = nn.Sequential(V3Block(40, 5, 160, 64, True, nn.Hardswish, 2))
        inner = 32
        self.lat = nn.ModuleList(nn.Conv2d(c, inner, 1, bias=False) for c in (16, 24, 40, 64))
        self.smooth = nn.ModuleList(nn.Conv2d(inner, inner // 4, 3, padding=1, bias=False) for _ in range(4))

        def head():
            return nn.Sequential(conv_bn(inner, inner // 4, 3), nn.ConvTranspose2d(inner // 4, inner // 4, 2, 2),
                                 nn.BatchNorm2d(inner // 4), nn.ReLU(), nn.ConvTranspose2d(inner // 4, 1, 2, 2), nn.Sigmoid())
        self.prob, self.thresh = head(), head()

    def forward(self, x):
        c2 = self.c2(self.stem(x))
        c3 = self.c3(c2)
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        l2, l3, l4, l5 = (m(c) for m, c in zip(self.lat, (c2, c3, c4, c5)))
        o4 = l4 + F.interpolate(l5, scale_factor=2.0, mode="nearest")
        o3 = l3 + F.interpolate(o4, scale_factor=2.0, mode="nearest")
        o2 = l2 + F.interpolate(o3, scale_factor=2.0, mode="nearest")
        p5 = F.interpolate(self.smooth[3](l5), scale_factor=8.0, mode="nearest")
        p4 = F.interpolate(self.smooth[2](o4), scale_factor=4.0, mode="nearest")
        p3 = F.interpolate(self.smooth[1](o3), scale_factor=2.0, mode="nearest")
        fuse = torch.cat([p5, p4, p3, self.smooth[0](o2)], 1)
        return torch.cat([self.prob(fuse), self.thresh(fuse)], 1)


# --------------------------------------------------------------------------- CRNN

class CRNN(nn.Module):
    """CRNN (Shi et al.): VGG-style CNN taking a 32-pixel-high grey line to
    height 1, squeeze/permute to [T, N, C], two bidirectional LSTMs with a
    Linear between, Linear to the classes, Softmax."""

    def __init__(self, classes=37, hidden=64):
        super().__init__()
        r = nn.ReLU
        self.cnn = nn.Sequential(
            nn.Conv2d(1, 16, 3, 1, 1), r(), nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 32, 3, 1, 1), r(), nn.MaxPool2d(2, 2),
            conv_bn(32, 64, 3), nn.Conv2d(64, 64, 3, 1, 1), r(), nn.MaxPool2d((2, 2), (2, 1), (0, 1)),
            conv_bn(64, 128, 3), nn.Conv2d(128, 128, 3, 1, 1), r(), nn.MaxPool2d((2, 2), (2, 1), (0, 1)),
            conv_bn(128, 128, 2, padding=0))
        self.rnn1 = nn.LSTM(128, hidden, bidirectional=True)
        self.emb1 = nn.Linear(2 * hidden, hidden)
        self.rnn2 = nn.LSTM(hidden, hidden, bidirectional=True)
        self.emb2 = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        f = self.cnn(x).squeeze(2).permute(2, 0, 1)  # [T, N, C]
        y, _ = self.rnn1(f)
        y, _ = self.rnn2(self.emb1(y))
        return torch.softmax(self.emb2(y), dim=2)


# --------------------------------------------------------------------------- registry

# name -> (builder, input shape at batch 1, kind)
NETS = {
    "mobilenet_v2": (MobileNetV2, (1, 3, 224, 224), "classifier"),
    "mobilenet_v3_small": (lambda: MobileNetV3(False), (1, 3, 224, 224), "classifier"),
    "mobilenet_v3_large": (lambda: MobileNetV3(True), (1, 3, 224, 224), "classifier"),
    "efficientnet_b0": (EfficientNetB0, (1, 3, 224, 224), "classifier"),
    "shufflenet_v2": (ShuffleNetV2, (1, 3, 224, 224), "classifier"),
    "densenet121": (DenseNet, (1, 3, 224, 224), "classifier"),
    "squeezenet": (SqueezeNet, (1, 3, 224, 224), "classifier"),
    "googlenet": (GoogLeNet, (1, 3, 224, 224), "classifier"),
    "unet": (UNet, (1, 3, 256, 256), "dense"),
    "deeplabv3": (DeepLabV3, (1, 3, 256, 256), "dense"),
    "wavenet": (WaveNet, (1, 1, 4000), "other"),
    "yolo": (YOLO, (1, 3, 320, 320), "dense"),
    "ssdlite": (SSDLite, (1, 3, 320, 320), "other"),
    "dbnet": (DBNet, (1, 3, 320, 320), "dense"),
    "crnn": (CRNN, (1, 1, 32, 100), "other"),
}

# Other sizes of the trailing input axes that the legacy export makes
# dynamic (H/W of the fully convolutional nets, WaveNet's length, the CRNN's
# line width), run in the same session as the export size; and the output
# axes that follow them.
OTHER_SIZES = {
    "unet": [(160, 224), (96, 96)],
    "deeplabv3": [(200, 264), (97, 129)],
    "yolo": [(256, 416), (192, 192)],
    "dbnet": [(224, 352), (160, 160)],
    "wavenet": [(1601,)],
    "crnn": [(160,)],
}
OUTPUT_AXES = {  # output name -> {axis: name}, beyond the batch at axis 0
    "unet": {"y": {2: "height", 3: "width"}},
    "deeplabv3": {"y": {2: "height", 3: "width"}},
    "dbnet": {"y": {2: "height", 3: "width"}},
    "yolo": {"y": {1: "boxes"}},
    "wavenet": {"y": {2: "length"}},
}


def init_weights(model, seed):
    """He-normal convolutions, small random biases, random BatchNorm
    statistics and affine; eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                w = m.weight
                fan_in = w.shape[1] * int(np.prod(w.shape[2:])) if not isinstance(m, nn.ConvTranspose2d) \
                    else w.shape[0] // max(1, m.groups) * int(np.prod(w.shape[2:])) // int(np.prod(m.stride))
                w.copy_(torch.randn(w.shape, generator=g) * math.sqrt(2.0 / max(1, fan_in)))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.05)
            elif isinstance(m, nn.LSTM):
                for name, p in m.named_parameters():
                    p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / math.sqrt(m.hidden_size))
    model.eval()
    return model


def _scale_output(model, layer, shape, target_std=3.0):
    """Scale `layer` (a Linear / Conv) so that its output has standard
    deviation `target_std` on a random input: logits whose softmax or
    argmax has several non-negligible classes, or pre-sigmoid maps that
    are not saturated (large pre-activations make the DESIGN tolerance,
    relative to the output's max of 1, tighter than float32 itself: torch
    and onnxruntime then differ by more than it)."""
    seen = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(float(o.std())))
    x = torch.randn(2, *shape[1:], generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        model(x)
        hook.remove()
        if seen[0] > 0:
            layer.weight.mul_(target_std / seen[0])
            if layer.bias is not None:
                layer.bias.mul_(target_std / seen[0])


def build(name, seed=0):
    builder, shape, kind = NETS[name]
    torch.manual_seed(seed)
    model = init_weights(builder(), seed + 1)
    if kind == "classifier" or name == "crnn":
        _scale_output(model, [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1], shape)
    if name == "dbnet":
        for head in (model.prob, model.thresh):
            _scale_output(model, head[-2], shape, 2.0)
    return model, shape, kind


def input_names(name):
    return ["x"]


def output_names(name):
    return ["scores", "boxes"] if name == "ssdlite" else ["y"]


def export(model, shape, *, dynamo, opset=None, dynamic_batch=True, dynamic_hw=False, name="net"):
    """torch.onnx.export to an onnx.ModelProto. The legacy (TorchScript)
    exporter gets dynamic_axes (batch; with dynamic_hw also the trailing
    axes of OTHER_SIZES); the dynamo exporter gets dynamic_shapes with a
    torch.export.Dim for the batch (an example batch of 1 would be
    specialised by torch.export, so the example input has batch 2)."""
    import onnx

    outs = output_names(name)
    rank = len(shape)
    if not dynamo:
        dyn = None
        if dynamic_batch:
            dyn = {n: {0: "batch"} for n in ["x"] + outs}
            if name == "crnn":  # [T, N, C]
                dyn["y"] = {1: "batch"}
        if dynamic_hw:
            nd = len(OTHER_SIZES[name][0])
            dyn["x"].update({rank - nd + k: f"in{k}" for k in range(nd)})
            for o, axes in OUTPUT_AXES.get(name, {}).items():
                dyn[o].update(axes)
            if name == "crnn":
                dyn["y"][0] = "steps"
        x = torch.randn(*shape)
        buf = io.BytesIO()
        with torch.no_grad():
            torch.onnx.export(model, (x,), buf, opset_version=opset, dynamo=False, input_names=["x"],
                              output_names=outs, dynamic_axes=dyn)
        return onnx.load_from_string(buf.getvalue())
    dims = {}
    ex_shape = list(shape)
    if dynamic_batch:
        dims[0] = torch.export.Dim("batch", min=1, max=64)
        ex_shape[0] = 2
    assert not dynamic_hw, "the dynamo exports here have a dynamic batch only"
    x = torch.randn(*ex_shape)
    with torch.no_grad():
        prog = torch.onnx.export(model, (x,), dynamo=True, opset_version=opset, input_names=["x"], output_names=outs,
                                 dynamic_shapes=({**dims},) if dims else None, verbose=False)
    return prog.model_proto
