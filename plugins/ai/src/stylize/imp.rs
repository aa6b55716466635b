//! The implementation of `aistylize`: a `GstVideoFilter` with the same caps on both sides. The
//! model is loaded (or taken from the process-wide cache) when the element goes to PAUSED; the
//! blend properties may change while playing and apply from the next frame. Flushes, new
//! segments (seeks) and new caps drop the temporal history.
//!
//! Style models with a style input (zoo:style26's 26 named styles, zoo:style-arbitrary's style
//! vector) take it from `style` (a name or a weighted mix of names) or `style-image` (a picture,
//! turned into a style vector by the model's style predictor). Those values are computed at
//! start, and when the property changes while playing on the thread that sets it, outside every
//! lock a property read or the streaming thread takes; the streaming thread only picks up the
//! newest values (an `Arc`) at each frame.
//!
//! Locks: `settings` and `stats` are taken only for a copy or an update, never across a model
//! run; `stylizer` is the streaming thread's (held across the run; sink events that reset the
//! history arrive on the streaming thread too, and `start`/`stop` run when no buffer flows). So
//! every property read, `stats` included, is answered while a frame is being stylized.
//!
//! Overload (`on-late`, the latency query, QoS and LATENCY events) is [`Overload`]'s, all
//! atomics: the latency query answers the measured processing time without the stylizer's lock.
//! A late frame's fallback is the stylizer's cheap stand-in (the previous stylized frame warped
//! along the flow, or the input).

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;

use gst_ai_runtime::backend::model::ModelSource;
use gst_ai_runtime::backend::zoo;
use gst_ai_runtime::tasks::style::{
    self, StyleContract, StyleEngine, StyleInput, StyleInputKind, StyleParams, StylePredictor, Stylizer,
};
use gst_ai_runtime::{Device, Precision, builtin};

use super::{Fit, picture};
use crate::common::{
    self, AiOnBadOutput, BadOutputWarnings, ElementError, ModelProps, Overload, Stats, TileProps, bad_output, lock,
};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("aistylize", gst::DebugColorFlags::empty(), Some("AI style transfer")));

const DEFAULT_STYLE: &str = "cartoon";
/// The built-in styles (embedded models), by name.
const BUILTIN_STYLES: [&str; 3] = ["cartoon", "pencil", "oil"];
/// The zoo models used when no model is given: for a style that is not a built-in, and for a
/// style picture.
const ZOO_NAMED: &str = "zoo:style26";
const ZOO_PICTURE: &str = "zoo:style-arbitrary";
const DEFAULT_STRENGTH: f64 = 1.0;
const DEFAULT_TEMPORAL: f64 = 0.5;
const DEFAULT_PRESERVE_COLORS: bool = false;
const DEFAULT_FIT: Fit = Fit::Resize;
const DEFAULT_TILE_OVERLAP: u32 = 32;
const DEFAULT_SCENE_THRESHOLD: f64 = 0.5;

#[derive(Debug, Clone)]
struct Settings {
    model: ModelProps,
    style: String,
    /// Whether `style` was set (the default then means: the model's first style).
    style_set: bool,
    style_image: String,
    /// Bumped by every change of `style` or `style-image`: values computed for an older one
    /// are not stored over newer ones.
    style_gen: u64,
    strength: f64,
    temporal: f64,
    preserve_colors: bool,
    fit: Fit,
    tiles: TileProps,
    scene_threshold: f64,
    on_bad_output: AiOnBadOutput,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: ModelProps::default(),
            style: DEFAULT_STYLE.into(),
            style_set: false,
            style_image: String::new(),
            style_gen: 0,
            strength: DEFAULT_STRENGTH,
            temporal: DEFAULT_TEMPORAL,
            preserve_colors: DEFAULT_PRESERVE_COLORS,
            fit: DEFAULT_FIT,
            tiles: TileProps::new(DEFAULT_TILE_OVERLAP),
            scene_threshold: DEFAULT_SCENE_THRESHOLD,
            on_bad_output: AiOnBadOutput::default(),
        }
    }
}

