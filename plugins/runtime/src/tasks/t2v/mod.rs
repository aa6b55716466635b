//! Text-to-video generation on diffusers-layout ONNX model folders (ModelScope, Zeroscope and
//! the like, and our built-in model, which is written in the same layout): the folder's parts and
//! their contracts, the text encoding, the denoising loop with classifier-free guidance in one
//! batched [uncond; cond] UNet call, image-to-video starts, and the frame-by-frame VAE decode.
//! The element owns caps and messages; this owns the numbers, and [`worker`] the thread that
//! makes clip after clip.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backend::device::{Device, Precision};
use crate::backend::model::{Cancel, ElemType, InputData, Model, ModelInput, ModelSource, TensorInfo, load};
use crate::error::{Error, Result};
use scheduler::{Kind, Scheduler};
use tokenizer::ClipTokenizer;

pub mod remote;
pub mod scheduler;
pub mod tokenizer;
pub mod worker;

/// What a folder recommends when the user does not say.
#[derive(Clone, Debug, PartialEq)]
pub struct Defaults {
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    pub steps: usize,
    pub guidance: f64,
    pub fps: (i32, i32),
}

/// A model folder's parts, found and read, not yet loaded into ONNX Runtime.
pub struct Folder {
    /// For messages: the folder's path, or "built-in".
    pub name: String,
    pub tokenizer: ClipTokenizer,
    pub text_encoder: ModelSource,
    pub unet: ModelSource,
    pub vae_decoder: ModelSource,
    pub vae_encoder: Option<ModelSource>,
    pub scheduler: scheduler::Config,
    /// Latents are divided by this before the VAE decoder (and multiplied after the encoder).
    pub scaling_factor: f32,
    /// Latent width and height must be multiples of this (the UNet's down-sampling).
    pub latent_multiple: usize,
    pub defaults: Defaults,
    /// The words a model knows, where its folder lists them (the built-in one does).
    pub vocabulary: Option<Vec<String>>,
    /// FNV-1a 64 of the folder's files, as 16 hex digits: names the exact model in tags.
    pub hash: String,
}

fn json(text: &str, path: &Path) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::ModelLoad { model: path.display().to_string(), why: e.to_string() })
}

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Hashes a file; a large one (external weights) by its size and first and last MiB, which
/// tells models apart without reading gigabytes at every start.
fn hash_file(h: u64, path: &Path) -> u64 {
    use std::io::{Read, Seek, SeekFrom};
    const MIB: u64 = 1 << 20;
    let Ok(mut f) = std::fs::File::open(path) else { return h };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut h = fnv1a(h, &len.to_le_bytes());
    let mut buf = Vec::new();
    if len <= 64 * MIB {
        let _ = f.read_to_end(&mut buf);
        return fnv1a(h, &buf);
    }
    buf.resize(MIB as usize, 0);
    if f.read_exact(&mut buf).is_ok() {
        h = fnv1a(h, &buf);
    }
    if f.seek(SeekFrom::End(-(MIB as i64))).is_ok() && f.read_exact(&mut buf).is_ok() {
        h = fnv1a(h, &buf);
    }
    h
}

/// The `_gst_ai` block of model_index.json (our extension), or the folder's own configs.
fn defaults(index: &serde_json::Value, unet_cfg: &serde_json::Value, vae_cfg: &serde_json::Value) -> Defaults {
    let g = &index["_gst_ai"];
    let u = |k: &str| g[k].as_u64().map(|v| v as usize);
    let vae_factor = vae_cfg["block_out_channels"].as_array().map(|a| 1usize << a.len().saturating_sub(1)).unwrap_or(8);
    let side = unet_cfg["sample_size"].as_u64().map(|s| s as usize * vae_factor).unwrap_or(256);
    let fps = g["framerate"].as_i64().unwrap_or(8) as i32;
    Defaults {
        frames: u("num_frames").unwrap_or(16),
        width: u("width").unwrap_or(side),
        height: u("height").unwrap_or(side),
        steps: u("num_inference_steps").unwrap_or(25),
        guidance: g["guidance_scale"].as_f64().unwrap_or(9.0),
        fps: (fps.max(1), 1),
    }
}

/// The word list of model_index.json's `_gst_ai` block, where a folder has one.
fn vocabulary(index: &serde_json::Value) -> Option<Vec<String>> {
    index["_gst_ai"]["vocabulary"].as_array().map(|a| a.iter().filter_map(|w| w.as_str().map(String::from)).collect())
}

