//! Style transfer of one frame: the model contract of the style families (MODELS.md), running
//! the model over a frame (whole, tiled, or resized to a model's fixed size), and the steps
//! around it: keeping the input's colours, temporal consistency with the previous output along
//! the optical flow, and the blend with the original; [`fallback`] is the cheap stand-in for a
//! frame the model has no time for. Nothing here knows about GStreamer.

use std::path::PathBuf;
use std::sync::Arc;

use gst_ai_kernels::{
    Filter, FlowParams, FlowWorkspace, Frame, FrameMut, Layout, Rect, TensorSpec, ValueRange, copy_alpha, luma, mix,
    optical_flow, pack, preserve_colors, resize, retensor, scene_change, temporal_blend, temporal_confidence, unpack,
    warp,
};
use half::f16;

use crate::backend::device::{Device, Precision};
use crate::backend::model::{ElemType, InputData, Model, ModelInput, ModelSource};
use crate::error::{Error, Result};
use crate::image::contract::{Family, ImageContract, infer_layout};
use crate::image::tiled::{SideInput, TileParams, TiledRunner};

mod device;
mod fallback;
pub use device::{DeviceStylizer, StyleEngine};
pub use fallback::Fallback;

const FAMILY_NAME: &str = "style transfer";

/// Which family a style model was recognised as; it decides the defaults the manifest may override.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StyleFamily {
    /// fast-neural-style (TransformerNet): NCHW RGB 0..255, sizes a multiple of 4.
    FastNeuralStyle,
    /// AnimeGANv2: NHWC (tf2onnx) or NCHW (PyTorch port) ending in tanh, −1..1, multiples of 32.
    AnimeGan,
    /// A network with a style input beside the picture (a weight per named style, or a style
    /// vector computed from a picture): 0..1, multiples of 4 unless the manifest says otherwise.
    Conditional,
}

/// The style input of a [`StyleFamily::Conditional`] model: what it is fed beside the picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StyleInput {
    pub input: String,
    pub shape: Vec<usize>,
    pub kind: StyleInputKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StyleInputKind {
    /// A weight per named style (the manifest's `styles`), summing to 1: styles are chosen or
    /// mixed by name.
    Weights { names: Vec<String> },
    /// A style vector computed from a style picture by another model (the manifest's
    /// `style_predictor`).
    Vector { predictor: PathBuf },
}

impl StyleInput {
    /// Number of values the input takes.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The style names a weights input knows (empty for a vector input).
    pub fn names(&self) -> &[String] {
        match &self.kind {
            StyleInputKind::Weights { names } => names,
            StyleInputKind::Vector { .. } => &[],
        }
    }

    /// The weights of a style spec: one name (`starry-night`), or a mix of names with weights
    /// (`starry-night:0.7,mosaic:0.3`; a name without a weight counts 1). Indices (`19`) work as
    /// names too. The weights are normalised to sum to 1. An unknown name is an error listing
    /// the names there are.
    pub fn weights(&self, spec: &str) -> Result<Vec<f32>> {
        let names = self.names();
        if names.is_empty() {
            return Err(Error::Unsupported(format!(
                "style '{spec}': this model takes its style from a picture (style-image), not by name"
            )));
        }
        let list = || names.join(", ");
        let mut w = vec![0f32; names.len()];
        let mut any = false;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = match part.rsplit_once(':') {
                Some((n, v)) => {
                    let v: f32 = v.trim().parse().map_err(|_| {
                        Error::Unsupported(format!(
                            "style '{spec}': weight '{}' of '{}' is not a number (write name:weight, e.g. \
                             {}:0.7,{}:0.3)",
                            v.trim(),
                            n.trim(),
                            names[0],
                            names[names.len().min(2) - 1]
                        ))
                    })?;
                    (n.trim(), v)
                }
                None => (part, 1.0),
            };
            if !weight.is_finite() || weight < 0.0 {
                return Err(Error::Unsupported(format!(
                    "style '{spec}': the weight of '{name}' must be a number >= 0, found {weight}"
                )));
            }
            let idx = names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .or_else(|| name.parse::<usize>().ok().filter(|&i| i < names.len()))
                .ok_or_else(|| {
                    Error::Unsupported(format!("unknown style '{name}'; this model's styles are: {}", list()))
                })?;
            w[idx] += weight;
            any = true;
        }
        let sum: f32 = w.iter().sum();
        if !any || sum <= 0.0 {
            return Err(Error::Unsupported(format!(
                "style '{spec}' names no style with a weight above 0; this model's styles are: {}",
                list()
            )));
        }
        for v in &mut w {
            *v /= sum;
        }
        Ok(w)
    }
}

