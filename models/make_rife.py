#!/usr/bin/env python3
"""Write the RIFE (IFNet v4.6 structure) test models and golden vectors into tests/models/rife/.

The network is RIFE's IFNet as in Practical-RIFE v4.6, written here from its
description, with the real structure but 1/8 of the channels and random weights:

  4 IFBlocks at scales 8, 4, 2, 1 with c = 24, 16, 12, 8   (full size: 192, 128, 96, 64)
  IFBlock(in, c), run at 1/scale of the frame size:
      x    = bilinear(x, 1/scale)            (align_corners=False)
      flow = bilinear(flow, 1/scale) / scale (blocks 1..3 only; concatenated to x)
      conv0     = conv3x3 s2 (in -> c/2), LeakyReLU(0.2), conv3x3 s2 (c/2 -> c), LeakyReLU(0.2)
      convblock = 8 x [conv3x3 (c -> c), LeakyReLU(0.2)];  feat = convblock(feat) + feat
      lastconv  = ConvTranspose2d(c, 4*5, 4, 2, 1) -> PixelShuffle(2)   (5 channels, 1/scale)
      tmp = bilinear(tmp, scale);  flow = tmp[:, 0:4] * scale;  mask = tmp[:, 4:5]
  IFNet(img0, img1, t):
      block 0 gets cat(img0, img1, t)                       (7 channels)
      block i gets cat(warp0, warp1, t, mask) and the flow  (8 + 4 channels), adds its
             flow and mask to the running ones
      after every block: warp0 = backward_warp(img0, flow[:, 0:2]),
                         warp1 = backward_warp(img1, flow[:, 2:4])
      out = warp0 * sigmoid(mask) + warp1 * (1 - sigmoid(mask))
  backward_warp = grid_sample(bilinear, padding_mode=border, align_corners=True) at
      grid = (base grid in -1..1) + flow * (2/(W-1), 2/(H-1)).

The ONNX graphs are built directly with onnx.helper (like the other scripts here), in
three input layouts that compute the same function with the same weights:

  rife_v1_11ch.onnx  input [1,11,H,W] = img0, img1, t, grid x, grid y, 2/(W-1), 2/(H-1)
                     (vs-mlrt "v1": the warps use the given grid and scale planes)
  rife_v2_7ch.onnx   input [1,7,H,W] = img0, img1, t (vs-mlrt "v2": grid made inside)
  rife_2in.onnx      inputs img0 [1,3,H,W], img1 [1,3,H,W], timestep [1] (Practical-RIFE)
  all: output [1,3,H,W]; H and W dynamic (multiples of 32).

The golden vectors (64x96 crops of scikit-image's "chelsea") are computed by the
PyTorch reference below; the script then runs every ONNX file with onnxruntime and
asserts it reproduces PyTorch (max abs diff < 1e-4), also at two other frame sizes.
It also prints the FLOPs of the full-size IFNet v4.6 at 1920x1088.

Usage:  python3 models/make_rife.py [OUT_DIR]     (default: tests/models/rife)
Needs numpy, onnx, onnxruntime, torch (CPU) and scikit-image (only for the photograph).
"""

import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srvgg_onnx import finish  # noqa: E402  (opset 17, ir_version 10, check + save)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "tests", "models", "rife")

SCALES = (8, 4, 2, 1)
FULL_CHANNELS = (192, 128, 96, 64)   # IFNet v4.6
CHANNEL_DIVISOR = 8                  # the test model: 24, 16, 12, 8
LAST_OUT = 5                         # lastconv: 4 flow + 1 mask channels (after PixelShuffle)
LEAKY = 0.2
SEED = 0
# Random init: the 3x3 convs get Kaiming-normal weights for LeakyReLU(0.2) (so the features
# neither vanish nor blow up through the 10 convs of a block) and PyTorch's default biases;
# lastconv (ConvTranspose) keeps PyTorch's default init, uniform +-1/sqrt(16 c), which is
# small: the final flow is a few pixels at most (max ~3.7 px, mean ~0.5 px on the golden
# frames) and the mask logits stay within about +-0.6, so the output is a plausible blend
# of two slightly warped frames rather than saturated garbage, and it depends on t.

