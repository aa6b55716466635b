//! The image contract shared by the image-to-image families (super-resolution, style,
//! restoration; MODELS.md): one image input, NCHW or NHWC, float32 or float16, three
//! channels, static or dynamic height and width; one image output whose height and width are the
//! same integer multiple of the input's. What the graph cannot say (value range, channel order)
//! comes from the manifest, else the family's convention (RGB, 0..1). What cannot be matched is an
//! error naming the tensor, what was expected and what was found.

use gst_ai_kernels::{ChannelOrder, Layout, TensorSpec, ValueRange};

use crate::backend::model::{ElemType, InputData, Model, TensorInfo};
use crate::error::{Error, Result};

/// What a model family's contract assumes where neither the graph nor the manifest says.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// For messages: "super-resolution", "style transfer", ...
    pub name: &'static str,
    pub range: ValueRange,
    /// Input width and height are padded up to a multiple of this.
    pub multiple: usize,
}

/// How to feed an image-to-image model (super-resolution, style, restoration) and read it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageContract {
    pub input: String,
    pub output: String,
    pub input_elem: ElemType,
    pub spec: TensorSpec,
    pub scale: usize,
    /// (width, height) when the graph fixes the input size: frames are then tiled at that size.
    pub static_size: Option<(usize, usize)>,
    /// Input width and height are padded up to a multiple of this.
    pub multiple: usize,
}

