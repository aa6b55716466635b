//! CLIP's byte-level BPE tokenizer, as diffusers pipelines use it for their text encoders: read
//! from `vocab.json` + `merges.txt` (transformers' CLIPTokenizer files) or from a `tokenizer.json`
//! (the tokenizers library's file). It follows transformers' CLIPTokenizer step by step (checked
//! on a few hundred prompts by tests/tests/zoo_clip.rs):
//! 1. the special tokens `<|startoftext|>` / `<|endoftext|>`, written exactly so, are taken out
//!    of the raw text first;
//! 2. the rest is normalised: Unicode NFC, then lower-cased character by character (no
//!    context rules: a final capital sigma becomes σ, not ς);
//! 3. split with CLIP's pattern: special-token text, the contractions 's 't 're 've 'm 'll 'd,
//!    letter runs (\p{L}), single digits (\p{N}), runs of anything else but whitespace;
//!    each piece split again by the byte-level step's own pattern (which only cuts special-token
//!    text that appeared after lower-casing, e.g. `<|ENDOFTEXT|>`, into `<|`, `endoftext`, `|>`);
//! 4. each piece byte-encoded, `</w>` on its last character, merged by rank.
//!
//! Ids are `[bos] pieces… [eos] pad…`, `max_len` long.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

const BOS: &str = "<|startoftext|>";
const EOS: &str = "<|endoftext|>";
const END_OF_WORD: &str = "</w>";

/// CLIP's split pattern, as transformers' CLIPTokenizer writes it.
static CLIP_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+")
        .expect("a valid pattern")
});
/// The byte-level step's pattern (GPT-2's) on pieces that hold no whitespace: its optional
/// leading space and whitespace alternatives can never match there.
static BYTE_LEVEL_PATTERN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}+|[^\s\p{L}\p{N}]+").expect("a valid pattern"));

pub struct ClipTokenizer {
    vocab: HashMap<String, i64>,
    ranks: HashMap<(String, String), usize>,
    byte_char: [char; 256],
    pub bos: i64,
    pub eos: i64,
    pub pad: i64,
    pub max_len: usize,
}

/// What [`ClipTokenizer::encode`] made of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoding {
    /// Exactly `max_len` ids.
    pub ids: Vec<i64>,
    /// The words (as they appear after lower-casing) that did not fit and were cut off.
    pub truncated: Vec<String>,
}

/// CLIP's reversible map from bytes to printable characters, so that BPE works on any UTF-8.
fn byte_chars() -> [char; 256] {
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut out = ['\0'; 256];
    let mut extra = 0;
    for b in 0..256u32 {
        out[b as usize] = if printable(b) {
            char::from_u32(b).unwrap_or('\0')
        } else {
            extra += 1;
            char::from_u32(255 + extra).unwrap_or('\0')
        };
    }
    out
}

fn bad(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::ModelLoad { model: path.display().to_string(), why: why.to_string() }
}

/// A special-token entry of a tokenizer config: a string or `{"content": ...}`.
fn token_text(v: &serde_json::Value) -> Option<&str> {
    v.as_str().or_else(|| v.get("content").and_then(|c| c.as_str()))
}

