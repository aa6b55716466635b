#!/usr/bin/env python3
"""Prints the model zoo as a table (`make models`): every model found on the zoo's search path
(the folders of GST_AI_ZOO_PATH, then the set-up's .deps/zoo), with its element, job, scale,
size and license, and its quality and speed: those `make bench` measured on this machine
(target/zoo-bench.json) when there are any, else the figures recorded on its card when it was
imported. Standard library only."""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("GST_AI_ZOO_PATH", "").split(":") if p]
    return extra + [ROOT / ".deps" / "zoo"]


def human(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def main() -> int:
    measured = {}
    bench = ROOT / "target" / "zoo-bench.json"
    if bench.exists():
        measured = {r["name"]: r for r in json.loads(bench.read_text()).get("models", [])}
    rows, seen = [], set()
    for d in search_path():
        entries = []
        if (d / "index.json").exists():
            entries = json.loads((d / "index.json").read_text()).get("models", [])
        names = {e["name"] for e in entries}
        for f in sorted(d.glob("*.onnx")) if d.is_dir() else []:
            if f.stem not in names:
                entries.append({"name": f.stem, "bytes": f.stat().st_size, "license": "?", "job": "(user's)"})
        for e in entries:
            if e["name"] in seen:
                continue
            seen.add(e["name"])
            m = measured.get(e["name"], {})
            quality = m.get("quality") or e.get("quality", "")
            speed = m.get("speed") or e.get("speed", "")
            # The licence's first clause; the card has the whole of it.
            licence = e.get("license", "").split(" (")[0].split(";")[0]
            rows.append([f"zoo:{e['name']}", e.get("element", ""), e.get("job", ""), str(e.get("scale", "")),
                         human(e.get("bytes", 0)), licence, quality, speed, str(d)])
    if not rows:
        print("no zoo models found on the search path: " + ":".join(map(str, search_path())))
        print("`make setup` imports them (scripts/zoo.sh)")
        return 1
    head = ["name", "element", "job", "scale", "size", "license", "quality", "speed", "folder"]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head) - 1)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    print(line(head))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    folders = sorted({r[-1] for r in rows})
    print(f"\n{len(rows)} models in {', '.join(folders)}; cards: NAME.md beside each model.")
    print("quality and speed: " + ("measured by `make bench` on this machine (target/zoo-bench.json)"
                                   if measured else "as recorded on the cards (`make bench` measures them here)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
