#!/usr/bin/env python3
"""Test fixtures for aistylize (tests/models/style/), with golden outputs from PyTorch.

- transformer_net_dyn.onnx / transformer_net_224.onnx: the fast-neural-style
  TransformerNet architecture of pytorch/examples (9x9 conv, two stride-2 convs,
  five residual blocks, two nearest-x2 upsample convs, 9x9 conv; reflection
  padding, InstanceNorm, ReLU) with channels divided by 8 (4/8/16) and random
  weights, input 'input1' NCHW RGB 0..255 like the ONNX model zoo's, output
  'output1'. The last conv is scaled so the output spans 0..255 (random weights
  otherwise give values near 0, which would make the golden test weak).
  One file has dynamic height/width, the other the zoo's static 224x224.
- golden_in.rgb: a 96x64 RGB crop of a photograph; golden_dyn.bin: PyTorch's
  output of the dynamic model on it (f32, 3x64x96, 0..255 unclipped);
  golden_224.bin: the fit=resize path: bicubic (align_corners=False, a=-0.75)
  to 224x224, the model, bicubic back to 96x64 (f32, 0..255).
- animegan_nhwc.onnx: the AnimeGANv2 tf2onnx contract (input 'generator_input:0'
  NHWC, output after Tanh then Transpose) computing tanh(2x) per channel;
  animegan_nchw.onnx: the PyTorch port's (NCHW, ends in Tanh) computing tanh(2x).

    python3 models/make_style_fixtures.py
"""

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvgg_onnx import finish  # noqa: E402
from train_sr import load_rgb  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "models", "style")
C1, C2, C3 = 4, 8, 16  # pytorch/examples uses 32, 64, 128


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.pad = nn.ReflectionPad2d(k // 2)
        self.conv = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv(self.pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3, 1)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.conv2 = ConvLayer(c, c, 3, 1)
        self.in2 = nn.InstanceNorm2d(c, affine=True)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(y)) + x


class UpsampleConvLayer(nn.Module):
    def __init__(self, cin, cout, k, upsample):
        super().__init__()
        self.upsample = upsample
        self.conv = ConvLayer(cin, cout, k, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=self.upsample, mode="nearest"))


class TransformerNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, C1, 9, 1), nn.InstanceNorm2d(C1, affine=True)
        self.conv2, self.in2 = ConvLayer(C1, C2, 3, 2), nn.InstanceNorm2d(C2, affine=True)
        self.conv3, self.in3 = ConvLayer(C2, C3, 3, 2), nn.InstanceNorm2d(C3, affine=True)
        self.res = nn.ModuleList([ResidualBlock(C3) for _ in range(5)])
        self.deconv1, self.in4 = UpsampleConvLayer(C3, C2, 3, 2), nn.InstanceNorm2d(C2, affine=True)
        self.deconv2, self.in5 = UpsampleConvLayer(C2, C1, 3, 2), nn.InstanceNorm2d(C1, affine=True)
        self.deconv3 = ConvLayer(C1, 3, 9, 1)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for r in self.res:
            y = r(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


class Builder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, arr, hint):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, op_type, inputs, hint=None, out=None, **attrs):
        out = out or self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def conv_layer(self, x, layer):
        k = layer.conv.kernel_size[0]
        p = k // 2
        pads = self.const(np.array([0, 0, p, p, 0, 0, p, p], np.int64), "pads")
        x = self.op("Pad", [x, pads], mode="reflect")
        w = self.const(layer.conv.weight.detach().numpy(), "w")
        b = self.const(layer.conv.bias.detach().numpy(), "b")
        s = layer.conv.stride[0]
        return self.op("Conv", [x, w, b], kernel_shape=[k, k], strides=[s, s])

    def inorm(self, x, norm):
        g = self.const(norm.weight.detach().numpy(), "gamma")
        b = self.const(norm.bias.detach().numpy(), "beta")
        return self.op("InstanceNormalization", [x, g, b], epsilon=norm.eps)

    def upsample(self, x):
        scales = self.const(np.array([1, 1, 2, 2], np.float32), "scales")
        return self.op("Resize", [x, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                       nearest_mode="floor")


def export_transformer(net, path, size):
    b = Builder()
    x = "input1"
    y = b.op("Relu", [b.inorm(b.conv_layer(x, net.conv1), net.in1)])
    y = b.op("Relu", [b.inorm(b.conv_layer(y, net.conv2), net.in2)])
    y = b.op("Relu", [b.inorm(b.conv_layer(y, net.conv3), net.in3)])
    for r in net.res:
        z = b.op("Relu", [b.inorm(b.conv_layer(y, r.conv1), r.in1)])
        z = b.inorm(b.conv_layer(z, r.conv2), r.in2)
        y = b.op("Add", [z, y])
    y = b.op("Relu", [b.inorm(b.conv_layer(b.upsample(y), net.deconv1.conv), net.in4)])
    y = b.op("Relu", [b.inorm(b.conv_layer(b.upsample(y), net.deconv2.conv), net.in5)])
    last = b.conv_layer(y, net.deconv3)
    b.nodes[-1].output[0] = "output1"
    b.nodes[-1].name = "output1"
    del last
    dims = [1, 3, size, size] if size else [1, 3, "height", "width"]
    graph = helper.make_graph(b.nodes, "transformer_net",
                              [helper.make_tensor_value_info("input1", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("output1", TensorProto.FLOAT, dims)], b.inits)
    finish(graph, path, doc="TransformerNet (fast-neural-style) channels/8, random weights; RGB 0..255")


def export_tanh(path, nhwc):
    """tanh(2x) per channel, in the AnimeGANv2 layouts."""
    b = Builder()
    if nhwc:
        inp, out = "generator_input:0", "generator/G_MODEL/out_layer/Tanh:0"
        x = b.op("Transpose", [inp], perm=[0, 3, 1, 2])
        dims = [1, "height", "width", 3]
    else:
        inp, out = "input", "output"
        x = inp
        dims = [1, 3, "height", "width"]
    w = b.const((np.eye(3, dtype=np.float32) * 2.0).reshape(3, 3, 1, 1), "w")
    bias = b.const(np.zeros(3, np.float32), "b")
    x = b.op("Conv", [x, w, bias], kernel_shape=[1, 1])
    if nhwc:
        x = b.op("Tanh", [x])
        b.op("Transpose", [x], out=out, perm=[0, 2, 3, 1])
    else:
        b.op("Tanh", [x], out=out)
    graph = helper.make_graph(b.nodes, "animegan_like",
                              [helper.make_tensor_value_info(inp, TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, dims)], b.inits)
    finish(graph, path, doc="AnimeGANv2 contract fixture: tanh(2x), -1..1")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(7)
    net = TransformerNet()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        net.deconv3.conv.weight.mul_(40.0)
        net.deconv3.conv.bias.fill_(128.0)
    net.eval()
    dyn = os.path.join(OUT, "transformer_net_dyn.onnx")
    static = os.path.join(OUT, "transformer_net_224.onnx")
    export_transformer(net, dyn, None)
    export_transformer(net, static, 224)

    photo = load_rgb("astronaut.png")[100:164, 180:276]  # 64x96
    assert photo.shape == (64, 96, 3)
    photo.tofile(os.path.join(OUT, "golden_in.rgb"))
    x = torch.from_numpy(photo.astype(np.float32)).permute(2, 0, 1)[None]  # 0..255
    with torch.no_grad():
        y = net(x)
        small = F.interpolate(x / 255.0, size=(224, 224), mode="bicubic", align_corners=False)
        y224 = net(small * 255.0) / 255.0
        back = F.interpolate(y224, size=(64, 96), mode="bicubic", align_corners=False) * 255.0
    y[0].numpy().astype("<f4").tofile(os.path.join(OUT, "golden_dyn.bin"))
    back[0].numpy().astype("<f4").tofile(os.path.join(OUT, "golden_224.bin"))
    print(f"dynamic output range {y.min():.1f}..{y.max():.1f}, mean {y.mean():.1f}")

    for path, inp, ref in [(dyn, x, y), (static, small * 255.0, y224 * 255.0)]:
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = s.run(None, {"input1": inp.numpy()})[0]
        err = float(np.abs(got - ref.numpy()).max())
        print(f"{os.path.basename(path)}: ORT vs PyTorch max abs {err:.2e}")
        assert err < 1e-2

    export_tanh(os.path.join(OUT, "animegan_nhwc.onnx"), True)
    export_tanh(os.path.join(OUT, "animegan_nchw.onnx"), False)
    v = np.random.default_rng(0).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
    got = ort.InferenceSession(os.path.join(OUT, "animegan_nhwc.onnx")).run(None, {"generator_input:0": v})[0]
    assert np.abs(got - np.tanh(2 * v)).max() < 1e-6
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))


if __name__ == "__main__":
    main()
