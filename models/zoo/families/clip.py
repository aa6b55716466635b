"""CLIP's byte-level BPE vocabulary (49,408 tokens), as aisrc's tokenizer reads it.

open_clip_torch ships OpenAI's `bpe_simple_vocab_16e6.txt.gz`: a first line naming the file, then
262,144 merge rules "a b" in rank order. CLIP uses only the first 49152 - 256 - 2 = 48,894 of
them. Its vocabulary, in id order, is
  - the 256 byte characters of CLIP's reversible byte -> printable-character map, in the map's own
    order (the printable bytes '!'..'~', '¡'..'¬', '®'..'ÿ' first, then the other 68 bytes as
    U+0100.. in byte order): ids 0..255;
  - the same 256 characters followed by the end-of-word mark "</w>": ids 256..511;
  - each used merge's two halves joined, in rank order: ids 512..49405;
  - "<|startoftext|>" = 49406 and "<|endoftext|>" = 49407.
Written here as Hugging Face's CLIPTokenizer files: `clip-bpe/vocab.json` (token -> id, in id
order, UTF-8) and `clip-bpe/merges.txt` ("#version: 0.2" then the used merges, one per line).
"""

import gzip
import json
from pathlib import Path

WHEELS = {"open_clip_torch": "3.3.0"}

SOURCE = "open_clip/bpe_simple_vocab_16e6.txt.gz"
USED_MERGES = 49152 - 256 - 2
BOS, EOS = "<|startoftext|>", "<|endoftext|>"

MODELS = [
    {
        "name": "clip-bpe",
        "files": ["clip-bpe/vocab.json", "clip-bpe/merges.txt"],
        "element": "aisrc",
        "job": "tokenizer",
        "summary": "CLIP's byte-level BPE vocabulary (49,408 tokens) for aisrc's text encoder prompts",
        "package": "open_clip_torch==3.3.0",
        "source": SOURCE,
        "upstream": "https://github.com/openai/CLIP (vocabulary), https://github.com/mlfoundations/open_clip",
        "license": "MIT",
        "tokens": 49408,
    },
]


def byte_alphabet() -> list[str]:
    """CLIP's byte -> character map as a list in the map's order (not byte order): the bytes that
    are printable Latin-1 map to themselves, the others to U+0100 upwards in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    keep = set(printable)
    chars = [chr(b) for b in printable]
    extra = 0
    for b in range(256):
        if b not in keep:
            chars.append(chr(256 + extra))
            extra += 1
    assert len(chars) == 256 and len(set(chars)) == 256
    return chars


def read_merges(gz: Path) -> list[tuple[str, str]]:
    lines = gzip.decompress(gz.read_bytes()).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:1 + USED_MERGES]]
    bad = [m for m in merges if len(m) != 2]
    if bad:
        raise ValueError(f"{gz}: merge lines that are not two tokens: {bad[:3]}")
    return merges


def convert(wheels: dict, out: Path) -> None:
    merges = read_merges(wheels["open_clip_torch"] / SOURCE)
    alphabet = byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + [a + b for a, b in merges] + [BOS, EOS]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens) or len(tokens) != MODELS[0]["tokens"]:
        raise ValueError(f"CLIP vocabulary: {len(tokens)} tokens, {len(vocab)} distinct, expected 49408")
    folder = out / "clip-bpe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges),
                                       encoding="utf-8")