fn latent_multiple(unet_cfg: &serde_json::Value) -> usize {
    unet_cfg["block_out_channels"].as_array().map(|a| 1usize << a.len().saturating_sub(1)).unwrap_or(8)
}

impl Folder {
    /// Reads a diffusers/Optimum ONNX folder; a missing part is an error naming its path.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, true)
    }

    /// [`open`](Self::open); with `networks` false the folder need not hold the networks' ONNX
    /// files (they are served: [`remote`]), only the tokenizer, scheduler and configs.
    fn open_with(dir: &Path, networks: bool) -> Result<Self> {
        if dir.is_file() {
            return Err(Error::ModelLoad {
                model: dir.display().to_string(),
                why: "it is a file, not a folder: text-to-video takes a diffusers ONNX folder (model_index.json, \
                      text_encoder/, unet/, vae_decoder/, tokenizer/, scheduler/), not a single model file"
                    .into(),
            });
        }
        if !dir.is_dir() {
            return Err(Error::ModelNotFound { path: dir.to_path_buf() });
        }
        let part = |rel: &str| -> Result<PathBuf> {
            let p = dir.join(rel);
            if p.is_file() || p.is_dir() {
                Ok(p)
            } else {
                Err(Error::ModelLoad {
                    model: dir.display().to_string(),
                    why: format!(
                        "the model folder has no {rel} (a diffusers ONNX folder needs text_encoder/model.onnx, unet/model.onnx, vae_decoder/model.onnx, tokenizer/ and scheduler/scheduler_config.json)"
                    ),
                })
            }
        };
        let network = |rel: &str| if networks { part(rel) } else { Ok(dir.join(rel)) };
        let text_encoder = network("text_encoder/model.onnx")?;
        let unet = network("unet/model.onnx")?;
        let vae_decoder = network("vae_decoder/model.onnx")?;
        let tokenizer_dir = part("tokenizer")?;
        let sched_path = part("scheduler/scheduler_config.json")?;
        let read_json = |rel: &str| -> Result<serde_json::Value> {
            let p = dir.join(rel);
            match std::fs::read_to_string(&p) {
                Ok(t) => json(&t, &p),
                Err(_) => Ok(serde_json::Value::Null),
            }
        };
        let index = read_json("model_index.json")?;
        let unet_cfg = read_json("unet/config.json")?;
        let vae_cfg = read_json("vae_decoder/config.json")?;
        let sched_text = std::fs::read_to_string(&sched_path)
            .map_err(|e| Error::ModelLoad { model: sched_path.display().to_string(), why: e.to_string() })?;
        let scheduler = scheduler::Config::parse(&sched_text)
            .map_err(|e| Error::ModelLoad { model: sched_path.display().to_string(), why: e.to_string() })?;
        let tokenizer = ClipTokenizer::from_dir(&tokenizer_dir)?;
        let encoder = dir.join("vae_encoder/model.onnx");
        let mut hash = FNV_OFFSET;
        for rel in [
            "model_index.json",
            "scheduler/scheduler_config.json",
            "text_encoder/model.onnx",
            "unet/model.onnx",
            "vae_decoder/model.onnx",
        ] {
            hash = hash_file(hash, &dir.join(rel));
        }
        // External weights beside the graphs.
        for sub in ["text_encoder", "unet", "vae_decoder"] {
            if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
                let mut names: Vec<PathBuf> = entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_none_or(|e| e != "onnx" && e != "json"))
                    .collect();
                names.sort();
                for p in names {
                    hash = hash_file(hash, &p);
                }
            }
        }
        Ok(Self {
            name: dir.display().to_string(),
            tokenizer,
            text_encoder: ModelSource::File(text_encoder),
            unet: ModelSource::File(unet),
            vae_decoder: ModelSource::File(vae_decoder),
            vae_encoder: encoder.is_file().then_some(ModelSource::File(encoder)),
            scheduler,
            scaling_factor: vae_cfg["scaling_factor"].as_f64().unwrap_or(0.18215) as f32,
            latent_multiple: latent_multiple(&unet_cfg),
            defaults: defaults(&index, &unet_cfg, &vae_cfg),
            vocabulary: vocabulary(&index),
            hash: format!("{hash:016x}"),
        })
    }

    /// The built-in model (models/t2v_builtin.md), from the bytes embedded in the plugin.
    pub fn builtin() -> Result<Self> {
        use crate::builtin::t2v as b;
        let path = Path::new("builtin:t2v");
        let index = json(b::MODEL_INDEX, path)?;
        let unet_cfg = json(b::UNET_CONFIG, path)?;
        let vae_cfg = json(b::VAE_CONFIG, path)?;
        let tok_cfg = json(b::TOKENIZER_CONFIG, path)?;
        let mut hash = FNV_OFFSET;
        for bytes in [b::MODEL_INDEX.as_bytes(), b::SCHEDULER.as_bytes(), b::TEXT_ENCODER, b::UNET, b::VAE_DECODER] {
            hash = fnv1a(hash, bytes);
        }
        let source = |name, bytes| ModelSource::Builtin { name, bytes, manifest: "" };
        Ok(Self {
            name: "built-in".into(),
            tokenizer: ClipTokenizer::from_parts(b::VOCAB, b::MERGES, &tok_cfg, path)?,
            text_encoder: source("t2v_text_encoder", b::TEXT_ENCODER),
            unet: source("t2v_unet", b::UNET),
            vae_decoder: source("t2v_vae_decoder", b::VAE_DECODER),
            vae_encoder: Some(source("t2v_vae_encoder", b::VAE_ENCODER)),
            scheduler: scheduler::Config::parse(b::SCHEDULER)?,
            scaling_factor: vae_cfg["scaling_factor"].as_f64().unwrap_or(1.0) as f32,
            latent_multiple: latent_multiple(&unet_cfg),
            defaults: defaults(&index, &unet_cfg, &vae_cfg),
            vocabulary: vocabulary(&index),
            hash: format!("{hash:016x}"),
        })
    }

    /// `path` empty: the built-in model; otherwise a folder.
    pub fn from_property(path: &str) -> Result<Self> {
        match path.trim() {
            "" | "builtin" | "builtin:t2v" => Self::builtin(),
            p if p.starts_with(crate::backend::remote::SCHEME) => Self::remote(p),
            p => Self::open(&crate::backend::zoo::path_of(p)?),
        }
    }

    /// The prompt's words that the model's listed vocabulary lacks (none when it lists none).
    pub fn unknown_words(&self, prompt: &str) -> Vec<String> {
        let Some(vocab) = &self.vocabulary else { return Vec::new() };
        let mut out: Vec<String> = Vec::new();
        for p in ClipTokenizer::pieces(prompt) {
            if p.chars().any(char::is_alphanumeric) && !vocab.contains(&p) && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// One generation's parameters.
#[derive(Clone, Debug)]
pub struct Request {
    pub prompt: String,
    pub negative_prompt: String,
    pub seed: u64,
    pub steps: usize,
    pub guidance: f64,
    pub scheduler: Kind,
    pub eta: f64,
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    /// Image-to-video: the start image, 3 x height x width, RGB in -1..1, and how far it is noised
    /// (1: completely, so the image hardly matters; 0: not at all).
    pub image: Option<Vec<f32>>,
    pub strength: f64,
}

/// A generated clip: `frames` pictures, each 3 x height x width RGB in -1..1 (the VAE's range).
pub struct Clip {
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Clip {
    pub fn frame(&self, i: usize) -> &[f32] {
        let n = 3 * self.width * self.height;
        &self.data[i * n..(i + 1) * n]
    }
}

/// The deterministic noise source: SplitMix64 bits, Box–Muller normals. Same seed, same latents,
/// on every machine.
pub struct Noise {
    state: u64,
    spare: Option<f64>,
}

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self { state: seed, spare: None }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f32 {
        if let Some(s) = self.spare.take() {
            return s as f32;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let r = (-2.0 * u.ln()).sqrt();
        let a = std::f64::consts::TAU * v;
        self.spare = Some(r * a.sin());
        (r * a.cos()) as f32
    }

    pub fn fill(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal()).collect()
    }
}

fn find<'a>(model: &'a Model, names: &[&str], fallback: impl Fn(&TensorInfo) -> bool) -> Option<&'a TensorInfo> {
    model.inputs.iter().find(|i| names.contains(&i.name.as_str())).or_else(|| model.inputs.iter().find(|i| fallback(i)))
}

