//! Style transfer of one frame: the model contract of the style families (MODELS.md), running
//! the model over a frame (whole, tiled, or resized to a model's fixed size), and the steps
//! around it: keeping the input's colours, temporal consistency with the previous output along
//! the optical flow, and the blend with the original. Nothing here knows about GStreamer.

use std::sync::Arc;

use gst_ai_kernels::{
    Filter, FlowParams, FlowWorkspace, Frame, FrameMut, Layout, Rect, TensorSpec, ValueRange, copy_alpha, luma, mix,
    optical_flow, pack, preserve_colors, resize, retensor, scene_change, temporal_blend, temporal_confidence, unpack,
    warp,
};
use half::f16;

use crate::backend::model::{InputData, Model};
use crate::error::{Error, Result};
use crate::image::contract::{Family, ImageContract, infer_layout};
use crate::image::tiled::{TileParams, TiledRunner};

const FAMILY_NAME: &str = "style transfer";

/// Which family a style model was recognised as; it decides the defaults the manifest may override.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StyleFamily {
    /// fast-neural-style (TransformerNet): NCHW RGB 0..255, sizes a multiple of 4.
    FastNeuralStyle,
    /// AnimeGANv2: NHWC (tf2onnx) or NCHW (PyTorch port) ending in tanh, −1..1, multiples of 32.
    AnimeGan,
}

/// How to feed a style model and read it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StyleContract {
    /// The image contract (scale 1).
    pub image: ImageContract,
    pub family: StyleFamily,
    /// The operator that produces the output (looking through layout operators), if found.
    pub final_op: Option<String>,
}

impl StyleContract {
    /// Tells the family apart from the graph: an NHWC input or a final `Tanh` is AnimeGANv2,
    /// anything else fast-neural-style; the manifest's range, layout, channel order and
    /// multiple override the family's. The output must be the input's size.
    pub fn detect(model: &Model) -> Result<Self> {
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
            StyleFamily::FastNeuralStyle => generic,
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
        Ok(Self { image, family, final_op })
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

    /// Forgets the previous frame (flush, seek, new caps): the next frame is not blended.
    pub fn reset(&mut self) {
        self.history.valid = false;
    }

    /// Stylizes `src` into `dst` (same size and format).
    pub fn process(&mut self, src: &Frame, dst: &mut FrameMut, p: &StyleParams) -> Result<()> {
        let (w, h) = (src.width, src.height);
        if dst.width != w || dst.height != h || dst.format != src.format {
            return Err(Error::Unsupported(format!(
                "output frame {}x{} {:?} differs from the input {w}x{h} {:?}",
                dst.width, dst.height, dst.format, src.format
            )));
        }
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
        model.run_single(&c.input, shape, data, |dims, out| {
            if dims != shape || out.len() != n {
                return Err(Error::Inference {
                    model: model.name.clone(),
                    why: format!("for a {sw}x{sh} input the output has shape {dims:?}, expected {shape:?}"),
                });
            }
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