/// How to feed a style model and read it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StyleContract {
    /// The image contract (scale 1).
    pub image: ImageContract,
    pub family: StyleFamily,
    /// The operator that produces the output (looking through layout operators), if found.
    pub final_op: Option<String>,
    /// The style input beside the picture, for [`StyleFamily::Conditional`] models.
    pub style_input: Option<StyleInput>,
}

impl StyleContract {
    /// Tells the family apart from the graph: an NHWC input or a final `Tanh` is AnimeGANv2,
    /// anything else fast-neural-style; the manifest's range, layout, channel order and
    /// multiple override the family's. The output must be the input's size.
    pub fn detect(model: &Model) -> Result<Self> {
        let says_style = model.manifest.styles.is_some() || model.manifest.style_predictor.is_some();
        if model.inputs.len() == 2 && says_style {
            return Self::detect_conditional(model);
        }
        let generic = Family { name: FAMILY_NAME, range: ValueRange::Byte, multiple: 4 };
        let output = model.outputs.first().map(|t| t.name.clone()).unwrap_or_default();
        let final_op = match model.source.graph() {
            Ok(g) => g.final_op(&output).map(str::to_string),
            // ONNX Runtime has read the file, so this is our reader's limit, not a bad model.
            Err(_) => None,
        };
        let layout = match model.inputs.as_slice() {
            [input] => infer_layout(&generic, model, input)?,
            _ => Layout::Nchw, // detect_with reports the input count
        };
        let family = if layout == Layout::Nhwc || final_op.as_deref() == Some("Tanh") {
            StyleFamily::AnimeGan
        } else {
            StyleFamily::FastNeuralStyle
        };
        let defaults = match family {
            StyleFamily::AnimeGan => Family { name: FAMILY_NAME, range: ValueRange::Signed, multiple: 32 },
            StyleFamily::FastNeuralStyle | StyleFamily::Conditional => generic,
        };
        let image = ImageContract::detect_with(model, &defaults)?;
        if image.scale != 1 {
            return Err(Error::contract(
                &model.name,
                FAMILY_NAME,
                format!("output '{}' size", image.output),
                "the input's size (a style model does not scale)",
                format!("{}x the input", image.scale),
            ));
        }
        Ok(Self { image, family, final_op, style_input: None })
    }