GOLDEN_H, GOLDEN_W = 64, 96
CROP_Y, CROP_X = 70, 120            # img0 = chelsea[70:134, 120:216]
SHIFT_X, SHIFT_Y = 3, -2            # img1 content moved 3 px right, 2 px up
TOL = 1e-4


# ----------------------------------------------------------------------------- PyTorch

class IFBlock(nn.Module):
    def __init__(self, in_planes, c):
        super().__init__()
        self.conv0 = nn.Sequential(
            nn.Conv2d(in_planes, c // 2, 3, 2, 1), nn.LeakyReLU(LEAKY),
            nn.Conv2d(c // 2, c, 3, 2, 1), nn.LeakyReLU(LEAKY))
        layers = []
        for _ in range(8):
            layers += [nn.Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(LEAKY)]
        self.convblock = nn.Sequential(*layers)
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * LAST_OUT, 4, 2, 1),
                                      nn.PixelShuffle(2))

    def forward(self, x, flow, scale):
        if scale != 1:
            x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
        if flow is not None:
            if scale != 1:
                flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear",
                                     align_corners=False) * (1.0 / scale)
            x = torch.cat((x, flow), 1)
        feat = self.conv0(x)
        feat = self.convblock(feat) + feat
        tmp = self.lastconv(feat)
        if scale != 1:
            tmp = F.interpolate(tmp, scale_factor=scale, mode="bilinear", align_corners=False)
        return tmp[:, 0:4] * scale, tmp[:, 4:5]


def base_grid(h, w):
    """The backward-warp base grid (x, y) in -1..1 as [1,1,1,W] and [1,1,H,1] tensors."""
    gx = torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w)
    gy = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1)
    return gx, gy


def backward_warp(img, flow, gx, gy, dx, dy):
    g = torch.cat([gx + flow[:, 0:1] * dx, gy + flow[:, 1:2] * dy], 1).permute(0, 2, 3, 1)
    return F.grid_sample(img, g, mode="bilinear", padding_mode="border", align_corners=True)


