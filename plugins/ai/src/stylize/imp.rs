//! The implementation of `aistylize`: a `GstVideoFilter` with the same caps on both sides. The
//! model is loaded (or taken from the process-wide cache) when the element goes to PAUSED; the
//! blend properties may change while playing and apply from the next frame. Flushes, new
//! segments (seeks) and new caps drop the temporal history.
//!
//! Locks: `settings` and `stats` are taken only for a copy or an update, never across a model
//! run; `stylizer` is the streaming thread's (held across the run; sink events that reset the
//! history arrive on the streaming thread too, and `start`/`stop` run when no buffer flows). So
//! every property read, `stats` included, is answered while a frame is being stylized.

use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;

use gst_ai_runtime::backend::model::ModelSource;
use gst_ai_runtime::tasks::style::{self, StyleContract, StyleParams, Stylizer};
use gst_ai_runtime::{Precision, builtin};

use super::{Fit, Style};
use crate::common::{self, ElementError, ModelProps, Stats, TileProps, lock};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("aistylize", gst::DebugColorFlags::empty(), Some("AI style transfer")));

const DEFAULT_STYLE: Style = Style::Cartoon;
const DEFAULT_STRENGTH: f64 = 1.0;
const DEFAULT_TEMPORAL: f64 = 0.5;
const DEFAULT_PRESERVE_COLORS: bool = false;
const DEFAULT_FIT: Fit = Fit::Resize;
const DEFAULT_TILE_OVERLAP: u32 = 32;
const DEFAULT_SCENE_THRESHOLD: f64 = 0.5;

#[derive(Debug, Clone)]
struct Settings {
    model: ModelProps,
    style: Style,
    strength: f64,
    temporal: f64,
    preserve_colors: bool,
    fit: Fit,
    tiles: TileProps,
    scene_threshold: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: ModelProps::default(),
            style: DEFAULT_STYLE,
            strength: DEFAULT_STRENGTH,
            temporal: DEFAULT_TEMPORAL,
            preserve_colors: DEFAULT_PRESERVE_COLORS,
            fit: DEFAULT_FIT,
            tiles: TileProps::new(DEFAULT_TILE_OVERLAP),
            scene_threshold: DEFAULT_SCENE_THRESHOLD,
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

pub struct AiStylize {
    settings: Mutex<Settings>,
    stats: Stats,
    /// The streaming thread's: the stylizer and its temporal history.
    stylizer: Mutex<Option<Stylizer>>,
}

impl Default for AiStylize {
    fn default() -> Self {
        Self {
            settings: Mutex::default(),
            stats: Stats::new("ai-stylize-stats", &["passed-through", "scene-cuts"], &[]),
            stylizer: Mutex::new(None),
        }
    }
}

impl AiStylize {
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
            let mut v = ModelProps::pspecs(
                "stylize",
                "Path of an ONNX style model: fast-neural-style (NCHW RGB 0..255, static 224x224 or \
                 dynamic) or AnimeGANv2 (NHWC or NCHW, -1..1, ends in tanh), told apart from the graph; a \
                 <model>.json beside it may set range, channel_order, layout and multiple. Empty: the \
                 built-in style chosen by the style property",
                false,
            );
            v.extend(TileProps::pspecs(
                "Edge of the square tiles a frame is cut into for models of any input size, to bound \
                 memory (0 = the whole frame in one run)",
                "Overlap between neighbouring tiles in pixels, blended with feathered weights",
                DEFAULT_TILE_OVERLAP,
            ));
            v.extend([
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
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "frames stylized, frames passed through (strength 0), scene cuts, and the processing \
                         time per frame over the last 512 frames (mean-ms, p95-ms) with the frame rate it allows \
                         (fps)",
                    )
                    .read_only()
                    .build(),
            ]);
            v
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let name = pspec.name();
        if !(s.model.set(name, value, |w| gst::warning!(CAT, imp = self, "{w}")) || s.tiles.set(name, value)) {
            match name {
                "style" => s.style = value.get().expect("type checked upstream"),
                "strength" => s.strength = value.get().expect("type checked upstream"),
                "temporal-consistency" => s.temporal = value.get().expect("type checked upstream"),
                "preserve-colors" => s.preserve_colors = value.get().expect("type checked upstream"),
                "fit" => s.fit = value.get().expect("type checked upstream"),
                "scene-threshold" => s.scene_threshold = value.get().expect("type checked upstream"),
                other => unreachable!("unknown property {other}"),
            }
        }
        gst::debug!(CAT, imp = self, "{name} set to {value:?}");
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            return self.stats.structure().to_value();
        }
        let s = lock(&self.settings);
        match pspec.name() {
            "style" => s.style.to_value(),
            "strength" => s.strength.to_value(),
            "temporal-consistency" => s.temporal.to_value(),
            "preserve-colors" => s.preserve_colors.to_value(),
            "fit" => s.fit.to_value(),
            "scene-threshold" => s.scene_threshold.to_value(),
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
        let (device, why) = settings.model.resolve_device()?;
        gst::info!(CAT, imp = self, "running on {device} ({why})");
        let builtin = match settings.style {
            Style::Pencil => builtin::STYLE_PENCIL,
            Style::Cartoon => builtin::STYLE_CARTOON,
            Style::Oil => builtin::STYLE_OIL,
        };
        if !settings.model.model.trim().is_empty() && settings.style != DEFAULT_STYLE {
            gst::warning!(CAT, imp = self, "a model is given: style={:?} is ignored", settings.style);
        }
        let source = ModelSource::from_property(&settings.model.model, builtin).map_err(|e| common::start_error(&e))?;
        let model = common::load_model(self.obj().upcast_ref(), &source, device, Precision::Auto)?;
        let contract = StyleContract::detect(&model).map_err(|e| common::start_error(&e))?;
        gst::info!(CAT, imp = self, "model {}: {contract:?}", model.name);
        *lock(&self.stylizer) = Some(Stylizer::new(model, contract));
        self.stats.reset();
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.stylizer) = None;
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStop(_) => self.reset_history("flush"),
            gst::EventView::Segment(_) => self.reset_history("new segment"),
            gst::EventView::Eos(_) => self.stats.post(&*self.obj()),
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
        let mut stylizer = lock(&self.stylizer);
        let Some(stylizer) = stylizer.as_mut() else {
            return Err(gst::FlowError::NotNegotiated);
        };
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
        let cuts = stylizer.scene_cuts;
        let result = common::frame_view(inframe).and_then(|src| {
            let mut dst = common::frame_view_mut(outframe)?;
            stylizer.process(&src, &mut dst, &params).map_err(ElementError::from)
        });
        self.stats.add("scene-cuts", stylizer.scene_cuts.saturating_sub(cuts));
        match result {
            Ok(()) => {
                self.stats.frame(started.elapsed().as_secs_f64() * 1e3);
                Ok(gst::FlowSuccess::Ok)
            }
            Err(e) => Err(common::post(&*self.obj(), "aistylize", &e)),
        }
    }
}