impl Settings {
    fn params(&self) -> StyleParams {
        StyleParams {
            strength: self.strength as f32,
            temporal: self.temporal as f32,
            preserve_colors: self.preserve_colors,
            fit: match self.fit {
                Fit::Resize => style::Fit::Resize,
                Fit::Tile => style::Fit::Tile,
            },
            tiles: self.tiles.params(),
            scene_threshold: self.scene_threshold as f32,
        }
    }
}

/// The loaded model's style input and what computes its values; set by `start`, dropped by
/// `stop`. Its lock is taken only to copy or store a field, never across a run or a decode.
#[derive(Default)]
struct Styling {
    started: bool,
    /// The model's style input (None: a model without one).
    input: Option<StyleInput>,
    predictor: Option<Arc<StylePredictor>>,
    /// The values given to the style input from the next frame on.
    values: Option<Arc<Vec<f32>>>,
    /// The settings generation `values` were computed for.
    generation: u64,
}

pub struct AiStylize {
    settings: Mutex<Settings>,
    stats: Stats,
    bad_output: BadOutputWarnings,
    styling: Mutex<Styling>,
    /// The streaming thread's: the stylizer and its temporal history.
    stylizer: Mutex<Option<StyleEngine>>,
    /// The `on-late` policy, lateness and the measured latency.
    overload: Overload,
}

impl Default for AiStylize {
    fn default() -> Self {
        Self {
            settings: Mutex::default(),
            stats: Stats::new(
                "ai-stylize-stats",
                &["passed-through", "scene-cuts", "late-fallback", "late-dropped", bad_output::COUNTER],
                &[],
            ),
            bad_output: BadOutputWarnings::default(),
            styling: Mutex::default(),
            stylizer: Mutex::new(None),
            overload: Overload::default(),
        }
    }
}

/// Why a style value could not be computed: a bad setting, or a style picture that cannot be
/// read (named).
enum StyleError {
    Settings(String),
    Picture(String),
    Runtime(gst_ai_runtime::Error),
}

impl StyleError {
    fn message(&self) -> gst::ErrorMessage {
        match self {
            Self::Settings(m) => gst::error_msg!(gst::LibraryError::Settings, ["{m}"]),
            Self::Picture(m) => gst::error_msg!(gst::ResourceError::OpenRead, ["{m}"]),
            Self::Runtime(e) => common::start_error(e),
        }
    }

    fn text(&self) -> String {
        match self {
            Self::Settings(m) | Self::Picture(m) => m.clone(),
            Self::Runtime(e) => e.to_string(),
        }
    }
}

/// The values of a style input: from the style spec (weights) or the style picture (vector).
/// Slow for a picture (a decode and a model run): callers hold no lock.
fn style_values(
    input: &StyleInput,
    predictor: Option<&StylePredictor>,
    style: &str,
    style_set: bool,
    style_image: &str,
) -> Result<Vec<f32>, StyleError> {
    match &input.kind {
        StyleInputKind::Weights { names } => {
            if !style_image.trim().is_empty() {
                return Err(StyleError::Settings(format!(
                    "style-image={style_image} needs the arbitrary-style network ({ZOO_PICTURE}); this model takes \
                     named styles ({})",
                    names.join(", ")
                )));
            }
            let spec = if style_set { style } else { names[0].as_str() };
            input.weights(spec).map_err(|e| StyleError::Settings(e.to_string()))
        }
        StyleInputKind::Vector { .. } => {
            let path = style_image.trim();
            if path.is_empty() {
                return Err(StyleError::Settings(
                    "this model takes its style from a picture: set style-image=PATH".into(),
                ));
            }
            let predictor = predictor.ok_or_else(|| StyleError::Settings("no style predictor loaded".into()))?;
            let (w, h) = predictor.size;
            let pic = picture::load(path, w, h).map_err(StyleError::Picture)?;
            predictor.predict(&pic).map_err(StyleError::Runtime)
        }
    }
}