fn static_dim(t: &TensorInfo, i: usize) -> Option<usize> {
    t.shape.get(i).copied().filter(|&d| d > 0).map(|d| d as usize)
}

/// A folder with its three (or four) sessions loaded and their contracts checked.
pub struct Pipeline {
    pub folder: Folder,
    text: Arc<Model>,
    unet: Arc<Model>,
    vae: Arc<Model>,
    vae_encoder: Option<Arc<Model>>,
    ids: TensorInfo,
    text_len: usize,
    sample: TensorInfo,
    timestep: TensorInfo,
    states: TensorInfo,
    pub latent_channels: usize,
    /// Output pixels per latent pixel.
    pub vae_factor: usize,
    vae_input: TensorInfo,
    /// What image-to-video would need when there is no VAE encoder.
    encoder_missing: String,
}

const FAMILY: &str = "text-to-video diffusion";

impl Pipeline {
    pub fn load(folder: Folder, device: Device) -> Result<Self> {
        let text = load(&folder.text_encoder, device, Precision::Fp32)?;
        let unet = load(&folder.unet, device, Precision::Fp32)?;
        let vae = load(&folder.vae_decoder, device, Precision::Fp32)?;
        let mut encoder_missing = "vae_encoder/model.onnx in the folder".to_string();
        let vae_encoder = match &folder.vae_encoder {
            // Served: optional, as the file is in a folder; the server says why it is not there.
            Some(s @ ModelSource::Remote(spec)) => match load(s, device, Precision::Fp32) {
                Ok(m) => Some(m),
                Err(e) => {
                    encoder_missing = format!("the served model {} ({e})", spec.model);
                    None
                }
            },
            Some(s) => Some(load(s, device, Precision::Fp32)?),
            None => None,
        };
        let int = |t: &TensorInfo| matches!(t.elem, Some(ElemType::I64 | ElemType::I32));
        let float = |t: &TensorInfo| matches!(t.elem, Some(ElemType::F32 | ElemType::F16));
        let ids = find(&text, &["input_ids"], |t| int(t) && t.shape.len() == 2).cloned().ok_or_else(|| {
            Error::contract(
                &text.name,
                FAMILY,
                "text encoder input",
                "input_ids [batch, tokens] int32/int64",
                describe(&text.inputs),
            )
        })?;
        if !int(&ids) || ids.shape.len() != 2 {
            return Err(Error::contract(
                &text.name,
                FAMILY,
                "input_ids",
                "[batch, tokens] int32/int64",
                format!("{} {}", ids.shape_string(), ids.elem_name),
            ));
        }
        let text_len = static_dim(&ids, 1).unwrap_or(folder.tokenizer.max_len);
        let sample = find(&unet, &["sample"], |t| float(t) && t.shape.len() >= 4).cloned().ok_or_else(|| {
            Error::contract(&unet.name, FAMILY, "UNet input", "sample [B, C, F, h, w]", describe(&unet.inputs))
        })?;
        if sample.shape.len() != 5 || !float(&sample) {
            return Err(Error::contract(
                &unet.name,
                FAMILY,
                "UNet input sample",
                "5-D video latents [B, C, F, h, w] float (a text-to-video UNet such as ModelScope's)",
                format!("{}-D {} {} (an image UNet?)", sample.shape.len(), sample.shape_string(), sample.elem_name),
            ));
        }
        let timestep =
            find(&unet, &["timestep", "timesteps", "t"], |t| t.shape.len() <= 1).cloned().ok_or_else(|| {
                Error::contract(&unet.name, FAMILY, "UNet input", "timestep (scalar or [B])", describe(&unet.inputs))
            })?;
        if !(int(&timestep) || float(&timestep)) {
            return Err(Error::contract(
                &unet.name,
                FAMILY,
                "timestep",
                "int64, int32, float32 or float16",
                &timestep.elem_name,
            ));
        }
        let states =
            find(&unet, &["encoder_hidden_states"], |t| float(t) && t.shape.len() == 3).cloned().ok_or_else(|| {
                Error::contract(
                    &unet.name,
                    FAMILY,
                    "UNet input",
                    "encoder_hidden_states [B, tokens, dim]",
                    describe(&unet.inputs),
                )
            })?;
        let vae_input = vae.inputs.first().cloned().ok_or_else(|| {
            Error::contract(&vae.name, FAMILY, "VAE decoder input", "latent_sample [N, C, h, w]", "none")
        })?;
        if vae_input.shape.len() != 4 {
            return Err(Error::contract(
                &vae.name,
                FAMILY,
                "VAE decoder input",
                "latent_sample [N, C, h, w]",
                vae_input.shape_string(),
            ));
        }
        let latent_channels = static_dim(&sample, 1).or(static_dim(&vae_input, 1)).unwrap_or(4);
        if let Some(c) = static_dim(&vae_input, 1).filter(|&c| c != latent_channels) {
            return Err(Error::contract(
                &vae.name,
                FAMILY,
                "VAE decoder latent channels",
                latent_channels.to_string(),
                c.to_string(),
            ));
        }
        let mut p = Self {
            folder,
            text,
            unet,
            vae,
            vae_encoder,
            ids,
            text_len,
            sample,
            timestep,
            states,
            latent_channels,
            vae_factor: 8,
            vae_input,
            encoder_missing,
        };
        p.vae_factor = p.probe_vae_factor()?;
        Ok(p)
    }

