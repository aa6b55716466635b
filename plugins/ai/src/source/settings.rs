//! `aisrc`'s generation properties: their specs, defaults and values, handled the way
//! [`ModelProps`](crate::common::ModelProps) handles the shared ones; the request a clip is made
//! from (a snapshot of them, with the model's recommendations filled in) and the tags that tell
//! downstream how it was made.

use gst::glib;
use gst::prelude::*;

use gst_ai_runtime::tasks::t2v::scheduler::Kind;
use gst_ai_runtime::tasks::t2v::{Defaults, Pipeline, Request};

use super::AiScheduler;
use crate::common::ModelProps;

const DEFAULT_PROMPT: &str = "a red circle moving right";
const DEFAULT_SEED: u64 = 0;
const DEFAULT_STEPS: u32 = 0;
const DEFAULT_GUIDANCE: f64 = -1.0;
const DEFAULT_SCHEDULER: AiScheduler = AiScheduler::Ddim;
const DEFAULT_ETA: f64 = 0.0;
const DEFAULT_NUM_FRAMES: u32 = 0;
const DEFAULT_STRENGTH: f64 = 0.8;
const DEFAULT_NUM_CLIPS: u32 = 1;
pub const DEFAULT_IS_LIVE: bool = false;

#[derive(Debug, Clone)]
pub struct Settings {
    pub prompt: String,
    pub negative_prompt: String,
    pub seed: u64,
    pub steps: u32,
    pub guidance: f64,
    pub scheduler: AiScheduler,
    pub eta: f64,
    pub num_frames: u32,
    pub image: String,
    pub strength: f64,
    pub num_clips: u32,
    pub is_live: bool,
    pub model: ModelProps,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prompt: DEFAULT_PROMPT.into(),
            negative_prompt: String::new(),
            seed: DEFAULT_SEED,
            steps: DEFAULT_STEPS,
            guidance: DEFAULT_GUIDANCE,
            scheduler: DEFAULT_SCHEDULER,
            eta: DEFAULT_ETA,
            num_frames: DEFAULT_NUM_FRAMES,
            image: String::new(),
            strength: DEFAULT_STRENGTH,
            num_clips: DEFAULT_NUM_CLIPS,
            is_live: DEFAULT_IS_LIVE,
            model: ModelProps::default(),
        }
    }
}

impl Settings {
    /// Every property but `stats` (`model` and `device` included).
    pub fn pspecs() -> Vec<glib::ParamSpec> {
        let mut v = vec![
            glib::ParamSpecString::builder("prompt")
                .nick("Prompt")
                .blurb(
                    "What to generate. The built-in model knows the words listed in models/t2v_builtin.md \
                     (red, green, blue, yellow; circle, square; moving left, right, up, down); other words \
                     get a warning. Longer than the tokenizer's 77 tokens: cut, with a warning. Changes \
                     while playing apply from the next clip",
                )
                .default_value(Some(DEFAULT_PROMPT))
                .mutable_playing()
                .build(),
            glib::ParamSpecString::builder("negative-prompt")
                .nick("Negative prompt")
                .blurb("What to steer away from (the unconditional side of classifier-free guidance)")
                .default_value(Some(""))
                .mutable_playing()
                .build(),
            glib::ParamSpecUInt64::builder("seed")
                .nick("Seed")
                .blurb(
                    "Seed of the initial noise; clip k uses seed + k. Same seed and parameters on the same \
                     device give bit-identical frames",
                )
                .default_value(DEFAULT_SEED)
                .mutable_playing()
                .build(),
            glib::ParamSpecUInt::builder("steps")
                .nick("Steps")
                .blurb("Denoising steps per clip; 0: the model's recommendation (25 for the built-in model)")
                .maximum(1000)
                .default_value(DEFAULT_STEPS)
                .mutable_playing()
                .build(),
            glib::ParamSpecDouble::builder("guidance-scale")
                .nick("Guidance scale")
                .blurb(
                    "Classifier-free guidance weight w: eps = uncond + w (cond - uncond); 1 or less turns \
                     guidance off (one UNet batch row instead of two); negative: the model's \
                     recommendation (5 for the built-in model, 9 for folders that do not say)",
                )
                .minimum(-1.0)
                .maximum(100.0)
                .default_value(DEFAULT_GUIDANCE)
                .mutable_playing()
                .build(),
            glib::ParamSpecEnum::builder_with_default("scheduler", DEFAULT_SCHEDULER)
                .nick("Scheduler")
                .blurb("Denoising scheduler, configured from the model's scheduler_config.json")
                .mutable_playing()
                .build(),
            glib::ParamSpecDouble::builder("eta")
                .nick("Eta")
                .blurb("DDIM's eta: 0 is deterministic DDIM, 1 is DDPM-like fresh noise at each step")
                .minimum(0.0)
                .maximum(1.0)
                .default_value(DEFAULT_ETA)
                .mutable_playing()
                .build(),
            glib::ParamSpecUInt::builder("num-frames")
                .nick("Frames per clip")
                .blurb("Frames per clip; 0: the model's recommendation (8 for the built-in model)")
                .maximum(1024)
                .default_value(DEFAULT_NUM_FRAMES)
                .mutable_ready()
                .build(),
            glib::ParamSpecString::builder("image")
                .nick("Start image")
                .blurb(
                    "Image-to-video: a picture file (any format GStreamer decodes), scaled to the output \
                     size, encoded and noised to `strength` as every frame's start. The built-in model only \
                     knows a coloured shape on a dark ground: a photograph gets a warning. Empty: text only",
                )
                .default_value(Some(""))
                .mutable_playing()
                .build(),
            glib::ParamSpecDouble::builder("strength")
                .nick("Strength")
                .blurb(
                    "Image-to-video: how much of the denoising is redone (1: from pure noise, the image \
                     hardly matters; 0: the image itself)",
                )
                .minimum(0.0)
                .maximum(1.0)
                .default_value(DEFAULT_STRENGTH)
                .mutable_playing()
                .build(),
            glib::ParamSpecUInt::builder("num-clips")
                .nick("Clips")
                .blurb("Clips to generate before EOS; 0: generate until stopped")
                .default_value(DEFAULT_NUM_CLIPS)
                .mutable_ready()
                .build(),
            glib::ParamSpecBoolean::builder("is-live")
                .nick("Live")
                .blurb(
                    "Act as a live source: frames are timestamped with the running time at which they are \
                     ready and played in real time; a clip that is late leaves a gap (marked DISCONT)",
                )
                .default_value(DEFAULT_IS_LIVE)
                .mutable_ready()
                .build(),
        ];
        v.extend(ModelProps::pspecs(
            "text-to-video",
            "A diffusers / Optimum ONNX text-to-video folder: model_index.json, scheduler/, \
             tokenizer/ (vocab.json + merges.txt or tokenizer.json), text_encoder/model.onnx, \
             unet/model.onnx (5-D latents; external weights beside it), vae_decoder/model.onnx \
             (vae_encoder/model.onnx for image-to-video). Empty: the built-in model",
            false,
        ));
        v.extend(ModelProps::remote_pspecs());
        v
    }