    /// A model with two inputs: the picture (rank 4, 3 channels) and a style input whose meaning
    /// the manifest gives (`styles` or `style_predictor`; without them two inputs are refused,
    /// as for every image model).
    fn detect_conditional(model: &Model) -> Result<Self> {
        let defaults = Family { name: FAMILY_NAME, range: ValueRange::Unit, multiple: 4 };
        let is_image = |t: &crate::backend::model::TensorInfo| {
            t.shape.len() == 4 && (t.shape[1] == 3 || t.shape[3] == 3 || (t.shape[1] < 0 && t.shape[3] < 0))
        };
        let Some(index) = model.inputs.iter().position(is_image) else {
            let found: Vec<String> =
                model.inputs.iter().map(|t| format!("'{}' {}", t.name, t.shape_string())).collect();
            return Err(Error::contract(
                &model.name,
                FAMILY_NAME,
                "inputs",
                "a picture (rank 4, 3 channels) and a style input",
                found.join(", "),
            ));
        };
        let style = &model.inputs[1 - index];
        let what = format!("style input '{}'", style.name);
        if style.elem != Some(ElemType::F32) || style.shape.iter().any(|&d| d <= 0) {
            return Err(Error::contract(
                &model.name,
                FAMILY_NAME,
                what,
                "float32 of a fixed shape",
                format!("{} {}", style.elem_name, style.shape_string()),
            ));
        }
        let shape: Vec<usize> = style.shape.iter().map(|&d| d as usize).collect();
        let len: usize = shape.iter().product();
        let kind = match (&model.manifest.styles, &model.manifest.style_predictor) {
            (Some(names), _) => {
                if names.len() != len {
                    return Err(Error::contract(
                        &model.name,
                        FAMILY_NAME,
                        what,
                        format!("one weight per style of the manifest ({} styles)", names.len()),
                        format!("{len} values ({})", style.shape_string()),
                    ));
                }
                StyleInputKind::Weights { names: names.clone() }
            }
            (None, Some(predictor)) => StyleInputKind::Vector { predictor: predictor.clone() },
            (None, None) => unreachable!("detect sends only models whose manifest names their style input"),
        };
        let image = ImageContract::detect_for_input(model, &defaults, index, Some(1))?;
        let final_op = model.source.graph().ok().and_then(|g| g.final_op(&image.output).map(str::to_string));
        let style_input = StyleInput { input: style.name.clone(), shape, kind };
        Ok(Self { image, family: StyleFamily::Conditional, final_op, style_input: Some(style_input) })
    }
}

/// The model that turns a style picture into the style vector of a [`StyleInputKind::Vector`]
/// model (Magenta's style predictor): a picture of a fixed size in, the vector out.
pub struct StylePredictor {
    model: Arc<Model>,
    input: String,
    /// (width, height) the picture is given at.
    pub size: (usize, usize),
    spec: TensorSpec,
    len: usize,
}

impl StylePredictor {
    /// Loads the predictor of `style` (a vector input) from the path the manifest named. Its
    /// picture input must have a fixed size; it is fed in the range the manifest of the main
    /// model gives (`range`), RGB, in its own layout.
    pub fn load(style: &StyleInput, range: ValueRange, device: Device) -> Result<Self> {
        let StyleInputKind::Vector { predictor } = &style.kind else {
            return Err(Error::Unsupported("this model's style input takes weights, not a picture".into()));
        };
        let model = crate::backend::model::load(&ModelSource::File(predictor.clone()), device, Precision::Auto)?;
        let family = Family { name: "style predictor", range, multiple: 1 };
        let bad = |what: String, expected: &str, found: String| {
            Error::contract(&model.name, family.name, what, expected, found)
        };
        let [input] = model.inputs.as_slice() else {
            return Err(bad("number of inputs".into(), "1 (the style picture)", model.inputs.len().to_string()));
        };
        let layout = infer_layout(&family, &model, input)?;
        let (h, w) = match layout {
            Layout::Nchw => (input.shape[2], input.shape[3]),
            Layout::Nhwc => (input.shape[1], input.shape[2]),
        };
        if h <= 0 || w <= 0 || input.elem != Some(ElemType::F32) {
            return Err(bad(
                format!("input '{}'", input.name),
                "float32 picture of a fixed size",
                format!("{} {}", input.elem_name, input.shape_string()),
            ));
        }
        let out_len: i64 = model.outputs.first().map(|o| o.shape.iter().product()).unwrap_or(0);
        if out_len != style.len() as i64 {
            return Err(bad(
                "output".into(),
                &format!("the style vector of {} values the main model takes", style.len()),
                model.outputs.first().map(|o| o.shape_string()).unwrap_or_else(|| "none".into()),
            ));
        }
        let spec = TensorSpec { layout, range, order: gst_ai_kernels::ChannelOrder::Rgb };
        Ok(Self { input: input.name.clone(), size: (w as usize, h as usize), spec, len: style.len(), model })
    }