/// `style` with no model: a built-in name, or (any other) a style of zoo:style26.
fn is_builtin_style(style: &str) -> bool {
    BUILTIN_STYLES.iter().any(|b| b.eq_ignore_ascii_case(style.trim()))
}

/// The style names of zoo:style26 if the zoo has it, for the `style` blurb.
fn zoo_style_names() -> String {
    zoo::entries()
        .into_iter()
        .find(|e| e.name == "style26")
        .and_then(|e| e.info.get("styles").and_then(|v| v.as_array()).cloned())
        .map(|v| v.iter().filter_map(|n| n.as_str()).collect::<Vec<_>>().join(", "))
        .filter(|s| !s.is_empty())
        .map(|s| format!("zoo:style26's styles here: {s}"))
        .unwrap_or_else(|| "zoo:style26 is not imported here (`make setup` imports it)".into())
}

impl AiStylize {
    /// A change of `style` or `style-image` while started: computes the new values here (the
    /// setting thread), with no lock held while it works, and stores them unless a newer change
    /// came first. A value that cannot be computed is a warning; the previous style stays.
    fn restyle(&self, what: &str) {
        let (style, style_set, style_image, generation) = {
            let s = lock(&self.settings);
            (s.style.clone(), s.style_set, s.style_image.clone(), s.style_gen)
        };
        let (input, predictor) = {
            let st = lock(&self.styling);
            if !st.started {
                return;
            }
            (st.input.clone(), st.predictor.clone())
        };
        let Some(input) = input else {
            gst::warning!(
                CAT,
                imp = self,
                "{what} changed while playing: this model has no style input, so it \
                applies at the next start"
            );
            gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                ["{what} applies at the next start: the running model has no style input"]
            );
            return;
        };
        let relevant = match input.kind {
            StyleInputKind::Weights { .. } => what == "style",
            StyleInputKind::Vector { .. } => what == "style-image",
        };
        if !relevant {
            gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                [
                    "{what} is ignored: the running model takes its style from {}",
                    if what == "style" { "style-image" } else { "style" }
                ]
            );
            return;
        }
        match style_values(&input, predictor.as_deref(), &style, style_set, &style_image) {
            Ok(values) => {
                let mut st = lock(&self.styling);
                if st.started && generation >= st.generation {
                    st.values = Some(Arc::new(values));
                    st.generation = generation;
                    gst::debug!(CAT, imp = self, "{what} applied from the next frame");
                }
            }
            Err(e) => {
                let text = e.text();
                gst::warning!(CAT, imp = self, "{text}");
                gst::element_imp_warning!(self, gst::LibraryError::Settings, ["{text}; the previous style stays"]);
            }
        }
    }

    fn reset_history(&self, why: &str) {
        if let Some(s) = lock(&self.stylizer).as_mut() {
            gst::debug!(CAT, imp = self, "temporal history reset ({why})");
            s.reset();
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for AiStylize {
    const NAME: &'static str = "GstAiStylize";
    type Type = super::AiStylize;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for AiStylize {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let model_blurb = format!(
                "Path of an ONNX style model: fast-neural-style (NCHW RGB 0..255, static 224x224 or \
                 dynamic) or AnimeGANv2 (NHWC or NCHW, -1..1, ends in tanh), told apart from the graph; a \
                 <model>.json beside it may set range, channel_order, layout and multiple. Models with a style \
                 input beside the picture: a weight per named style (manifest \"styles\", e.g. zoo:style26, \
                 chosen by the style property) or a style vector computed from a picture (manifest \
                 \"style_predictor\", e.g. zoo:style-arbitrary, given by style-image). Empty: the built-in \
                 style chosen by the style property ({ZOO_NAMED} for a style that is not built in, \
                 {ZOO_PICTURE} when style-image is set)"
            );
            let mut v = ModelProps::pspecs("stylize", &model_blurb, false);
            v.extend(ModelProps::remote_pspecs());
            v.extend(TileProps::pspecs(
                "Edge of the square tiles a frame is cut into for models of any input size, to bound \
                 memory (0 = the whole frame in one run)",
                "Overlap between neighbouring tiles in pixels, blended with feathered weights",
                DEFAULT_TILE_OVERLAP,
            ));
            v.extend([
                glib::ParamSpecString::builder("style")
                    .nick("Style")
                    .blurb(&format!(
                        "With no model: a built-in style, pencil, cartoon or oil (small learned networks), or a style \
                         of {ZOO_NAMED}, which is then used. With a model that has named styles: one of its names, \
                         or a mix of them by weight through the network's style vector, \
                         \"starry-night:0.7,mosaic:0.3\" (weights are normalised to sum to 1; an index works as a \
                         name). An unknown name is an error listing the model's names; a name other than the \
                         built-ins on a model without a style input is an error (the built-in names are ignored \
                         there, with a warning). May change while playing with a model that has named styles (from \
                         the next frame; an invalid value then is a warning and the style stays); the built-in \
                         choice applies at the next start. {}",
                        zoo_style_names()
                    ))
                    .default_value(Some(DEFAULT_STYLE))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("style-image")
                    .nick("Style image")
                    .blurb(&format!(
                        "Any picture as the style (a painting, a photograph; any file GStreamer decodes), through \
                         the arbitrary-style network: its style predictor turns the picture (cut square around its \
                         centre, scaled) into a style vector, once, at start or when this property changes, never \
                         per frame. With no model, {ZOO_PICTURE} is used. A file that cannot be read is an error \
                         naming it at start; while playing (the new style applies from the next frame) a warning, \
                         and the previous style stays. Empty: no style picture"
                    ))
                    .default_value(Some(""))
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("strength")
                    .nick("Strength")
                    .blurb("Blend of the stylized frame with the original: 0 gives the input exactly, 1 the style")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_STRENGTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("temporal-consistency")
                    .nick("Temporal consistency")
                    .blurb(
                        "Weight of the previous stylized frame, warped to the current one by optical flow, \
                         where forward and backward flow agree and the colours match: this weight where the \
                         style changed a lot, up to 1-(1-w)^3 where it changed little (flicker). 0 = every \
                         frame on its own, which flickers; the history is dropped at scene cuts, flushes, seeks \
                         and caps changes",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_TEMPORAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("preserve-colors")
                    .nick("Preserve colours")
                    .blurb("Take only the brightness from the style and keep the input's colours (chroma)")
                    .default_value(DEFAULT_PRESERVE_COLORS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("fit", DEFAULT_FIT)
                    .nick("Fit")
                    .blurb(
                        "How a model with a fixed input size (e.g. 224x224) is applied to other frame sizes: \
                         resize the frame to it and back, or cut the frame into tiles of that size",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("scene-threshold")
                    .nick("Scene threshold")
                    .blurb(
                        "Scene-change measure (0 = same picture, 1 = unrelated) above which the previous frame \
                         is not blended in",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_SCENE_THRESHOLD)
                    .mutable_playing()
                    .build(),
                bad_output::pspec("the input, unstyled"),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "frames output, frames passed through (strength 0), scene cuts, late-fallback (frames \
                         output as the previous stylized frame warped along the flow, or the input, because the \
                         model would have been late), late-dropped (frames dropped as late), non-finite (frames \
                         whose model output held NaN or Inf, given the input), and the model's processing time \
                         per frame over the last 512 frames (mean-ms, p95-ms) with the frame rate it allows (fps)",
                    )
                    .read_only()
                    .build(),
                Overload::pspec(
                    "the previous stylized frame warped along the optical flow (the input where there is none: \
                     the first frame, a scene cut, temporal-consistency=0)",
                ),
            ]);
            v
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let name = pspec.name();
        if name == "on-late" {
            self.overload.set_policy(value.get().expect("type checked upstream"));
            return;
        }
        if name == "style" || name == "style-image" {
            let text = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default();
            {
                let mut s = lock(&self.settings);
                if name == "style" {
                    s.style_set = !text.trim().is_empty();
                    s.style = if s.style_set { text.trim().to_string() } else { DEFAULT_STYLE.into() };
                } else {
                    s.style_image = text.trim().to_string();
                }
                s.style_gen += 1;
            }
            gst::debug!(CAT, imp = self, "{name} set to {text:?}");
            self.restyle(name);
            return;
        }
        let mut s = lock(&self.settings);
        if !(s.model.set(name, value, |w| gst::warning!(CAT, imp = self, "{w}")) || s.tiles.set(name, value)) {
            match name {
                "strength" => s.strength = value.get().expect("type checked upstream"),
                "temporal-consistency" => s.temporal = value.get().expect("type checked upstream"),
                "preserve-colors" => s.preserve_colors = value.get().expect("type checked upstream"),
                "fit" => s.fit = value.get().expect("type checked upstream"),
                "scene-threshold" => s.scene_threshold = value.get().expect("type checked upstream"),
                bad_output::PROPERTY => s.on_bad_output = value.get().expect("type checked upstream"),
                other => unreachable!("unknown property {other}"),
            }
        }
        gst::debug!(CAT, imp = self, "{name} set to {value:?}");
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "stats" => return self.stats.structure().to_value(),
            "on-late" => return self.overload.policy().to_value(),
            _ => {}
        }
        let s = lock(&self.settings);
        match pspec.name() {
            "style" => s.style.to_value(),
            "style-image" => s.style_image.to_value(),
            "strength" => s.strength.to_value(),
            "temporal-consistency" => s.temporal.to_value(),
            "preserve-colors" => s.preserve_colors.to_value(),
            "fit" => s.fit.to_value(),
            "scene-threshold" => s.scene_threshold.to_value(),
            bad_output::PROPERTY => s.on_bad_output.to_value(),
            name => s
                .model
                .get(name)
                .or_else(|| s.tiles.get(name))
                .unwrap_or_else(|| unreachable!("unknown property {name}")),
        }
    }
}

impl GstObjectImpl for AiStylize {}

impl ElementImpl for AiStylize {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "AI style transfer",
                "Filter/Effect/Video",
                "Restyles video with a style-transfer model (built-in learned pencil, cartoon and oil styles; the \
                 zoo's 26 named styles and their mixes; any picture as the style through the arbitrary-style \
                 network; fast-neural-style and AnimeGANv2 ONNX models), temporally consistent along the optical flow",
                "gst-ai developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(common::video_pad_templates);
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for AiStylize {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let (device, why) = settings.model.resolve_device_cuda_capable()?;
        gst::info!(CAT, imp = self, "running on {device} ({why})");
        let (style, style_image) = (settings.style.trim(), settings.style_image.trim());
        let model_prop = settings.model.model.trim();
        let source = if !model_prop.is_empty() {
            ModelSource::from_property(model_prop, builtin::STYLE_CARTOON)
        } else if !style_image.is_empty() {
            ModelSource::file(ZOO_PICTURE).map_err(|e| {
                gst_ai_runtime::Error::Unsupported(format!("style-image needs the arbitrary-style network: {e}"))
            })
        } else if is_builtin_style(style) {
            Ok(match style.to_ascii_lowercase().as_str() {
                "pencil" => builtin::STYLE_PENCIL,
                "oil" => builtin::STYLE_OIL,
                _ => builtin::STYLE_CARTOON,
            })
        } else {
            ModelSource::file(ZOO_NAMED).map_err(|e| {
                gst_ai_runtime::Error::Unsupported(format!(
                    "style '{style}' is not a built-in style ({}), so it was looked up in {ZOO_NAMED}: {e}",
                    BUILTIN_STYLES.join(", ")
                ))
            })
        };
        let source = source.map(|s| s.with_remote_options(settings.model.remote_options()));
        let source = source.map_err(|e| match e {
            gst_ai_runtime::Error::Unsupported(m) => gst::error_msg!(gst::ResourceError::NotFound, ["{m}"]),
            e => common::start_error(&e),
        })?;
        // The shared pool's session is on the CPU (contract, CPU path); on CUDA the engine opens
        // the model's CUDA session beside it.
        let model = common::load_model(self.obj().upcast_ref(), &source, Device::Cpu, Precision::Auto)?;
        let contract = StyleContract::detect(&model).map_err(|e| common::start_error(&e))?;
        gst::info!(CAT, imp = self, "model {}: {contract:?}", model.name);
        let mut stylizer = Stylizer::new(model.clone(), contract.clone());
        let (mut predictor, mut values) = (None, None);
        match &contract.style_input {
            None => {
                if !model_prop.is_empty() {
                    if !style_image.is_empty() {
                        return Err(gst::error_msg!(
                            gst::LibraryError::Settings,
                            [
                                "model {} has no style input, so it cannot take style-image={style_image}; use \
                                 {ZOO_PICTURE} (or no model)",
                                model.name
                            ]
                        ));
                    }
                    if settings.style_set && !is_builtin_style(style) {
                        return Err(gst::error_msg!(
                            gst::LibraryError::Settings,
                            [
                                "model {} has no style input, so it has no style '{style}': named styles need a \
                                 model that has them, such as {ZOO_NAMED}",
                                model.name
                            ]
                        ));
                    }
                    if settings.style_set && style != DEFAULT_STYLE {
                        gst::warning!(CAT, imp = self, "a model is given: style={style} is ignored");
                    }
                }
            }
            Some(input) => {
                if matches!(input.kind, StyleInputKind::Vector { .. }) {
                    if settings.style_set {
                        gst::warning!(CAT, imp = self, "style={style} is ignored: this model takes style-image");
                    }
                    // Once per style picture: on the CPU.
                    let p = StylePredictor::load(input, contract.image.spec.range, Device::Cpu)
                        .map_err(|e| common::start_error(&e))?;
                    gst::info!(CAT, imp = self, "style predictor takes {}x{} pictures", p.size.0, p.size.1);
                    predictor = Some(Arc::new(p));
                }
                let v = style_values(input, predictor.as_deref(), style, settings.style_set, style_image)
                    .map_err(|e| e.message())?;
                stylizer.set_style(&v).map_err(|e| common::start_error(&e))?;
                values = Some(Arc::new(v));
            }
        }
        // A CUDA device chosen by `auto` that cannot be opened falls back to the CPU (as
        // `ModelProps::open_on` does for the other elements).
        let (engine, fell_back) = StyleEngine::open_or_cpu(stylizer, device, settings.model.device_is_auto())
            .map_err(|e| common::start_error(&e))?;
        if let Some(e) = fell_back {
            gst::warning!(
                CAT,
                imp = self,
                "{device} was chosen by device=auto but cannot run this: {e}; running on the CPU"
            );
        }
        gst::info!(CAT, imp = self, "frames run on {}", engine.device());
        *lock(&self.stylizer) = Some(engine);
        *lock(&self.styling) = Styling {
            started: true,
            input: contract.style_input.clone(),
            predictor,
            values,
            generation: settings.style_gen,
        };
        self.stats.reset();
        self.overload.reset();
        self.bad_output.reset();
        // A change made while this start was working has not been applied yet.
        if lock(&self.settings).style_gen != settings.style_gen && contract.style_input.is_some() {
            self.restyle("style-image");
            self.restyle("style");
        }
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.styling) = Styling::default();
        *lock(&self.stylizer) = None;
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStop(_) => {
                self.reset_history("flush");
                self.overload.flushed();
            }
            gst::EventView::Segment(_) => self.reset_history("new segment"),
            gst::EventView::Eos(_) => self.stats.post(&*self.obj()),
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn src_event(&self, event: gst::Event) -> bool {
        match self.overload.src_event(self.obj().upcast_ref(), event) {
            Ok(handled) => handled,
            Err(event) => self.parent_src_event(event),
        }
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if direction == gst::PadDirection::Src
            && let gst::QueryViewMut::Latency(q) = query.view_mut()
        {
            if !BaseTransformImplExt::parent_query(self, direction, q.query_mut()) {
                return false;
            }
            self.overload.answer_latency(q);
            return true;
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }
}

impl VideoFilterImpl for AiStylize {
    fn set_info(
        &self,
        _incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        if let Err(e) = common::require_progressive(in_info) {
            let _ = common::post(&*self.obj(), "aistylize", &e);
            return Err(gst::loggable_error!(CAT, "{e}"));
        }
        if in_info.format() != out_info.format()
            || in_info.width() != out_info.width()
            || in_info.height() != out_info.height()
        {
            return Err(gst::loggable_error!(CAT, "output caps differ from the input's in format or size"));
        }
        self.reset_history("new caps");
        gst::debug!(CAT, imp = self, "negotiated {}x{} {:?}", in_info.width(), in_info.height(), in_info.format());
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (params, on_bad_output) = {
            let s = lock(&self.settings);
            (s.params(), s.on_bad_output)
        };
        let values = lock(&self.styling).values.clone();
        let mut guard = lock(&self.stylizer);
        let Some(stylizer) = guard.as_mut() else {
            return Err(gst::FlowError::NotNegotiated);
        };
        if let Some(values) = values
            && let Err(e) = stylizer.set_style(&values)
        {
            return Err(common::post(&*self.obj(), "aistylize", &ElementError::from(e)));
        }
        if params.strength > 0.0
            && let Some(flow) = self.overload.answer_late(
                self.obj().upcast_ref(),
                &self.stats,
                "aistylize",
                inframe,
                outframe,
                |src, dst| stylizer.fallback(src, dst, &params).map(drop).map_err(ElementError::from),
            )
        {
            return flow;
        }
        let started = Instant::now();
        if params.strength <= 0.0 {
            // Exactly the input, whatever the format; the style history no longer follows the stream.
            stylizer.reset();
            return match inframe.copy(outframe) {
                Ok(()) => {
                    self.stats.add("passed-through", 1);
                    Ok(gst::FlowSuccess::Ok)
                }
                Err(e) => Err(common::post(&*self.obj(), "aistylize", &ElementError::Frame(e.to_string()))),
            };
        }
        let cuts = stylizer.scene_cuts();
        let result = common::frame_view(inframe).and_then(|src| {
            let mut dst = common::frame_view_mut(outframe)?;
            stylizer.process(&src, &mut dst, &params).map_err(ElementError::from)
        });
        // Unusable model output: the input as it came, and a history that restarts from the next frame.
        let result = match result {
            Err(e) if bad_output::is_bad_output(&e) && on_bad_output == AiOnBadOutput::Fallback => {
                self.bad_output.fell_back(self.obj().upcast_ref(), &self.stats, &e, "the input, unstyled");
                stylizer.reset();
                inframe.copy(outframe).map_err(|e| ElementError::Frame(e.to_string()))
            }
            other => other,
        };
        self.stats.add("scene-cuts", stylizer.scene_cuts().saturating_sub(cuts));
        drop(guard);
        match result {
            Ok(()) => {
                let took = started.elapsed();
                self.stats.frame(took.as_secs_f64() * 1e3);
                self.overload.ran(self.obj().upcast_ref(), took);
                Ok(gst::FlowSuccess::Ok)
            }
            Err(e) => Err(common::post(&*self.obj(), "aistylize", &e)),
        }
    }
}