    /// Sets the property `name` (`model` and `device` included); false when it is not one of these.
    pub fn set(&mut self, name: &str, value: &glib::Value, warn: impl FnOnce(&str)) -> bool {
        if self.model.set(name, value, warn) {
            return true;
        }
        let text = || value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default();
        match name {
            "prompt" => self.prompt = text(),
            "negative-prompt" => self.negative_prompt = text(),
            "seed" => self.seed = value.get().expect("type checked upstream"),
            "steps" => self.steps = value.get().expect("type checked upstream"),
            "guidance-scale" => self.guidance = value.get().expect("type checked upstream"),
            "scheduler" => self.scheduler = value.get().expect("type checked upstream"),
            "eta" => self.eta = value.get().expect("type checked upstream"),
            "num-frames" => self.num_frames = value.get().expect("type checked upstream"),
            "image" => self.image = text(),
            "strength" => self.strength = value.get().expect("type checked upstream"),
            "num-clips" => self.num_clips = value.get().expect("type checked upstream"),
            "is-live" => self.is_live = value.get().expect("type checked upstream"),
            _ => return false,
        }
        true
    }

    pub fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "prompt" => self.prompt.to_value(),
            "negative-prompt" => self.negative_prompt.to_value(),
            "seed" => self.seed.to_value(),
            "steps" => self.steps.to_value(),
            "guidance-scale" => self.guidance.to_value(),
            "scheduler" => self.scheduler.to_value(),
            "eta" => self.eta.to_value(),
            "num-frames" => self.num_frames.to_value(),
            "image" => self.image.to_value(),
            "strength" => self.strength.to_value(),
            "num-clips" => self.num_clips.to_value(),
            "is-live" => self.is_live.to_value(),
            name => return self.model.get(name),
        })
    }

    /// Frames per clip: the property, or the model's recommendation.
    pub fn frames(&self, d: &Defaults) -> usize {
        if self.num_frames == 0 { d.frames } else { self.num_frames as usize }
    }

    /// Clip `clip`'s request at `width` x `height` (no start image yet).
    pub fn request(&self, d: &Defaults, clip: u64, width: usize, height: usize) -> Request {
        Request {
            prompt: self.prompt.clone(),
            negative_prompt: self.negative_prompt.clone(),
            seed: self.seed.wrapping_add(clip),
            steps: if self.steps == 0 { d.steps } else { self.steps as usize },
            guidance: if self.guidance < 0.0 { d.guidance } else { self.guidance },
            scheduler: match self.scheduler {
                AiScheduler::Ddim => Kind::Ddim,
                AiScheduler::Euler => Kind::Euler,
            },
            eta: self.eta,
            frames: self.frames(d),
            width,
            height,
            image: None,
            strength: self.strength,
        }
    }
}

/// The tags sent before a clip: how it was made, global so that muxers store them as the file's.
pub fn tags(r: &Request, p: &Pipeline) -> gst::TagList {
    let params = p.describe(r);
    let mut tags = gst::TagList::new();
    let t = tags.make_mut();
    t.add::<gst::tags::Title>(&r.prompt.as_str(), gst::TagMergeMode::Replace);
    t.add::<gst::tags::Comment>(&params.as_str(), gst::TagMergeMode::Replace);
    t.add::<gst::tags::Description>(&params.as_str(), gst::TagMergeMode::Replace);
    t.add::<gst::tags::Encoder>(&"gst-ai aisrc", gst::TagMergeMode::Replace);
    for (k, v) in [
        ("seed", r.seed.to_string()),
        ("steps", r.steps.to_string()),
        ("scheduler", r.scheduler.name().to_string()),
        ("model-hash", format!("fnv1a64:{}", p.folder.hash)),
    ] {
        t.add::<gst::tags::ExtendedComment>(&format!("aisrc-{k}={v}").as_str(), gst::TagMergeMode::Append);
    }
    t.set_scope(gst::TagScope::Global);
    tags
}