    /// Decodes one small latent to learn how many pixels the VAE makes of one latent pixel.
    fn probe_vae_factor(&self) -> Result<usize> {
        let h = static_dim(&self.vae_input, 2).unwrap_or(8);
        let w = static_dim(&self.vae_input, 3).unwrap_or(8);
        let zeros = vec![0.0f32; self.latent_channels * h * w];
        let (oh, ow) = self.decode_raw(&zeros, h, w, None, |shape, _| Ok((shape[2], shape[3])))?;
        if oh % h != 0 || ow % w != 0 || oh / h != ow / w || oh < h {
            return Err(Error::contract(
                &self.vae.name,
                FAMILY,
                "VAE decoder output",
                "an integer upscale of the latents",
                format!("{h}x{w} -> {oh}x{ow}"),
            ));
        }
        Ok(oh / h)
    }

    fn decode_raw<R>(
        &self,
        latent: &[f32],
        h: usize,
        w: usize,
        cancel: Option<&Cancel>,
        consume: impl FnOnce(&[usize], &[f32]) -> Result<R>,
    ) -> Result<R> {
        let mut half = Vec::new();
        let elem = self.vae_input.elem.unwrap_or(ElemType::F32);
        let shape = [1, self.latent_channels, h, w];
        self.vae.run_with(
            &[ModelInput {
                name: &self.vae_input.name,
                shape: &shape,
                data: InputData::for_elem(elem, latent, &mut half),
            }],
            cancel,
            consume,
        )
    }

