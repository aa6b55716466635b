//! The implementation of `aistylize`: a `GstVideoFilter` with the same caps on both sides. The
//! model is loaded (or taken from the process-wide cache) when the element goes to PAUSED; the
//! blend properties may change while playing and apply from the next frame. Flushes, new
//! segments (seeks) and new caps drop the temporal history.

use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;

use gst_ai_runtime::backend::model::ModelSource;
use gst_ai_runtime::tasks::style::{self, StyleContract, StyleParams, Stylizer};
use gst_ai_runtime::{DeviceRequest, Precision, TileParams, builtin};

use super::{Fit, Style};
use crate::common::{self, lock};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("aistylize", gst::DebugColorFlags::empty(), Some("AI style transfer")));

const DEFAULT_MODEL: &str = "";
const DEFAULT_STYLE: Style = Style::Cartoon;
const DEFAULT_STRENGTH: f64 = 1.0;
const DEFAULT_TEMPORAL: f64 = 0.5;
const DEFAULT_PRESERVE_COLORS: bool = false;
const DEFAULT_FIT: Fit = Fit::Resize;
const DEFAULT_TILE_SIZE: u32 = 0;
const DEFAULT_TILE_OVERLAP: u32 = 32;
const DEFAULT_SCENE_THRESHOLD: f64 = 0.5;
const DEFAULT_DEVICE: &str = "auto";
const MAX_TILE_SIZE: u32 = 16384;
const MAX_TILE_OVERLAP: u32 = 512;

#[derive(Debug, Clone)]
struct Settings {
    model: String,
    style: Style,
    strength: f64,
    temporal: f64,
    preserve_colors: bool,
    fit: Fit,
    tile_size: u32,
    tile_overlap: u32,
    scene_threshold: f64,
    device: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            style: DEFAULT_STYLE,
            strength: DEFAULT_STRENGTH,
            temporal: DEFAULT_TEMPORAL,
            preserve_colors: DEFAULT_PRESERVE_COLORS,
            fit: DEFAULT_FIT,
            tile_size: DEFAULT_TILE_SIZE,
            tile_overlap: DEFAULT_TILE_OVERLAP,
            scene_threshold: DEFAULT_SCENE_THRESHOLD,
            device: DEFAULT_DEVICE.into(),
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
            tiles: TileParams { size: self.tile_size as usize, overlap: self.tile_overlap as usize },
            scene_threshold: self.scene_threshold as f32,
        }
    }
}

/// What the `stats` property reports.
#[derive(Default)]
struct Stats {
    frames: u64,
    passed_through: u64,
    times: common::Timings,
}

#[derive(Default)]
pub struct AiStylize {
    settings: Mutex<Settings>,
    state: Mutex<Option<Stylizer>>,
    stats: Mutex<Stats>,
}

