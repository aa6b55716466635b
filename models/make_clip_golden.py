#!/usr/bin/env python3
"""Golden CLIP token ids for aisrc's tokenizer: tests/models/clip_golden.json.

Runs Hugging Face's `transformers.CLIPTokenizer` (transformers 5.23.0, backed by `tokenizers`
0.23.3: NFC, whitespace runs -> one space, lower-case, CLIP's split pattern, byte-level BPE) on the
real CLIP vocabulary the zoo imports (`.deps/zoo/clip-bpe/`, from open_clip_torch's
bpe_simple_vocab_16e6.txt.gz) over a few hundred varied prompts, truncated to 77 tokens as
diffusers' pipelines do, and writes them with their ids (without the padding, which is the
end-of-text id up to 77). The Rust test tests/tests/zoo_clip.rs must match every prompt.

The prompts: hand-written edge cases (punctuation, digits, contractions and other apostrophes,
accents in both composed and decomposed forms, scripts other than Latin, emoji with modifiers
and joiners, odd whitespace, control characters, special-token text, long prompts) and prompts
made from word lists with a fixed seed (mixed case, extra spaces, numbers, punctuation).

usage: python3 models/make_clip_golden.py [--vocab .deps/zoo/clip-bpe] [--out tests/models/clip_golden.json]
needs: transformers==5.23.0 tokenizers==0.23.3 (see models/requirements.txt); no torch.
"""

import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HAND = [
    "", " ", "a photo of a cat", "A Photo Of A Cat", "A PHOTO OF A CAT", "  a   photo\tof\na cat  ",
    "an astronaut riding a horse on mars, 4k, trending on artstation",
    "a red circle moving left", "it's a dog's life", "don't stop, we're here, they've gone, I'm ok, you'll see, he'd go",
    "IT'S LOUD", "rock 'n' roll", "the 'quoted' word", "its'", "'s", "o'clock", "l'amour", "rock’n’roll isn’t dead",
    "“smart quotes” and ‘single’ ones", "hello!!! what??? ...", "a,b;c:d", "end.", "(parentheses) [brackets] {braces}",
    "email me at someone@example.com", "https://example.com/path?q=1&r=2#frag", "C:\\Users\\name", "#hashtag @mention",
    "$100 or €50 or £30 or ¥2000", "50% off", "3.14159", "1,000,000 people", "2024-01-31 12:30:45", "x^2 + y^2 = z^2",
    "room 101", "007", "1st 2nd 3rd 4th", "ⅻ roman twelve", "½ cup and ¾ spoon", "²³ superscripts", "٣ arabic three",
    "café", "cafe\u0301", "naïve résumé", "nai\u0308ve re\u0301sume\u0301", "Zürich", "São Paulo", "crème brûlée",
    "Ångström", "ÀÉÎÕÜ", "straße", "STRASSE", "ẞ capital sharp s", "İstanbul", "ıi dotless", "ΟΔΟΣ", "Σίσυφος",
    "Ελληνικά γράμματα", "Москва зимой", "ПРИВЕТ МИР", "東京の夜景", "一只猫", "한국어 문장", "ひらがなとカタカナ",
    "नमस्ते दुनिया", "مرحبا بالعالم", "שלום עולם", "ภาษาไทย", "Tiếng Việt có dấu",
    "🐱", "a cat 🐱 on a mat", "👍🏽 thumbs", "❤️ love", "👨‍👩‍👧 family", "🇫🇷 flag", "✨sparkles✨", "☃ snowman ☀",
    "ﬁne ligature", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ℌ𝔢𝔩𝔩𝔬 fraktur", "𝐛𝐨𝐥𝐝", "™ © ®", "° degrees 90°",
    "tab\tseparated\twords", "new\nlines\r\nhere", "non\u00a0breaking\u00a0space", "em\u2003space", "ideographic\u3000space",
    "zero\u200bwidth", "soft\u00adhyphen", "control\x07bell", "nul\x00char", "<|startoftext|>", "<|endoftext|>",
    "a <|endoftext|> b", "<|ENDOFTEXT|>", "<|startoftext|>hello<|endoftext|>", "< | > angle", "under_score_words",
    "kebab-case-words", "CamelCaseWords", "snake_CASE_Mixed", "hello.world", "www", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis", "xyzzy qwerty asdf",
    "-", "--", "---", "...", "!", "?!", "''", "\"", "'", "’", "`backticks`", "~tilde~", "*stars*", "_underline_",
    " ".join(["a very long prompt"] * 30),
    "masterpiece, best quality, " * 12,
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40",
    "🐱" * 40, "é" * 100, "word " * 80, "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
]