    /// Checks a size against what the model can make; the error says what would work.
    pub fn check_size(&self, frames: usize, width: usize, height: usize) -> Result<()> {
        let m = self.vae_factor * self.folder.latent_multiple;
        let bad = |what: &str, v: usize, need: String| {
            Err(Error::Unsupported(format!("model {}: {what} {v} is not possible: {need}", self.folder.name)))
        };
        if width == 0 || !width.is_multiple_of(m) {
            return bad(
                "width",
                width,
                format!(
                    "it must be a multiple of {m} (the VAE's x{} times the UNet's down-sampling of {})",
                    self.vae_factor, self.folder.latent_multiple
                ),
            );
        }
        if height == 0 || !height.is_multiple_of(m) {
            return bad(
                "height",
                height,
                format!(
                    "it must be a multiple of {m} (the VAE's x{} times the UNet's down-sampling of {})",
                    self.vae_factor, self.folder.latent_multiple
                ),
            );
        }
        for (axis, v, name) in [(3, height / self.vae_factor, "height"), (4, width / self.vae_factor, "width")] {
            if let Some(d) = static_dim(&self.sample, axis).filter(|&d| d != v) {
                return bad(name, v * self.vae_factor, format!("this UNet takes only {} pixels", d * self.vae_factor));
            }
        }
        if frames == 0 {
            return bad("num-frames", frames, "at least 1".into());
        }
        if let Some(d) = static_dim(&self.sample, 2).filter(|&d| d != frames) {
            return bad("num-frames", frames, format!("this UNet makes exactly {d} frames"));
        }
        Ok(())
    }