    /// The style vector of a picture given as a canonical image (three planes R, G, B in 0..1)
    /// of exactly [`size`](Self::size).
    pub fn predict(&self, picture: &[f32]) -> Result<Vec<f32>> {
        let (w, h) = self.size;
        if picture.len() != 3 * w * h {
            return Err(Error::Unsupported(format!("style picture of {} values, expected 3x{w}x{h}", picture.len())));
        }
        let mut tensor = vec![0f32; 3 * w * h];
        retensor(picture, TensorSpec::CANONICAL, w, h, self.spec, &mut tensor)?;
        let shape = match self.spec.layout {
            Layout::Nchw => [1, 3, h, w],
            Layout::Nhwc => [1, h, w, 3],
        };
        let len = self.len;
        let name = self.model.name.clone();
        self.model.run(&[ModelInput { name: &self.input, shape: &shape, data: InputData::F32(&tensor) }], |_, out| {
            if out.len() != len {
                return Err(Error::Inference {
                    model: name,
                    why: format!("style vector of {} values, expected {len}", out.len()),
                });
            }
            Ok(out.to_vec())
        })
    }
}

/// How a model with a fixed input size is run on frames of another size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// The frame is resized to the model's size and the result back to the frame's.
    Resize,
    /// The frame is cut into tiles of the model's size, blended with feathered overlaps.
    Tile,
}

/// What the element's properties say, read for every frame (they may change while playing).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StyleParams {
    /// 0 = the input, 1 = the model's output.
    pub strength: f32,
    /// Weight of the previous output, warped along the flow, where it can be trusted.
    pub temporal: f32,
    pub preserve_colors: bool,
    pub fit: Fit,
    pub tiles: TileParams,
    /// Scene-change measure (kernels' `scene_change`) above which the history is dropped.
    pub scene_threshold: f32,
}

/// Flow parameters for a w x h frame: the default (1/4 resolution) for large frames, finer for
/// small ones, so the flow is computed on at least about 320x180 pixels (or the whole frame).
fn flow_params(w: usize, h: usize) -> FlowParams {
    let mut downscale = 0;
    while downscale < FlowParams::default().downscale && (w >> (downscale + 1)) >= 320 && (h >> (downscale + 1)) >= 180
    {
        downscale += 1;
    }
    FlowParams { downscale, ..FlowParams::default() }
}

/// Previous frame's data for temporal consistency.
#[derive(Default)]
struct History {
    w: usize,
    h: usize,
    /// The previous input (canonical) and its luma, and the previous output before the
    /// strength blend.
    input: Vec<f32>,
    luma: Vec<f32>,
    styled: Vec<f32>,
    valid: bool,
}

/// Stylizes frames of one stream; keeps its buffers and the temporal history between frames.
pub struct Stylizer {
    runner: TiledRunner,
    contract: StyleContract,
    input: Vec<f32>,
    styled: Vec<f32>,
    small: Vec<f32>,
    tensor: Vec<f32>,
    tensor16: Vec<f16>,
    small_out: Vec<f32>,
    luma: Vec<f32>,
    flow: Vec<f32>,
    back: Vec<f32>,
    back_warped: Vec<f32>,
    prev_input_warped: Vec<f32>,
    prev_warped: Vec<f32>,
    confidence: Vec<f32>,
    ws: FlowWorkspace,
    history: History,
    /// Frames whose history was dropped at a scene change (for statistics).
    pub scene_cuts: u64,
}

impl Stylizer {
    pub fn new(model: Arc<Model>, contract: StyleContract) -> Self {
        Self {
            runner: TiledRunner::new(model, contract.image.clone()),
            contract,
            input: Vec::new(),
            styled: Vec::new(),
            small: Vec::new(),
            tensor: Vec::new(),
            tensor16: Vec::new(),
            small_out: Vec::new(),
            luma: Vec::new(),
            flow: Vec::new(),
            back: Vec::new(),
            back_warped: Vec::new(),
            prev_input_warped: Vec::new(),
            prev_warped: Vec::new(),
            confidence: Vec::new(),
            ws: FlowWorkspace::new(),
            history: History::default(),
            scene_cuts: 0,
        }
    }