impl ClipTokenizer {
    /// From a tokenizer folder: `tokenizer.json`, or `vocab.json` and `merges.txt`; the optional
    /// `tokenizer_config.json` / `special_tokens_map.json` give the pad token and the length.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let mut config = serde_json::Value::Null;
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            if let Some(text) = read(name) {
                let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(&dir.join(name), e))?;
                if config.is_null() {
                    config = v;
                } else if let (Some(c), Some(o)) = (config.as_object_mut(), v.as_object()) {
                    for (k, val) in o {
                        c.insert(k.clone(), val.clone());
                    }
                }
            }
        }
        let (vocab, merges) = if let Some(text) = read("vocab.json") {
            let merges = read("merges.txt").ok_or_else(|| Error::ModelNotFound { path: dir.join("merges.txt") })?;
            (text, merges)
        } else if let Some(text) = read("tokenizer.json") {
            return Self::from_tokenizer_json(&text, &config, &dir.join("tokenizer.json"));
        } else {
            return Err(Error::ModelNotFound { path: dir.join("vocab.json (or tokenizer.json)") });
        };
        Self::from_parts(&vocab, &merges, &config, &dir.join("vocab.json"))
    }

    /// `vocab` is vocab.json's text, `merges` merges.txt's (a `#version` first line is skipped).
    pub fn from_parts(vocab: &str, merges: &str, config: &serde_json::Value, path: &Path) -> Result<Self> {
        let vocab: HashMap<String, i64> = serde_json::from_str(vocab).map_err(|e| bad(path, e))?;
        let pairs = merges
            .lines()
            .filter(|l| !l.starts_with("#version") && !l.trim().is_empty())
            .map(|l| {
                let mut it = l.split(' ');
                match (it.next(), it.next()) {
                    (Some(a), Some(b)) => Ok((a.to_string(), b.to_string())),
                    _ => Err(bad(path, format!("merges.txt line '{l}' is not two tokens"))),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Self::build(vocab, pairs, config, path)
    }

    fn from_tokenizer_json(text: &str, config: &serde_json::Value, path: &Path) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(path, e))?;
        let model = &v["model"];
        if model["type"].as_str().is_some_and(|t| t != "BPE") {
            return Err(bad(path, format!("model type {} is not BPE (CLIP's tokenizer)", model["type"])));
        }
        let mut vocab: HashMap<String, i64> =
            serde_json::from_value(model["vocab"].clone()).map_err(|e| bad(path, format!("model.vocab: {e}")))?;
        for added in v["added_tokens"].as_array().into_iter().flatten() {
            if let (Some(c), Some(id)) = (added["content"].as_str(), added["id"].as_i64()) {
                vocab.insert(c.to_string(), id);
            }
        }
        let merges = model["merges"]
            .as_array()
            .ok_or_else(|| bad(path, "model.merges is missing"))?
            .iter()
            .map(|m| match (m.as_str(), m.as_array()) {
                (Some(s), _) => s
                    .split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| bad(path, format!("merge '{s}' is not two tokens"))),
                (_, Some(a)) if a.len() == 2 => {
                    Ok((a[0].as_str().unwrap_or_default().to_string(), a[1].as_str().unwrap_or_default().to_string()))
                }
                _ => Err(bad(path, format!("merge {m} is not two tokens"))),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut config = config.clone();
        if config.is_null() {
            config = serde_json::json!({});
        }
        if let Some(max) = v["truncation"]["max_length"].as_u64()
            && config["model_max_length"].as_u64().is_none()
        {
            config["model_max_length"] = max.into();
        }
        Self::build(vocab, merges, &config, path)
    }

    fn build(
        vocab: HashMap<String, i64>,
        merges: Vec<(String, String)>,
        config: &serde_json::Value,
        path: &Path,
    ) -> Result<Self> {
        let id = |tok: &str| vocab.get(tok).copied().ok_or_else(|| bad(path, format!("the vocabulary has no '{tok}'")));
        let bos = id(config.get("bos_token").and_then(token_text).unwrap_or(BOS))?;
        let eos = id(config.get("eos_token").and_then(token_text).unwrap_or(EOS))?;
        let pad = match config.get("pad_token").and_then(token_text) {
            Some(t) => id(t)?,
            None => eos,
        };
        // transformers writes a huge sentinel when a tokenizer has no limit; CLIP's is 77.
        let max_len = config.get("model_max_length").and_then(|v| v.as_u64()).filter(|&n| n <= 4096).unwrap_or(77);
        let ranks = merges.into_iter().enumerate().map(|(i, p)| (p, i)).collect();
        Ok(Self { vocab, ranks, byte_char: byte_chars(), bos, eos, pad, max_len: max_len as usize })
    }

    /// The pieces of `text` before BPE (steps 1-3 above): special tokens as themselves, the
    /// rest normalised and split as CLIP does.
    pub fn pieces(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        loop {
            let next = [BOS, EOS].into_iter().filter_map(|s| rest.find(s).map(|at| (at, s))).min();
            let (before, special) = match next {
                Some((at, s)) => (&rest[..at], Some(s)),
                None => (rest, None),
            };
            Self::split_normalised(before, &mut out);
            let Some(s) = special else { break };
            out.push(s.to_string());
            rest = &rest[before.len() + s.len()..];
        }
        out
    }

    /// NFC, lower-case each character, then CLIP's pattern and the byte-level one.
    fn split_normalised(text: &str, out: &mut Vec<String>) {
        if text.is_empty() {
            return;
        }
        let normal: String = text.nfc().flat_map(char::to_lowercase).collect();
        for piece in CLIP_PATTERN.find_iter(&normal) {
            out.extend(BYTE_LEVEL_PATTERN.find_iter(piece.as_str()).map(|m| m.as_str().to_string()));
        }
    }

    /// BPE of one piece: its byte characters, the last marked end-of-word, merged by rank.
    fn bpe(&self, piece: &str) -> Vec<String> {
        if piece == BOS || piece == EOS {
            return vec![piece.to_string()];
        }
        let mut word: Vec<String> = piece.bytes().map(|b| self.byte_char[b as usize].to_string()).collect();
        if let Some(last) = word.last_mut() {
            last.push_str(END_OF_WORD);
        }
        loop {
            let best = word
                .windows(2)
                .filter_map(|w| self.ranks.get(&(w[0].clone(), w[1].clone())).map(|&r| (r, w[0].clone(), w[1].clone())))
                .min();
            let Some((_, a, b)) = best else { break };
            let mut merged = Vec::with_capacity(word.len());
            let mut k = 0;
            while k < word.len() {
                if k + 1 < word.len() && word[k] == a && word[k + 1] == b {
                    merged.push(format!("{a}{b}"));
                    k += 2;
                } else {
                    merged.push(std::mem::take(&mut word[k]));
                    k += 1;
                }
            }
            word = merged;
        }
        word
    }

    /// `[bos] tokens [eos] pad…`, exactly `max_len` ids; tokens past `max_len - 2` are cut (and
    /// the words they came from reported). Tokens missing from the vocabulary become `eos`, as
    /// transformers' unknown token for CLIP is `<|endoftext|>`.
    pub fn encode(&self, text: &str) -> Encoding {
        let mut ids = vec![self.bos];
        let mut truncated = Vec::new();
        let room = self.max_len.saturating_sub(2);
        for piece in Self::pieces(text) {
            let toks = self.bpe(&piece);
            let mut cut = false;
            for t in toks {
                if ids.len() - 1 < room {
                    ids.push(self.vocab.get(&t).copied().unwrap_or(self.eos));
                } else {
                    cut = true;
                }
            }
            if cut {
                truncated.push(piece);
            }
        }
        ids.push(self.eos);
        ids.resize(self.max_len.max(2), self.pad);
        Encoding { ids, truncated }
    }

    /// Whether `word` is one token of the vocabulary (a whole word, not pieces of one).
    pub fn is_whole_word(&self, word: &str) -> bool {
        self.bpe(word).len() == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_follow_clips_pattern() {
        assert_eq!(
            ClipTokenizer::pieces("A Red  CIRCLE, it's up-left!! 42"),
            ["a", "red", "circle", ",", "it", "'s", "up", "-", "left", "!!", "4", "2"]
        );
        assert_eq!(ClipTokenizer::pieces("<|endoftext|>x"), ["<|endoftext|>", "x"]);
        // Only the exact special text is special; after lower-casing it is split like any text.
        assert_eq!(ClipTokenizer::pieces("<|ENDOFTEXT|>!"), ["<|", "endoftext", "|>", "!"]);
        // NFC first, lower-casing without context (a final Σ is σ), letters are \p{L} only.
        assert_eq!(ClipTokenizer::pieces("Cafe\u{301} ΟΔΟΣ"), ["café", "οδοσ"]);
        assert_eq!(ClipTokenizer::pieces("ⅻⅻ½"), ["ⅻ", "ⅻ", "½"]);
    }

    #[test]
    fn byte_chars_are_clips_alphabet() {
        let c = byte_chars();
        assert_eq!((c[b'a' as usize], c[b' ' as usize], c[0]), ('a', 'Ġ', 'Ā'));
        let mut all: Vec<char> = c.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 256);
    }

    #[test]
    fn bpe_merges_by_rank_and_truncates() {
        let mut vocab: HashMap<String, i64> = HashMap::new();
        for (i, t) in ["r", "e", "d</w>", "re", "red</w>", "x</w>", BOS, EOS].iter().enumerate() {
            vocab.insert(t.to_string(), i as i64);
        }
        let merges = vec![("r".to_string(), "e".to_string()), ("re".to_string(), "d</w>".to_string())];
        let mut tok = ClipTokenizer::build(vocab, merges, &serde_json::json!({}), Path::new("t")).unwrap();
        tok.max_len = 5;
        let e = tok.encode("Red x red red");
        assert_eq!(e.ids, [6, 4, 5, 4, 7]);
        assert_eq!(e.truncated, ["red"]);
        assert_eq!(tok.encode("").ids, [6, 7, 7, 7, 7]);
        assert!(tok.is_whole_word("red") && !tok.is_whole_word("er"));
    }
}