    /// The text encoder's states for each text, concatenated: [n, tokens, dim].
    pub fn encode_text(&self, ids: &[Vec<i64>], cancel: Option<&Cancel>) -> Result<(Vec<f32>, usize)> {
        let batch_static = static_dim(&self.ids, 0);
        let mut out = Vec::new();
        let mut dim = 0;
        let groups: Vec<&[Vec<i64>]> = if batch_static == Some(1) { ids.chunks(1).collect() } else { vec![ids] };
        for g in groups {
            let flat: Vec<i64> = g.iter().flat_map(|v| v.iter().copied()).collect();
            let flat32: Vec<i32> = flat.iter().map(|&x| x as i32).collect();
            let shape = [g.len(), self.text_len];
            let data =
                if self.ids.elem == Some(ElemType::I32) { InputData::I32(&flat32) } else { InputData::I64(&flat) };
            self.text.run_with(&[ModelInput { name: &self.ids.name, shape: &shape, data }], cancel, |s, v| {
                if s.len() != 3 || s[0] != g.len() {
                    return Err(Error::contract(
                        &self.text.name,
                        FAMILY,
                        "text encoder output",
                        "[batch, tokens, dim]",
                        format!("{s:?}"),
                    ));
                }
                dim = s[2];
                out.extend_from_slice(v);
                Ok(())
            })?;
        }
        Ok((out, dim))
    }

    /// What a user should be told about `prompt` before a clip is made from it: that it is empty,
    /// that it was cut to the tokenizer's length, that the model does not know some of its words.
    pub fn prompt_warnings(&self, prompt: &str) -> Vec<String> {
        let mut out = Vec::new();
        if prompt.trim().is_empty() {
            out.push("the prompt is empty: generating without a text condition".to_string());
        }
        let (_, cut) = self.tokenize(prompt);
        if !cut.is_empty() {
            out.push(format!(
                "the prompt is longer than the tokenizer's {} tokens; cut off: {}",
                self.folder.tokenizer.max_len,
                cut.join(" ")
            ));
        }
        let unknown = self.folder.unknown_words(prompt);
        if !unknown.is_empty() {
            out.push(format!(
                "the {} model does not know these words, which will be ignored or misread: {}",
                self.folder.name,
                unknown.join(", ")
            ));
        }
        out
    }

    /// How a clip was made, in one line a muxer can store: every parameter of `r` and the model's
    /// name and hash.
    pub fn describe(&self, r: &Request) -> String {
        format!(
            "prompt={:?} negative-prompt={:?} seed={} steps={} guidance-scale={} scheduler={} eta={} model={} \
             model-hash=fnv1a64:{}{}",
            r.prompt,
            r.negative_prompt,
            r.seed,
            r.steps,
            r.guidance,
            r.scheduler.name(),
            r.eta,
            self.folder.name,
            self.folder.hash,
            if r.image.is_some() { format!(" strength={}", r.strength) } else { String::new() }
        )
    }

    /// Token ids of `text`, padded or cut to the text encoder's length; the cut words too.
    pub fn tokenize(&self, text: &str) -> (Vec<i64>, Vec<String>) {
        let e = self.folder.tokenizer.encode(text);
        let mut ids = e.ids;
        let mut cut = e.truncated;
        if ids.len() > self.text_len {
            ids.truncate(self.text_len);
            if let Some(last) = ids.last_mut() {
                *last = self.folder.tokenizer.eos;
            }
            cut.push("(the end of the prompt)".into());
        }
        ids.resize(self.text_len, self.folder.tokenizer.pad);
        (ids, cut)
    }