class IFNet(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.blocks = nn.ModuleList(
            [IFBlock(7 if i == 0 else 8 + 4, c) for i, c in enumerate(channels)])

    def forward(self, img0, img1, t, grid=None, return_flow=False):
        """img0, img1 [N,3,H,W]; t [N,1,H,W]; grid = (gx, gy, dx, dy) or None (made here)."""
        h, w = img0.shape[2], img0.shape[3]
        if grid is None:
            gx, gy = base_grid(h, w)
            grid = (gx, gy, 2.0 / (w - 1), 2.0 / (h - 1))
        flow = mask = None
        for block, scale in zip(self.blocks, SCALES):
            if flow is None:
                flow, mask = block(torch.cat((img0, img1, t), 1), None, scale)
            else:
                f0, m0 = block(torch.cat((warped0, warped1, t, mask), 1), flow, scale)
                flow = flow + f0
                mask = mask + m0
            warped0 = backward_warp(img0, flow[:, 0:2], *grid)
            warped1 = backward_warp(img1, flow[:, 2:4], *grid)
        m = torch.sigmoid(mask)
        out = warped0 * m + warped1 * (1 - m)
        return (out, flow, mask) if return_flow else out


def make_model():
    torch.manual_seed(SEED)
    net = IFNet([c // CHANNEL_DIVISOR for c in FULL_CHANNELS])
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, a=LEAKY, nonlinearity="leaky_relu")
    return net.eval()


# ----------------------------------------------------------------------------- ONNX

class Graph:
    def __init__(self, state):
        self.state = state          # name -> numpy array (shared weights)
        self.nodes, self.inits, self.used, self.n = [], [], set(), 0

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, value, dtype=np.float32, hint="c"):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def weight(self, key):
        if key not in self.used:
            self.used.add(key)
            self.inits.append(numpy_helper.from_array(self.state[key], key))
        return key

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def slice(self, x, start, end, axis=1):
        return self.op("Slice", [x, self.const([start], np.int64), self.const([end], np.int64),
                                 self.const([axis], np.int64)], "slice")

    def resize(self, x, scale):
        # linear + half_pixel == F.interpolate(bilinear, align_corners=False, scale_factor)
        return self.op("Resize", [x, "", self.const([1, 1, scale, scale])], "resize",
                       mode="linear", coordinate_transformation_mode="half_pixel")

    def conv(self, x, prefix, stride):
        y = self.op("Conv", [x, self.weight(prefix + ".weight"), self.weight(prefix + ".bias")],
                    "conv", kernel_shape=[3, 3], strides=[stride, stride], pads=[1, 1, 1, 1])
        return self.op("LeakyRelu", [y], "lrelu", alpha=LEAKY)

    def block(self, i, x, flow, scale):
        p = f"blocks.{i}"
        if scale != 1:
            x = self.resize(x, 1.0 / scale)
        if flow is not None:
            if scale != 1:
                flow = self.op("Mul", [self.resize(flow, 1.0 / scale), self.const(1.0 / scale)])
            x = self.op("Concat", [x, flow], "cat", axis=1)
        feat = self.conv(x, f"{p}.conv0.0", 2)
        feat = self.conv(feat, f"{p}.conv0.2", 2)
        y = feat
        for k in range(8):
            y = self.conv(y, f"{p}.convblock.{2 * k}", 1)
        feat = self.op("Add", [y, feat], "residual")
        tmp = self.op("ConvTranspose", [feat, self.weight(f"{p}.lastconv.0.weight"),
                                        self.weight(f"{p}.lastconv.0.bias")], "deconv",
                      kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1])
        tmp = self.op("DepthToSpace", [tmp], "pixel_shuffle", blocksize=2, mode="CRD")
        if scale != 1:
            tmp = self.resize(tmp, float(scale))
        f = self.slice(tmp, 0, 4)
        if scale != 1:
            f = self.op("Mul", [f, self.const(float(scale))])
        return f, self.slice(tmp, 4, 5)

    def warp(self, img, flow, gx, gy, dx, dy):
        x = self.op("Add", [gx, self.op("Mul", [self.slice(flow, 0, 1), dx])], "grid_x")
        y = self.op("Add", [gy, self.op("Mul", [self.slice(flow, 1, 2), dy])], "grid_y")
        g = self.op("Transpose", [self.op("Concat", [x, y], "cat", axis=1)], "grid",
                    perm=[0, 2, 3, 1])
        return self.op("GridSample", [img, g], "warp", mode="bilinear",
                       padding_mode="border", align_corners=1)

    def ifnet(self, img0, img1, t, gx, gy, dx, dy):
        flow = mask = None
        for i, scale in enumerate(SCALES):
            if flow is None:
                flow, mask = self.block(i, self.op("Concat", [img0, img1, t], "cat", axis=1),
                                        None, scale)
            else:
                x = self.op("Concat", [w0, w1, t, mask], "cat", axis=1)
                f0, m0 = self.block(i, x, flow, scale)
                flow = self.op("Add", [flow, f0], "flow")
                mask = self.op("Add", [mask, m0], "mask")
            w0 = self.warp(img0, self.slice(flow, 0, 2), gx, gy, dx, dy)
            w1 = self.warp(img1, self.slice(flow, 2, 4), gx, gy, dx, dy)
        m = self.op("Sigmoid", [mask], "sigmoid")
        a = self.op("Mul", [w0, m])
        b = self.op("Mul", [w1, self.op("Sub", [self.const(1.0), m])])
        return a, b

    def grid_from_shape(self, img):
        """Base grid [1,1,1,W], [1,1,H,1] and the scalars 2/(W-1), 2/(H-1) from img's shape."""
        shape = self.op("Shape", [img], "shape")
        out = []
        for axis, view in ((3, [1, 1, 1, -1]), (2, [1, 1, -1, 1])):
            n = self.slice(shape, axis, axis + 1, axis=0)                     # [1] int64
            n_scalar = self.op("Squeeze", [n, self.const([0], np.int64)], "n")
            idx = self.op("Range", [self.const(0, np.int64), n_scalar, self.const(1, np.int64)])
            step = self.op("Div", [self.const(2.0), self.op(
                "Sub", [self.op("Cast", [n], "nf", to=TensorProto.FLOAT), self.const(1.0)])],
                "step")                                                       # [1] f32
            lin = self.op("Sub", [self.op("Mul", [self.op("Cast", [idx], "idxf",
                                                          to=TensorProto.FLOAT), step]),
                                  self.const(1.0)], "lin")
            out.append((self.op("Reshape", [lin, self.const(view, np.int64)], "base"), step))
        (gx, dx), (gy, dy) = out
        return gx, gy, dx, dy


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def build_onnx(state, layout, path):
    g = Graph(state)
    hw = ["height", "width"]
    if layout == "v1":
        inputs = [vi("input", [1, 11] + hw)]
        img0, img1, t = g.slice("input", 0, 3), g.slice("input", 3, 6), g.slice("input", 6, 7)
        gx, gy = g.slice("input", 7, 8), g.slice("input", 8, 9)
        dx, dy = g.slice("input", 9, 10), g.slice("input", 10, 11)
        doc = ("RIFE IFNet v4.6 structure, 1/8 channels, random weights (test model). "
               "input [1,11,H,W] = img0 RGB, img1 RGB (0..1), t plane, base grid x, base grid y "
               "(-1..1), 2/(W-1) plane, 2/(H-1) plane (vs-mlrt v1); output [1,3,H,W].")
    elif layout == "v2":
        inputs = [vi("input", [1, 7] + hw)]
        img0, img1, t = g.slice("input", 0, 3), g.slice("input", 3, 6), g.slice("input", 6, 7)
        gx, gy, dx, dy = g.grid_from_shape(img0)
        doc = ("RIFE IFNet v4.6 structure, 1/8 channels, random weights (test model). "
               "input [1,7,H,W] = img0 RGB, img1 RGB (0..1), t plane (vs-mlrt v2); "
               "output [1,3,H,W].")
    elif layout == "2in":
        inputs = [vi("img0", [1, 3] + hw), vi("img1", [1, 3] + hw), vi("timestep", [1])]
        img0, img1 = "img0", "img1"
        shape = g.op("Shape", [img0], "shape")
        plane = g.op("Concat", [g.slice(shape, 0, 1, axis=0), g.const([1], np.int64),
                                g.slice(shape, 2, 4, axis=0)], "plane_shape", axis=0)
        t = g.op("Expand", [g.op("Reshape", ["timestep", g.const([1, 1, 1, 1], np.int64)]),
                            plane], "t_plane")
        gx, gy, dx, dy = g.grid_from_shape(img0)
        doc = ("RIFE IFNet v4.6 structure, 1/8 channels, random weights (test model). "
               "inputs img0, img1 [1,3,H,W] (0..1), timestep [1] (Practical-RIFE style); "
               "output [1,3,H,W].")
    else:
        raise ValueError(layout)
    a, b = g.ifnet(img0, img1, t, gx, gy, dx, dy)
    g.nodes.append(helper.make_node("Add", [a, b], ["output"], name="blend"))
    graph = helper.make_graph(g.nodes, f"rife_{layout}", inputs, [vi("output", [1, 3] + hw)],
                              g.inits)
    finish(graph, path, doc)