SUBJECTS = ["cat", "dog", "astronaut", "robot", "castle", "river", "forest", "city", "car", "bicycle", "woman", "man",
            "child", "dragon", "ship", "mountain", "beach", "flower", "owl", "train", "lighthouse", "violin", "teapot"]
ADJ = ["red", "tiny", "giant", "ancient", "futuristic", "glowing", "rusty", "fluffy", "golden", "misty", "neon",
       "wooden", "Victorian", "cyberpunk", "watercolor", "Baroque", "minimalist", "surreal", "cozy", "ÉLÉGANT"]
PLACES = ["on Mars", "in Paris", "under the sea", "at dawn", "in the rain", "on a snowy hill", "in Tōkyō",
          "at the Café de Flore", "near São João", "inside a cathedral", "over Zürich", "in Kraków"]
STYLES = ["oil painting", "photo", "35mm film", "digital art", "sketch", "pixel art", "4k", "8K UHD", "HDR",
          "by Greg Rutkowski", "trending on ArtStation", "Studio Ghibli style", "unreal engine 5", "f/1.8, 85mm"]
PUNCT = [",", ".", "!", "?", ";", ":", " -", " —", " ...", "!!", ",,", " (", ")", " '", "'", " \"", "&", " /", " +"]
EXTRAS = ["", "", "", " 🐶", " ✨", " ©2023", " #1", " x2", " 3D", " 24fps", " 1920x1080", " (((detailed)))",
          " [sharp]", " {soft}", " n°5", " ½", " ×4", " — really", " it's", " they're", " we'll", " ’s"]


def generated(n: int, seed: int = 15) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = []
        for _ in range(rng.randint(1, 4)):
            words += [rng.choice(ADJ), rng.choice(SUBJECTS)]
            if rng.random() < 0.5:
                words.append(rng.choice(PLACES))
            if rng.random() < 0.4:
                words.append(str(rng.randint(0, 10 ** rng.randint(1, 6))))
            words[-1] += rng.choice(PUNCT) if rng.random() < 0.6 else ""
        words.append(rng.choice(STYLES))
        text = " ".join(words) + rng.choice(EXTRAS)
        case = rng.random()
        if case < 0.15:
            text = text.upper()
        elif case < 0.3:
            text = text.title()
        elif case < 0.4:
            text = "".join(c.upper() if rng.random() < 0.5 else c for c in text)
        if rng.random() < 0.3:
            text = text.replace(" ", rng.choice(["  ", "   ", " \t", "\n", " \u00a0"]))
        if rng.random() < 0.15:
            text = "  " + text + "  "
        out.append(text)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab", type=Path, default=ROOT / ".deps" / "zoo" / "clip-bpe")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "models" / "clip_golden.json")
    args = ap.parse_args()

    import tokenizers
    import transformers
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(args.vocab), model_max_length=77)
    assert tok("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407], "not CLIP's vocabulary"
    made = generated(240)
    # Long prompts (past 77 tokens): runs of generated ones joined.
    long = [", ".join(made[i:i + 5]) for i in range(0, 50, 5)]
    prompts = HAND + made + long
    seen, rows = set(), []
    for p in prompts:
        if p in seen:
            continue
        seen.add(p)
        full = tok(p)["input_ids"]
        ids = tok(p, truncation=True, max_length=77)["input_ids"]
        rows.append({"text": p, "ids": ids, "untruncated": len(full)})
    doc = {
        "about": "CLIP token ids of varied prompts by transformers' CLIPTokenizer on the zoo's clip-bpe "
                 "vocabulary, truncated to 77 (bos ... eos, no padding). Made by models/make_clip_golden.py.",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "max_length": 77,
        "pad_id": tok.pad_token_id,
        "prompts": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # One prompt per line keeps the fixture small and its diffs readable.
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    head = {k: v for k, v in doc.items() if k != "prompts"}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "prompts": [\n' + ",\n".join(lines) + "\n]}\n"
    json.loads(text)
    args.out.write_text(text, encoding="utf-8")
    long = sum(r["untruncated"] > 77 for r in rows)
    print(f"{len(rows)} prompts ({long} longer than 77 tokens) -> {args.out}")


if __name__ == "__main__":
    main()
