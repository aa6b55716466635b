"""Pictures used as style images by aistylize's `style-image` tests and strip (the arbitrary-style
network takes any picture as the style). Copied as they are from scikit-image's data into
`.deps/media/styles/`: a stained tissue section (ihc.png: brown and blue brush-like texture), the
Hubble deep field (dark with coloured points) and a retina photograph (red, with veins).
No photograph used as content by the style tests is among them."""

from pathlib import Path

KIND = "media"
WHEELS = {"scikit-image": "0.25.2"}
PICTURES = ["ihc.png", "hubble_deep_field.jpg", "retina.jpg"]

MODELS = [
    {"name": "style-pictures", "files": [f"styles/{p}" for p in PICTURES],
     "package": "scikit-image==0.25.2", "source": "skimage/data/",
     "license": "ihc: no known copyright restrictions; Hubble deep field: NASA, public domain; retina: CC0 (skimage.data docstrings)"},
]


def convert(wheels: dict, out: Path) -> None:
    data = wheels["scikit-image"] / "skimage" / "data"
    (out / "styles").mkdir()
    for p in PICTURES:
        (out / "styles" / p).write_bytes((data / p).read_bytes())