    pub fn contract(&self) -> &StyleContract {
        &self.contract
    }

    pub fn model(&self) -> &Arc<Model> {
        self.runner.model()
    }

    /// The values of the model's style input (weights or a style vector) for the next frames;
    /// a model without a style input takes none. Setting the values it already has is free.
    pub fn set_style(&mut self, values: &[f32]) -> Result<()> {
        let Some(style) = &self.contract.style_input else {
            return Err(Error::Unsupported(format!("model {} has no style input", self.runner.model().name)));
        };
        if values.len() != style.len() {
            return Err(Error::Unsupported(format!(
                "style input '{}' takes {} values, given {}",
                style.input,
                style.len(),
                values.len()
            )));
        }
        if self.runner.side_inputs().first().is_some_and(|s| s.data == values) {
            return Ok(());
        }
        self.runner.set_side_inputs(vec![SideInput {
            name: style.input.clone(),
            shape: style.shape.clone(),
            data: values.to_vec(),
        }]);
        Ok(())
    }

    /// Forgets the previous frame (flush, seek, new caps): the next frame is not blended.
    pub fn reset(&mut self) {
        self.history.valid = false;
    }

    /// Stylizes `src` into `dst` (same size and format).
    pub fn process(&mut self, src: &Frame, dst: &mut FrameMut, p: &StyleParams) -> Result<()> {
        let (w, h) = (src.width, src.height);
        self.check_frames(src, dst)?;
        self.input.resize(3 * w * h, 0.0);
        pack(src, Rect::new(0, 0, w, h), TensorSpec::CANONICAL, &mut self.input)?;
        self.stylize(src, p)?;
        for v in &mut self.styled {
            *v = v.clamp(0.0, 1.0);
        }
        if p.preserve_colors {
            preserve_colors(&self.input, &mut self.styled, w, h)?;
        }
        self.temporal(w, h, p)?;
        if p.strength < 1.0 {
            mix(&self.input, &mut self.styled, p.strength)?;
        }
        unpack(&self.styled, w, h, TensorSpec::CANONICAL, 0, 0, dst)?;
        if src.format.has_alpha() {
            copy_alpha(src, dst)?;
        }
        Ok(())
    }

    /// `dst` must be `src`'s size and format, and a model with a style input must have it set.
    fn check_frames(&self, src: &Frame, dst: &FrameMut) -> Result<()> {
        let (w, h) = (src.width, src.height);
        if dst.width != w || dst.height != h || dst.format != src.format {
            return Err(Error::Unsupported(format!(
                "output frame {}x{} {:?} differs from the input {w}x{h} {:?}",
                dst.width, dst.height, dst.format, src.format
            )));
        }
        if self.contract.style_input.is_some() && self.runner.side_inputs().is_empty() {
            return Err(Error::Unsupported(format!(
                "model {} needs its style input set before the first frame",
                self.runner.model().name
            )));
        }
        Ok(())
    }

    /// The model's output for the whole frame, canonical, into `self.styled`.
    fn stylize(&mut self, src: &Frame, p: &StyleParams) -> Result<()> {
        let (w, h) = (src.width, src.height);
        match self.contract.image.static_size {
            Some((sw, sh)) if p.fit == Fit::Resize && (sw, sh) != (w, h) => self.run_resized(w, h, sw, sh),
            _ => self.runner.process_canonical(src, p.tiles, &mut self.styled),
        }
    }