# ----------------------------------------------------------------------------- inputs

def golden_images():
    from skimage import data
    photo = data.chelsea()                                   # 300x451 RGB uint8
    y1, x1 = CROP_Y - SHIFT_Y, CROP_X - SHIFT_X              # img1[y, x] = img0[y + 2, x - 3]
    a = photo[CROP_Y:CROP_Y + GOLDEN_H, CROP_X:CROP_X + GOLDEN_W]
    b = photo[y1:y1 + GOLDEN_H, x1:x1 + GOLDEN_W]
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def to_nchw(rgb8):
    return (rgb8.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()


def torch_run(net, img0, img1, t, **kw):
    with torch.no_grad():
        i0, i1 = torch.from_numpy(img0), torch.from_numpy(img1)
        tp = torch.full((1, 1, i0.shape[2], i0.shape[3]), float(t))
        return net(i0, i1, tp, **kw)


def ort_feeds(layout, img0, img1, t):
    _, _, h, w = img0.shape
    tp = np.full((1, 1, h, w), t, np.float32)
    if layout == "v1":
        gx, gy = (v.expand(1, 1, h, w).numpy() for v in base_grid(h, w))
        dx = np.full((1, 1, h, w), 2.0 / (w - 1), np.float32)
        dy = np.full((1, 1, h, w), 2.0 / (h - 1), np.float32)
        return {"input": np.concatenate([img0, img1, tp, gx, gy, dx, dy], 1)}
    if layout == "v2":
        return {"input": np.concatenate([img0, img1, tp], 1)}
    return {"img0": img0, "img1": img1, "timestep": np.array([t], np.float32)}


def write_f32(name, arr):
    arr = np.ascontiguousarray(arr, dtype="<f4")
    arr.tofile(os.path.join(OUT, name))
    print(f"  {name:24s} f32 {list(arr.shape)}")


# ----------------------------------------------------------------------------- FLOPs

def ifnet_macs(channels, h, w, last_out=LAST_OUT):
    """Multiply-accumulates of the convolutions of IFNet at frame size h x w (analytic)."""
    total = 0
    for i, (c, s) in enumerate(zip(channels, SCALES)):
        cin = 7 if i == 0 else 12
        h1, w1 = h // s // 2, w // s // 2                   # after conv0[0] (stride 2)
        h2, w2 = h1 // 2, w1 // 2                           # after conv0[1] (stride 2)
        total += h1 * w1 * (c // 2) * cin * 9
        total += h2 * w2 * c * (c // 2) * 9
        total += 8 * h2 * w2 * c * c * 9
        total += h2 * w2 * c * (4 * last_out) * 16          # ConvTranspose k4 s2, per input px
    return total


def hook_macs(net, h, w):
    """MACs counted by forward hooks on the convolutions (to check ifnet_macs)."""
    count = [0]

    def hook(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        if isinstance(mod, nn.ConvTranspose2d):
            count[0] += inp[0].numel() * mod.out_channels * k
        else:
            count[0] += out.numel() * mod.in_channels * k

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    z = np.zeros((1, 3, h, w), np.float32)
    torch_run(net, z, z, 0.5)
    for hd in handles:
        hd.remove()
    return count[0]


# ----------------------------------------------------------------------------- main

def main():
    import onnxruntime as ort
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    net = make_model()
    state = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    nparams = sum(v.size for v in state.values())
    print(f"IFNet v4.6 structure, channels {[c // CHANNEL_DIVISOR for c in FULL_CHANNELS]}, "
          f"{nparams} parameters, seed {SEED}")

    files = {"v1": "rife_v1_11ch.onnx", "v2": "rife_v2_7ch.onnx", "2in": "rife_2in.onnx"}
    for layout, fname in files.items():
        build_onnx(state, layout, os.path.join(OUT, fname))
        print(f"  {fname:24s} {os.path.getsize(os.path.join(OUT, fname))} bytes")

    # Golden vectors.
    rgb0, rgb1 = golden_images()
    img0, img1 = to_nchw(rgb0), to_nchw(rgb1)
    out50, flow50, mask50 = (v.numpy() for v in torch_run(net, img0, img1, 0.5,
                                                          return_flow=True))
    out25 = torch_run(net, img0, img1, 0.25).numpy()
    # 8-bit path: the frames as an element gets them (packed RGB bytes) -> /255.
    rgb0.tofile(os.path.join(OUT, "golden_img0.rgb"))
    rgb1.tofile(os.path.join(OUT, "golden_img1.rgb"))
    p0 = np.fromfile(os.path.join(OUT, "golden_img0.rgb"), np.uint8).reshape(GOLDEN_H, GOLDEN_W, 3)
    p1 = np.fromfile(os.path.join(OUT, "golden_img1.rgb"), np.uint8).reshape(GOLDEN_H, GOLDEN_W, 3)
    out8 = torch_run(net, to_nchw(p0), to_nchw(p1), 0.5).numpy()
    write_f32("golden_img0.bin", img0)
    write_f32("golden_img1.bin", img1)
    write_f32("golden_out_t050.bin", out50)
    write_f32("golden_out_t025.bin", out25)
    write_f32("golden_out8_t050.bin", out8)
    print(f"  golden_img0.rgb / golden_img1.rgb  u8 [{GOLDEN_H},{GOLDEN_W},3] packed RGB")
    print(f"output range {out50.min():.4f}..{out50.max():.4f}; final flow |max| "
          f"{np.abs(flow50).max():.2f} px, mean |flow| {np.abs(flow50).mean():.2f} px; "
          f"sigmoid(mask) {1 / (1 + np.exp(-mask50.max())):.3f} max, "
          f"{1 / (1 + np.exp(-mask50.min())):.3f} min")
    print(f"max |out(t=0.5) - out(t=0.25)| = {np.abs(out50 - out25).max():.2e}; "
          f"max |out - (img0+img1)/2| = {np.abs(out50 - (img0 + img1) / 2).max():.3f}; "
          f"max |out8 - out| = {np.abs(out8 - out50).max():.1e}")
    assert np.all(np.isfinite(out50)) and 0.0 <= out50.min() and out50.max() <= 1.0

    # onnxruntime against PyTorch: golden inputs, then two other sizes (dynamic H, W).
    from skimage import data
    photo = data.astronaut()
    cases = [("golden t=0.50", img0, img1, 0.5, out50),
             ("golden t=0.25", img0, img1, 0.25, out25),
             ("golden 8-bit t=0.50", to_nchw(p0), to_nchw(p1), 0.5, out8)]
    for h, w, t in ((128, 160, 0.7), (96, 64, 0.3)):
        a, b = to_nchw(photo[100:100 + h, 200:200 + w]), to_nchw(photo[96:96 + h, 205:205 + w])
        cases.append((f"astronaut {h}x{w} t={t}", a, b, t, torch_run(net, a, b, t).numpy()))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    worst = {}
    for layout, fname in files.items():
        sess = ort.InferenceSession(os.path.join(OUT, fname), opts,
                                    providers=["CPUExecutionProvider"])
        for label, a, b, t, ref in cases:
            (got,) = sess.run(None, ort_feeds(layout, a, b, t))
            assert got.shape == ref.shape, (fname, got.shape)
            d = float(np.abs(got - ref).max())
            print(f"  ORT {fname:20s} {label:26s} max abs diff {d:.2e}")
            assert d < TOL, (fname, label, d)
            worst[fname] = max(worst.get(fname, 0.0), d)
    print("all ONNX layouts match PyTorch within", TOL, {k: f"{v:.1e}" for k, v in worst.items()})

    # FLOPs of the full-size network.
    tiny = [c // CHANNEL_DIVISOR for c in FULL_CHANNELS]
    assert ifnet_macs(tiny, GOLDEN_H, GOLDEN_W) == hook_macs(net, GOLDEN_H, GOLDEN_W)
    full = ifnet_macs(FULL_CHANNELS, 1088, 1920)
    print(f"full-size IFNet v4.6 (c=192/128/96/64) at 1920x1088: {full / 1e9:.1f} GMAC = "
          f"{2 * full / 1e12:.3f} TFLOP (convolutions, 2 FLOP per MAC; lastconv 4*{LAST_OUT}; "
          f"with 4*6 it is {2 * ifnet_macs(FULL_CHANNELS, 1088, 1920, 6) / 1e12:.3f})")
    print(f"this test model at {GOLDEN_H}x{GOLDEN_W}: "
          f"{2 * ifnet_macs(tiny, GOLDEN_H, GOLDEN_W) / 1e6:.1f} MFLOP")


if __name__ == "__main__":
    main()