fn contract_err(
    family: &Family,
    model: &Model,
    what: impl Into<String>,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Error {
    Error::contract(&model.name, family.name, what, expected, found)
}

/// Position of (channel, height, width) in a rank-4 shape.
fn axes(layout: Layout) -> (usize, usize, usize) {
    match layout {
        Layout::Nchw => (1, 2, 3),
        Layout::Nhwc => (3, 1, 2),
    }
}

fn check_image_tensor(family: &Family, model: &Model, t: &TensorInfo, role: &str, layout: Layout) -> Result<()> {
    match t.elem {
        Some(ElemType::F32) | Some(ElemType::F16) => {}
        _ => {
            return Err(contract_err(
                family,
                model,
                format!("{role} '{}' element type", t.name),
                "float32 or float16",
                t.elem_name.clone(),
            ));
        }
    }
    if t.shape.len() != 4 {
        return Err(contract_err(
            family,
            model,
            format!("{role} '{}' shape", t.name),
            "a rank-4 image tensor (NCHW or NHWC)",
            t.shape_string(),
        ));
    }
    let (c, _, _) = axes(layout);
    if t.shape[c] >= 0 && t.shape[c] != 3 {
        return Err(contract_err(
            family,
            model,
            format!("{role} '{}' channels", t.name),
            format!("3 (RGB) at dimension {c} ({layout:?})"),
            format!("{} in shape {}", t.shape[c], t.shape_string()),
        ));
    }
    if t.shape[0] > 1 {
        return Err(contract_err(
            family,
            model,
            format!("{role} '{}' batch", t.name),
            "1 or dynamic",
            format!("{} in shape {}", t.shape[0], t.shape_string()),
        ));
    }
    Ok(())
}

/// Guesses the layout from where the 3 channels sit; both dynamic means NCHW (vs-mlrt and the
/// PyTorch exports); a 1-channel model is reported as such rather than as "no layout".
pub(crate) fn infer_layout(family: &Family, model: &Model, t: &TensorInfo) -> Result<Layout> {
    if let Some(l) = model.manifest.layout {
        return Ok(l);
    }
    if t.shape.len() != 4 {
        return Err(contract_err(
            family,
            model,
            format!("input '{}' shape", t.name),
            "a rank-4 image tensor (NCHW or NHWC)",
            t.shape_string(),
        ));
    }
    let (d1, d3) = (t.shape[1], t.shape[3]);
    Ok(match (d1, d3) {
        (3, _) => Layout::Nchw,
        (_, 3) => Layout::Nhwc,
        (-1, -1) => Layout::Nchw,
        _ if t.name.contains("generator_input") => Layout::Nhwc,
        _ => {
            // Name the channel count the graph most likely means: the small one of dims 1 and 3.
            let found = match (d1, d3) {
                (c, _) if (1..=4).contains(&c) => format!("{c} at dimension 1"),
                (_, c) if (1..=4).contains(&c) => format!("{c} at dimension 3"),
                _ => "no 3-channel dimension".to_string(),
            };
            return Err(contract_err(
                family,
                model,
                format!("input '{}' channels", t.name),
                "3 (RGB) at dimension 1 (NCHW) or 3 (NHWC)",
                format!("{found} (shape {})", t.shape_string()),
            ));
        }
    })
}

fn round_up(v: usize, m: usize) -> usize {
    v.div_ceil(m) * m
}

/// The least width and height a model of dynamic size is fed. Style and SR networks open with
/// reflect padding (Johnson's style networks: 4 pixels, then 1 at a quarter of the size), which
/// ONNX Runtime refuses when a side is not larger than the pad; a smaller tile or frame is
/// padded up to this by reflection (as for the multiple) and cropped back.
pub const MIN_SIDE: usize = 16;

impl ImageContract {
    /// Matches `model` to the image contract of `family`, with its defaults; may run the model
    /// once on a small probe input to learn the scale when the graph's shapes do not fix it.
    pub fn detect_with(model: &Model, family: &Family) -> Result<Self> {
        if model.inputs.len() != 1 {
            let names: Vec<&str> = model.inputs.iter().map(|t| t.name.as_str()).collect();
            return Err(contract_err(
                family,
                model,
                "number of inputs",
                "1 (an image)",
                format!("{} ({})", names.len(), names.join(", ")),
            ));
        }
        Self::detect_for_input(model, family, 0, None)
    }

    /// [`detect_with`](Self::detect_with) for a model whose image is input `index` among others
    /// (a style model's style vector beside it): the other inputs are the caller's to feed. The
    /// scale is `scale` when given, else learned as there (a probe run would lack the other
    /// inputs, so callers with other inputs give it).
    pub fn detect_for_input(model: &Model, family: &Family, index: usize, scale: Option<usize>) -> Result<Self> {
        let Some(output) = model.outputs.first() else {
            return Err(contract_err(family, model, "number of outputs", "1 (an image)", "0"));
        };
        let input = &model.inputs[index];
        let layout = infer_layout(family, model, input)?;
        check_image_tensor(family, model, input, "input", layout)?;
        check_image_tensor(family, model, output, "output", layout)?;
        let input_elem = input.elem.unwrap_or(ElemType::Other);
        let (_, ha, wa) = axes(layout);
        let static_size =
            (input.shape[ha] > 0 && input.shape[wa] > 0).then(|| (input.shape[wa] as usize, input.shape[ha] as usize));
        let multiple = model.manifest.multiple.unwrap_or(family.multiple);
        let spec = TensorSpec {
            layout,
            range: model.manifest.range.unwrap_or(family.range),
            order: model.manifest.channel_order.unwrap_or(ChannelOrder::Rgb),
        };
        let mut c = ImageContract {
            input: input.name.clone(),
            output: output.name.clone(),
            input_elem,
            spec,
            scale: 0,
            static_size,
            multiple,
        };
        let static_out = (output.shape[ha] > 0 && output.shape[wa] > 0)
            .then(|| (output.shape[wa] as usize, output.shape[ha] as usize));
        c.scale = match (model.manifest.scale.or(scale), static_size, static_out) {
            (Some(s), _, _) => s,
            (None, Some(i), Some(o)) => Self::ratio(family, model, &c.output, i, o)?,
            _ => c.probe(family, model)?,
        };
        Ok(c)
    }

    fn ratio(
        family: &Family,
        model: &Model,
        output: &str,
        (iw, ih): (usize, usize),
        (ow, oh): (usize, usize),
    ) -> Result<usize> {
        let s = ow / iw;
        if s == 0 || ow != s * iw || oh != s * ih {
            return Err(contract_err(
                family,
                model,
                format!("output '{output}' size for a {iw}x{ih} input"),
                "the same integer multiple of the input's width and height",
                format!("{ow}x{oh} ({:.3}x by {:.3}x)", ow as f64 / iw as f64, oh as f64 / ih as f64),
            ));
        }
        Ok(s)
    }

    /// Runs the model on a small mid-grey frame to measure its scale.
    fn probe(&self, family: &Family, model: &Model) -> Result<usize> {
        let (w, h) = self.static_size.unwrap_or((round_up(48, self.multiple), round_up(32, self.multiple)));
        let (shape, n) = self.input_shape(w, h);
        let data = vec![0.5f32; n];
        let mut half = Vec::new();
        let input = InputData::for_elem(self.input_elem, &data, &mut half);
        let dims = model.run_single(&self.input, shape, input, |dims, _| Ok(dims.to_vec())).map_err(|e| match e {
            Error::Inference { model, why } => Error::Inference {
                model,
                why: format!(
                    "a {w}x{h} probe run failed ({why}); if the model needs sizes that are a multiple of \
                         something, give it in the manifest as \"multiple\""
                ),
            },
            other => other,
        })?;
        let (c, ha, wa) = axes(self.spec.layout);
        if dims.len() != 4 || dims[c] != 3 {
            return Err(contract_err(
                family,
                model,
                format!("output '{}' for a {w}x{h} input", self.output),
                "a 3-channel image",
                format!("shape {dims:?}"),
            ));
        }
        Self::ratio(family, model, &self.output, (w, h), (dims[wa], dims[ha]))
    }

    /// The input tensor's shape for a w x h image, and its element count.
    pub fn input_shape(&self, w: usize, h: usize) -> ([usize; 4], usize) {
        let shape = match self.spec.layout {
            Layout::Nchw => [1, 3, h, w],
            Layout::Nhwc => [1, h, w, 3],
        };
        (shape, 3 * w * h)
    }

    /// (width, height) of the tensor the model is fed for a tile of w x h pixels: the static
    /// size, or the tile padded to the multiple and to at least [`MIN_SIDE`].
    pub fn padded_size(&self, w: usize, h: usize) -> (usize, usize) {
        let side = |v: usize| round_up(v.max(MIN_SIDE), self.multiple);
        self.static_size.unwrap_or((side(w), side(h)))
    }
}
