//! aisrc's CLIP tokenizer on the real CLIP vocabulary (`zoo:clip-bpe`, imported by `make setup`)
//! against Hugging Face's: every prompt of tests/models/clip_golden.json (made by
//! models/make_clip_golden.py with transformers' CLIPTokenizer) must give exactly its ids.

use gst_ai_runtime::backend::zoo;
use gst_ai_runtime::tasks::t2v::tokenizer::ClipTokenizer;
use gst_ai_tests::test_model;

fn vocabulary() -> ClipTokenizer {
    let dir = zoo::resolve("clip-bpe")
        .unwrap_or_else(|e| panic!("the zoo's clip-bpe vocabulary is missing (run `make setup`): {e}"));
    ClipTokenizer::from_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

struct Golden {
    text: String,
    ids: Vec<i64>,
    untruncated: usize,
}

fn golden() -> (Vec<Golden>, i64, usize) {
    let path = test_model("clip_golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).expect("clip_golden.json is JSON");
    let prompts = v["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| Golden {
            text: p["text"].as_str().expect("text").to_string(),
            ids: p["ids"].as_array().expect("ids").iter().map(|i| i.as_i64().expect("id")).collect(),
            untruncated: p["untruncated"].as_u64().expect("untruncated") as usize,
        })
        .collect();
    (prompts, v["pad_id"].as_i64().expect("pad_id"), v["max_length"].as_u64().expect("max_length") as usize)
}

#[test]
fn clip_tokenizer_matches_transformers_on_every_golden_prompt() {
    let tok = vocabulary();
    let (prompts, pad, max_len) = golden();
    assert!(prompts.len() >= 300, "{} golden prompts", prompts.len());
    assert!(prompts.iter().filter(|p| p.untruncated > max_len).count() >= 5, "long prompts are in the golden set");
    assert_eq!((tok.max_len, tok.pad, tok.bos, tok.eos), (max_len, pad, 49406, 49407));
    let mut wrong = Vec::new();
    for p in &prompts {
        let mut want = p.ids.clone();
        want.resize(max_len, pad);
        let got = tok.encode(&p.text);
        if got.ids != want {
            wrong.push(format!(
                "{:?}\n    pieces {:?}\n    got  {:?}\n    want {:?}",
                p.text,
                ClipTokenizer::pieces(&p.text),
                &got.ids[..got.ids.iter().rposition(|&i| i != pad).map_or(0, |k| k + 1)],
                p.ids
            ));
        }
        // Words are reported as cut off exactly when transformers' ids were truncated.
        assert_eq!(!got.truncated.is_empty(), p.untruncated > max_len, "{:?}: cut {:?}", p.text, got.truncated);
    }
    assert!(
        wrong.is_empty(),
        "{} of {} prompts differ from transformers' CLIPTokenizer:\n  {}",
        wrong.len(),
        prompts.len(),
        wrong.iter().take(12).cloned().collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn clip_vocabulary_has_clips_known_ids() {
    let tok = vocabulary();
    // OpenAI's CLIP: "a photo of a cat" -> 49406 320 1125 539 320 2368 49407.
    assert_eq!(&tok.encode("a photo of a cat").ids[..7], [49406, 320, 1125, 539, 320, 2368, 49407]);
    assert!(tok.is_whole_word("astronaut") && !tok.is_whole_word("qwzx"));
}