    /// Fixed-size model, `fit=resize`: frame → model size → model → frame size (bicubic).
    fn run_resized(&mut self, w: usize, h: usize, sw: usize, sh: usize) -> Result<()> {
        let c = &self.contract.image;
        let n = 3 * sw * sh;
        self.small.resize(n, 0.0);
        resize(&self.input, 3, w, h, &mut self.small, sw, sh, Filter::Bicubic)?;
        self.tensor.resize(n, 0.0);
        retensor(&self.small, TensorSpec::CANONICAL, sw, sh, c.spec, &mut self.tensor)?;
        let data = InputData::for_elem(c.input_elem, &self.tensor, &mut self.tensor16);
        let (shape, _) = c.input_shape(sw, sh);
        let spec = c.spec;
        let model = self.runner.model();
        let small_out = &mut self.small_out;
        let mut inputs = vec![ModelInput { name: &c.input, shape: &shape, data }];
        inputs.extend(self.runner.side_inputs().iter().map(SideInput::as_model_input));
        model.run(&inputs, |dims, out| {
            if dims != shape || out.len() != n {
                return Err(Error::Inference {
                    model: model.name.clone(),
                    why: format!("for a {sw}x{sh} input the output has shape {dims:?}, expected {shape:?}"),
                });
            }
            Error::check_finite(&model.name, out)?;
            small_out.resize(n, 0.0);
            Ok(retensor(out, spec, sw, sh, TensorSpec::CANONICAL, small_out)?)
        })?;
        self.styled.resize(3 * w * h, 0.0);
        resize(&self.small_out, 3, sw, sh, &mut self.styled, w, h, Filter::Bicubic)?;
        Ok(())
    }

    /// Blends `self.styled` with the previous output warped along the flow, then makes it the
    /// history; with a weight of zero it does nothing.
    fn temporal(&mut self, w: usize, h: usize, p: &StyleParams) -> Result<()> {
        if p.temporal <= 0.0 {
            // Nothing to blend and no history kept: turned on while playing, it starts afresh.
            self.history.valid = false;
            return Ok(());
        }
        let n = w * h;
        self.luma.resize(n, 0.0);
        luma(&self.input, w, h, &mut self.luma)?;
        let hist = &mut self.history;
        let usable = hist.valid && hist.w == w && hist.h == h;
        if usable {
            if scene_change(&hist.luma, &self.luma, w, h)? > p.scene_threshold {
                self.scene_cuts += 1;
            } else {
                let params = flow_params(w, h);
                self.flow.resize(2 * n, 0.0);
                self.back.resize(2 * n, 0.0);
                self.back_warped.resize(2 * n, 0.0);
                self.prev_input_warped.resize(3 * n, 0.0);
                self.prev_warped.resize(3 * n, 0.0);
                self.confidence.resize(n, 0.0);
                optical_flow(&self.luma, &hist.luma, w, h, &params, &mut self.ws, &mut self.flow)?;
                optical_flow(&hist.luma, &self.luma, w, h, &params, &mut self.ws, &mut self.back)?;
                warp(&self.back, 2, w, h, &self.flow, &mut self.back_warped)?;
                warp(&hist.input, 3, w, h, &self.flow, &mut self.prev_input_warped)?;
                warp(&hist.styled, 3, w, h, &self.flow, &mut self.prev_warped)?;
                temporal_confidence(
                    &self.flow,
                    &self.back_warped,
                    &self.luma,
                    &self.input,
                    &self.prev_input_warped,
                    w,
                    h,
                    &mut self.confidence,
                )?;
                temporal_blend(&mut self.styled, &self.prev_warped, &self.confidence, p.temporal)?;
            }
        }
        hist.w = w;
        hist.h = h;
        hist.luma.clone_from(&self.luma);
        hist.input.clone_from(&self.input);
        hist.styled.clone_from(&self.styled);
        hist.valid = true;
        Ok(())
    }

    /// The last frame's flow confidence (one plane), for tests and diagnostics; empty before the
    /// first blended frame.
    pub fn confidence(&self) -> &[f32] {
        &self.confidence
    }
}