impl AiStylize {
    fn reset_history(&self, why: &str) {
        if let Some(s) = lock(&self.state).as_mut() {
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
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb(
                        "Path of an ONNX style model: fast-neural-style (NCHW RGB 0..255, static 224x224 or \
                         dynamic) or AnimeGANv2 (NHWC or NCHW, -1..1, ends in tanh), told apart from the graph; a \
                         <model>.json beside it may set range, channel_order, layout and multiple. Empty: the \
                         built-in style chosen by the style property",
                    )
                    .default_value(Some(DEFAULT_MODEL))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("style", DEFAULT_STYLE)
                    .nick("Style")
                    .blurb("The built-in style used when no model is given")
                    .mutable_ready()
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
                glib::ParamSpecUInt::builder("tile-size")
                    .nick("Tile size")
                    .blurb(
                        "Edge of the square tiles a frame is cut into for models of any input size, to bound \
                         memory (0 = the whole frame in one run)",
                    )
                    .minimum(0)
                    .maximum(MAX_TILE_SIZE)
                    .default_value(DEFAULT_TILE_SIZE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("tile-overlap")
                    .nick("Tile overlap")
                    .blurb("Overlap between neighbouring tiles in pixels, blended with feathered weights")
                    .minimum(0)
                    .maximum(MAX_TILE_OVERLAP)
                    .default_value(DEFAULT_TILE_OVERLAP)
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
                common::device_pspec(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "frames stylized, frames passed through (strength 0), scene cuts, and the processing \
                         time per frame over the last 512 frames (mean-ms, p95-ms) with the frame rate it allows \
                         (fps)",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "model" => s.model = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default(),
            "style" => s.style = value.get().expect("type checked upstream"),
            "strength" => s.strength = value.get().expect("type checked upstream"),
            "temporal-consistency" => s.temporal = value.get().expect("type checked upstream"),
            "preserve-colors" => s.preserve_colors = value.get().expect("type checked upstream"),
            "fit" => s.fit = value.get().expect("type checked upstream"),
            "tile-size" => s.tile_size = value.get().expect("type checked upstream"),
            "tile-overlap" => s.tile_overlap = value.get().expect("type checked upstream"),
            "scene-threshold" => s.scene_threshold = value.get().expect("type checked upstream"),
            "device" => {
                let d = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default();
                if let Err(e) = d.parse::<DeviceRequest>() {
                    gst::warning!(CAT, imp = self, "{e}; the element will refuse to start");
                }
                s.device = d;
            }
            other => unreachable!("unknown property {other}"),
        }
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "model" => s.model.to_value(),
            "style" => s.style.to_value(),
            "strength" => s.strength.to_value(),
            "temporal-consistency" => s.temporal.to_value(),
            "preserve-colors" => s.preserve_colors.to_value(),
            "fit" => s.fit.to_value(),
            "tile-size" => s.tile_size.to_value(),
            "tile-overlap" => s.tile_overlap.to_value(),
            "scene-threshold" => s.scene_threshold.to_value(),
            "device" => s.device.to_value(),
            "stats" => {
                drop(s);
                let cuts = lock(&self.state).as_ref().map_or(0, |st| st.scene_cuts);
                let st = lock(&self.stats);
                st.times
                    .fields(
                        gst::Structure::builder("ai-stylize-stats")
                            .field("frames", st.frames)
                            .field("passed-through", st.passed_through)
                            .field("scene-cuts", cuts),
                    )
                    .build()
                    .to_value()
            }
            other => unreachable!("unknown property {other}"),
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
                "Restyles video with a style-transfer model (built-in learned pencil, cartoon and oil styles, or \
                 fast-neural-style and AnimeGANv2 ONNX models), temporally consistent along the optical flow",
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
        let (device, why) = common::resolve_device(&settings.device)?;
        gst::info!(CAT, imp = self, "running on {device} ({why})");
        let builtin = match settings.style {
            Style::Pencil => builtin::STYLE_PENCIL,
            Style::Cartoon => builtin::STYLE_CARTOON,
            Style::Oil => builtin::STYLE_OIL,
        };
        if !settings.model.trim().is_empty() && settings.style != DEFAULT_STYLE {
            gst::warning!(CAT, imp = self, "a model is given: style={:?} is ignored", settings.style);
        }
        let source = ModelSource::from_property(&settings.model, builtin).map_err(|e| common::start_error(&e))?;
        let model = common::load_model(self.obj().upcast_ref(), &source, device, Precision::Auto)?;
        let contract = StyleContract::detect(&model).map_err(|e| common::start_error(&e))?;
        gst::info!(CAT, imp = self, "model {}: {contract:?}", model.name);
        *lock(&self.state) = Some(Stylizer::new(model, contract));
        *lock(&self.stats) = Stats::default();
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = None;
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStop(_) => self.reset_history("flush"),
            gst::EventView::Segment(_) => self.reset_history("new segment"),
            _ => {}
        }
        self.parent_sink_event(event)
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
        let params = lock(&self.settings).params();
        let mut state = lock(&self.state);
        let Some(stylizer) = state.as_mut() else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let started = Instant::now();
        if params.strength <= 0.0 {
            // Exactly the input, whatever the format; the style history no longer follows the stream.
            stylizer.reset();
            return match inframe.copy(outframe) {
                Ok(()) => {
                    lock(&self.stats).passed_through += 1;
                    Ok(gst::FlowSuccess::Ok)
                }
                Err(e) => {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ["aistylize: cannot copy a frame: {e}"]);
                    Err(gst::FlowError::Error)
                }
            };
        }
        let result = common::frame_view(inframe).and_then(|src| {
            let mut dst = common::frame_view_mut(outframe)?;
            stylizer.process(&src, &mut dst, &params).map_err(|e| e.to_string())
        });
        match result {
            Ok(()) => {
                let mut stats = lock(&self.stats);
                stats.frames += 1;
                stats.times.record(started.elapsed().as_secs_f64() * 1e3);
                Ok(gst::FlowSuccess::Ok)
            }
            Err(e) => {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["aistylize: {e}"]);
                Err(gst::FlowError::Error)
            }
        }
    }
}