    /// Runs the UNet on `x` ([n, C, F, h, w] already scaled) with the text's `states` ([n, L, D]
    /// and (L, D)).
    fn unet_call(
        &self,
        x: &[f32],
        n: usize,
        dims: [usize; 4],
        t: f64,
        text: (&[f32], (usize, usize)),
        cancel: Option<&Cancel>,
    ) -> Result<Vec<f32>> {
        let (states, state_dims) = text;
        let per = x.len() / n;
        let batch_static = static_dim(&self.sample, 0);
        let calls: Vec<(usize, usize)> =
            if batch_static == Some(1) { (0..n).map(|i| (i, 1)).collect() } else { vec![(0, n)] };
        let mut out = Vec::with_capacity(x.len());
        let (mut h1, mut h2) = (Vec::new(), Vec::new());
        for (first, count) in calls {
            let shape = [count, dims[0], dims[1], dims[2], dims[3]];
            let xs = &x[first * per..(first + count) * per];
            let ss = &states[first * state_dims.0 * state_dims.1..(first + count) * state_dims.0 * state_dims.1];
            let sshape = [count, state_dims.0, state_dims.1];
            let tn = match self.timestep.shape.len() {
                0 => 0,
                _ if static_dim(&self.timestep, 0) == Some(1) => 1,
                _ => count,
            };
            let tshape: Vec<usize> = if self.timestep.shape.is_empty() { vec![] } else { vec![tn] };
            let reps = tn.max(1);
            // numpy's astype: float timesteps are truncated for integer graphs.
            let t64 = vec![t as i64; reps];
            let t32 = vec![t as i32; reps];
            let tf = vec![t as f32; reps];
            let mut th = Vec::new();
            let tdata = match self.timestep.elem {
                Some(ElemType::I64) => InputData::I64(&t64),
                Some(ElemType::I32) => InputData::I32(&t32),
                Some(e) => InputData::for_elem(e, &tf, &mut th),
                None => InputData::F32(&tf),
            };
            let selem = self.sample.elem.unwrap_or(ElemType::F32);
            let eelem = self.states.elem.unwrap_or(ElemType::F32);
            let inputs = [
                ModelInput { name: &self.sample.name, shape: &shape, data: InputData::for_elem(selem, xs, &mut h1) },
                ModelInput { name: &self.timestep.name, shape: &tshape, data: tdata },
                ModelInput { name: &self.states.name, shape: &sshape, data: InputData::for_elem(eelem, ss, &mut h2) },
            ];
            self.unet.run_with(&inputs, cancel, |s, v| {
                if v.len() != xs.len() {
                    return Err(Error::contract(
                        &self.unet.name,
                        FAMILY,
                        "UNet output",
                        format!("the sample's shape {shape:?}"),
                        format!("{s:?}"),
                    ));
                }
                out.extend_from_slice(v);
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// The clean latents [C, h, w] of a start image (3 x H x W in -1..1).
    fn encode_image(&self, image: &[f32], width: usize, height: usize, cancel: Option<&Cancel>) -> Result<Vec<f32>> {
        let enc = self.vae_encoder.as_ref().ok_or_else(|| {
            Error::Unsupported(format!("model {}: image-to-video needs {}", self.folder.name, self.encoder_missing))
        })?;
        let input = enc
            .inputs
            .first()
            .ok_or_else(|| Error::contract(&enc.name, FAMILY, "VAE encoder input", "sample [1, 3, H, W]", "none"))?;
        let mut half = Vec::new();
        let shape = [1, 3, height, width];
        let c = self.latent_channels;
        let (h, w) = (height / self.vae_factor, width / self.vae_factor);
        let data = InputData::for_elem(input.elem.unwrap_or(ElemType::F32), image, &mut half);
        enc.run_with(&[ModelInput { name: &input.name, shape: &shape, data }], cancel, |s, v| {
            // Either the latents, or the distribution's moments (mean first, then log-variance).
            if s.len() != 4 || (s[1] != c && s[1] != 2 * c) || s[2] != h || s[3] != w {
                return Err(Error::contract(
                    &enc.name,
                    FAMILY,
                    "VAE encoder output",
                    format!("[1, {c} or {}, {h}, {w}]", 2 * c),
                    format!("{s:?}"),
                ));
            }
            Ok(v[..c * h * w].iter().map(|&x| x * self.folder.scaling_factor).collect())
        })
    }

    /// Generates one clip. `on_step(step, steps, timestep)` is called after every denoising step;
    /// returning false cancels (the result is then `Error::Cancelled`), and so does `cancel`, also
    /// in the middle of a model run. `latents`, when given, replaces the seeded initial noise
    /// ([1, C, F, h, w], unscaled, as diffusers takes it).
    pub fn generate(
        &self,
        r: &Request,
        latents: Option<&[f32]>,
        cancel: Option<&Cancel>,
        on_step: &mut dyn FnMut(usize, usize, f64) -> bool,
    ) -> Result<Clip> {
        let x = self.denoise(r, latents, cancel, on_step)?;
        self.decode(&x, r.frames, r.height / self.vae_factor, r.width / self.vae_factor, cancel)
    }

    /// The denoising loop of [`Self::generate`]: the final latents [1, C, F, h, w], not decoded.
    pub fn denoise(
        &self,
        r: &Request,
        latents: Option<&[f32]>,
        cancel: Option<&Cancel>,
        on_step: &mut dyn FnMut(usize, usize, f64) -> bool,
    ) -> Result<Vec<f32>> {
        self.check_size(r.frames, r.width, r.height)?;
        let (c, f, h, w) = (self.latent_channels, r.frames, r.height / self.vae_factor, r.width / self.vae_factor);
        let n_lat = c * f * h * w;
        let cfg = r.guidance > 1.0;
        let (cond, _) = self.tokenize(&r.prompt);
        let texts = if cfg { vec![self.tokenize(&r.negative_prompt).0, cond] } else { vec![cond] };
        let (states, dim) = self.encode_text(&texts, cancel)?;
        let sched = Scheduler::new(r.scheduler, &self.folder.scheduler, r.steps)?;
        let mut rng = Noise::new(r.seed);
        let noise = match latents {
            Some(l) if l.len() == n_lat => l.to_vec(),
            Some(l) => {
                return Err(Error::Unsupported(format!("initial latents have {} values, expected {n_lat}", l.len())));
            }
            None => rng.fill(n_lat),
        };
        let steps = sched.timesteps().len();
        let (start, mut x) = match &r.image {
            Some(img) => {
                let clean = self.encode_image(img, r.width, r.height, cancel)?;
                // Every frame starts from the image.
                let mut x0 = vec![0.0f32; n_lat];
                for ch in 0..c {
                    for fr in 0..f {
                        let dst = (ch * f + fr) * h * w;
                        x0[dst..dst + h * w].copy_from_slice(&clean[ch * h * w..(ch + 1) * h * w]);
                    }
                }
                let keep = ((steps as f64 * r.strength.clamp(0.0, 1.0)) as usize).min(steps);
                let start = steps - keep;
                if start < steps { (start, sched.add_noise(start, &x0, &noise)) } else { (start, x0) }
            }
            None => {
                let s = sched.init_noise_sigma() as f32;
                (0, noise.iter().map(|&v| v * s).collect())
            }
        };
        let n = texts.len();
        let mut input = vec![0.0f32; n * n_lat];
        for i in start..steps {
            let t = sched.timesteps()[i];
            let scale = sched.input_scale(i) as f32;
            for b in 0..n {
                for (d, &s) in input[b * n_lat..(b + 1) * n_lat].iter_mut().zip(&x) {
                    *d = s * scale;
                }
            }
            let out = self.unet_call(&input, n, [c, f, h, w], t, (&states, (texts[0].len(), dim)), cancel)?;
            let eps: Vec<f32> = if cfg {
                let g = r.guidance as f32;
                out[..n_lat].iter().zip(&out[n_lat..]).map(|(&u, &k)| u + g * (k - u)).collect()
            } else {
                out
            };
            let step_noise = (r.eta > 0.0 && r.scheduler == Kind::Ddim).then(|| rng.fill(n_lat));
            sched.step(i, &eps, &mut x, r.eta, step_noise.as_deref());
            if !on_step(i + 1 - start, steps - start, t) {
                return Err(Error::Cancelled);
            }
        }
        Ok(x)
    }

    /// Decodes latents [1, C, F, h, w] frame by frame.
    pub fn decode(&self, x: &[f32], f: usize, h: usize, w: usize, cancel: Option<&Cancel>) -> Result<Clip> {
        let c = self.latent_channels;
        let (oh, ow) = (h * self.vae_factor, w * self.vae_factor);
        let mut data = Vec::with_capacity(f * 3 * oh * ow);
        let mut frame = vec![0.0f32; c * h * w];
        let inv = 1.0 / self.folder.scaling_factor;
        for fr in 0..f {
            for ch in 0..c {
                let src = (ch * f + fr) * h * w;
                for (d, &s) in frame[ch * h * w..(ch + 1) * h * w].iter_mut().zip(&x[src..src + h * w]) {
                    *d = s * inv;
                }
            }
            self.decode_raw(&frame, h, w, cancel, |s, v| {
                if s != [1, 3, oh, ow] {
                    return Err(Error::contract(
                        &self.vae.name,
                        FAMILY,
                        "VAE decoder output",
                        format!("[1, 3, {oh}, {ow}]"),
                        format!("{s:?}"),
                    ));
                }
                data.extend_from_slice(v);
                Ok(())
            })?;
        }
        Ok(Clip { frames: f, width: ow, height: oh, data })
    }
}

fn describe(inputs: &[TensorInfo]) -> String {
    let v: Vec<String> = inputs.iter().map(|i| format!("{} {} {}", i.name, i.shape_string(), i.elem_name)).collect();
    if v.is_empty() { "no inputs".into() } else { v.join(", ") }
}
