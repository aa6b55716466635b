//! The implementation of `aiupscale`: a `GstVideoFilter` whose output caps are its input caps
//! with width and height multiplied by the model's scale. The model is loaded (or taken from the
//! process-wide cache) when the element goes to PAUSED; tile parameters may change while
//! playing and apply from the next frame.
//!
//! Locks: `settings` (properties) and `stats` are taken only for a copy or an update; the scale
//! is an atomic; `runner` is the streaming thread's, held across the model run, and only
//! `start`/`stop` (when no buffer flows) take it besides. So caps queries and every property read
//! are answered while a frame is being upscaled.
//!
//! Overload (`on-late`, the latency query, QoS and LATENCY events) is [`Overload`]'s, all
//! atomics: the latency query answers the measured processing time without the runner lock.
//! A late frame's fallback is bicubic scaling, in its own lock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;

use gst_ai_runtime::backend::device::Precision;
use gst_ai_runtime::backend::model::{ElemType, ModelSource};
use gst_ai_runtime::image::bicubic::BicubicUpscaler;
use gst_ai_runtime::image::tiled::device::UpscaleEngine;
use gst_ai_runtime::{Device, builtin};

use crate::common::{
    self, AiOnBadOutput, BadOutputWarnings, ElementError, ModelProps, Overload, Stats, TileProps, bad_output, lock,
};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("aiupscale", gst::DebugColorFlags::empty(), Some("AI super-resolution")));

const DEFAULT_TILE_OVERLAP: u32 = 16;
const DEFAULT_MEMORY_BUDGET_MIB: u32 = 1024;
/// What a frame gets when the model's output is unusable (`on-bad-output=fallback`).
const FALLBACK: &str = "the input, bicubic-scaled";

#[derive(Debug, Clone)]
struct Settings {
    model: ModelProps,
    tiles: TileProps,
    on_bad_output: AiOnBadOutput,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: ModelProps::default(),
            tiles: TileProps { budget_mib: DEFAULT_MEMORY_BUDGET_MIB, ..TileProps::new(DEFAULT_TILE_OVERLAP) },
            on_bad_output: AiOnBadOutput::default(),
        }
    }
}

pub struct AiUpscale {
    settings: Mutex<Settings>,
    /// The model's scale, 0 until it is loaded: read by caps negotiation and the `scale` property.
    scale: AtomicU32,
    stats: Stats,
    bad_output: BadOutputWarnings,
    /// The streaming thread's: the runner and its buffers.
    runner: Mutex<Option<UpscaleEngine>>,
    /// The `on-late` policy, lateness and the measured latency.
    overload: Overload,
    /// The streaming thread's: the stand-in for late frames.
    bicubic: Mutex<BicubicUpscaler>,
}

impl Default for AiUpscale {
    fn default() -> Self {
        Self {
            settings: Mutex::default(),
            scale: AtomicU32::new(0),
            stats: Stats::new(
                "ai-upscale-stats",
                &["late-fallback", "late-dropped", bad_output::COUNTER, "tiled-frames"],
                &[],
            ),
            bad_output: BadOutputWarnings::default(),
            runner: Mutex::new(None),
            overload: Overload::default(),
            bicubic: Mutex::default(),
        }
    }
}

impl AiUpscale {
    fn scale(&self) -> Option<usize> {
        match self.scale.load(Ordering::SeqCst) {
            0 => None,
            k => Some(k as usize),
        }
    }
}

/// Maps one width or height caps value through `f` (exact ints) or a range rule; None when no
/// value survives (e.g. a width that is not a multiple of the scale going upstream).
fn map_dim(value: &glib::SendValue, scale: i32, up: bool) -> Option<glib::SendValue> {
    let one = |v: i32| -> Option<i32> {
        if up {
            v.checked_mul(scale)
        } else if v % scale == 0 {
            Some(v / scale)
        } else {
            None
        }
    };
    if let Ok(v) = value.get::<i32>() {
        return one(v).map(|v| v.to_send_value());
    }
    if let Ok(r) = value.get::<gst::IntRange<i32>>() {
        let (lo, hi) = (r.min(), r.max());
        return if up {
            // GStreamer wants both ends of a stepped range to be multiples of the step.
            let lo = lo.max(1).saturating_mul(scale);
            let hi = hi.saturating_mul(scale) / scale * scale;
            (lo <= hi).then(|| {
                if lo == hi { lo.to_send_value() } else { gst::IntRange::with_step(lo, hi, scale).to_send_value() }
            })
        } else {
            let lo = ((lo + scale - 1) / scale).max(1);
            let hi = hi / scale;
            (lo <= hi).then(|| if lo == hi { lo.to_send_value() } else { gst::IntRange::new(lo, hi).to_send_value() })
        };
    }
    if let Ok(list) = value.get::<gst::List>() {
        let vals: Vec<glib::SendValue> = list.iter().filter_map(|v| map_dim(v, scale, up)).collect();
        return (!vals.is_empty()).then(|| gst::List::new(vals).to_send_value());
    }
    None
}

#[glib::object_subclass]
impl ObjectSubclass for AiUpscale {
    const NAME: &'static str = "GstAiUpscale";
    type Type = super::AiUpscale;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for AiUpscale {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            [
                ModelProps::pspecs(
                    "upscale",
                    "Path of an ONNX super-resolution model (one 3-channel image input, NCHW or NHWC, \
                     float32 or float16; output an integer multiple of the input). A <model>.json beside \
                     it may set range (\"0..1\", \"-1..1\", \"0..255\"), channel_order (\"rgb\", \"bgr\"), \
                     layout, multiple and scale. Empty: the built-in learned x2 model; builtin:sr_x4: the built-in x4",
                    true,
                ),
                ModelProps::remote_pspecs(),
                TileProps::pspecs(
                    "Edge of the square tiles the frame is cut into, in input pixels, to bound memory on \
                     large frames (0 = the whole frame in one run while memory-budget allows it, tiles \
                     beyond: automatic). Models with a fixed input size are always tiled at that size",
                    "Overlap between neighbouring tiles in input pixels: each tile also sees this much of its \
                     neighbours as context, and overlaps are blended with feathered weights, so no seam \
                     shows (capped below half a tile)",
                    DEFAULT_TILE_OVERLAP,
                ),
                vec![
                TileProps::budget_pspec(
                    "With tile-size=0: the memory one model run may take, in MiB (0 = no limit). A frame whose \
                     run is estimated to fit (f32 input and output tensors, the output scale^2 times larger, \
                     times 5 for the model's own intermediate tensors) runs whole; a larger one is cut into \
                     the largest square tiles that fit, blended seamlessly as with tile-size. The blended \
                     output frame itself (16 bytes per output pixel) comes on top",
                    DEFAULT_MEMORY_BUDGET_MIB,
                ),
                bad_output::pspec(FALLBACK),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb(
                        "frames output since the element started, late-fallback (of those, frames scaled by \
                         bicubic interpolation because the model would have been late), late-dropped (frames \
                         dropped as late), non-finite (frames whose model output held NaN or Inf, given the input \
                         scaled by bicubic interpolation), tiled-frames (frames cut into tiles), and the model's \
                         processing time per frame over the last 512 frames (mean-ms, p95-ms) with the frame rate \
                         it allows (fps)",
                    )
                    .read_only()
                    .build(),
                glib::ParamSpecUInt::builder("scale")
                    .nick("Scale")
                    .blurb("The model's scale factor (output size / input size); 0 until the model is loaded in PAUSED")
                    .minimum(0)
                    .maximum(16)
                    .default_value(0)
                    .read_only()
                    .build(),
                Overload::pspec("the input scaled by bicubic interpolation"),
                ],
            ]
            .concat()
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let name = pspec.name();
        if name == "on-late" {
            self.overload.set_policy(value.get().expect("type checked upstream"));
            return;
        }
        let mut s = lock(&self.settings);
        if name == bad_output::PROPERTY {
            s.on_bad_output = value.get().expect("type checked upstream");
            return;
        }
        let handled = s.model.set(name, value, |w| gst::warning!(CAT, imp = self, "{w}")) || s.tiles.set(name, value);
        assert!(handled, "unknown property {name}");
        gst::debug!(CAT, imp = self, "{name} set to {value:?}");
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "stats" => self.stats.structure().to_value(),
            "scale" => (self.scale().unwrap_or(0) as u32).to_value(),
            "on-late" => self.overload.policy().to_value(),
            bad_output::PROPERTY => lock(&self.settings).on_bad_output.to_value(),
            name => {
                let s = lock(&self.settings);
                s.model
                    .get(name)
                    .or_else(|| s.tiles.get(name))
                    .unwrap_or_else(|| unreachable!("unknown property {name}"))
            }
        }
    }
}

impl GstObjectImpl for AiUpscale {}

impl ElementImpl for AiUpscale {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "AI super-resolution",
                "Filter/Effect/Video/Scaler",
                "Upscales video by an integer factor with a super-resolution model (built-in learned x2, or \
                 any ONNX model of the family), tiled for any frame size",
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

impl BaseTransformImpl for AiUpscale {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let (device, why) = settings.model.resolve_device_cuda_capable()?;
        gst::info!(CAT, imp = self, "running on {device} ({why})");
        let precision: Precision = settings.model.precision();
        let source = ModelSource::from_property(&settings.model.model, builtin::SR_X2)
            .map(|s| s.with_remote_options(settings.model.remote_options()))
            .map_err(|e| common::start_error(&e))?;
        let name = source.display_name();
        // The shared pool's session is on the CPU (contract, CPU path); on CUDA the engine opens
        // the model's CUDA session beside it.
        let model = common::load_model(self.obj().upcast_ref(), &source, Device::Cpu, precision)?;
        let contract = gst_ai_runtime::tasks::sr::detect(&model).map_err(|e| common::start_error(&e))?;
        match (precision, contract.input_elem) {
            (Precision::Fp16, ElemType::F32) => {
                return Err(gst::error_msg!(
                    gst::LibraryError::Settings,
                    [
                        "precision=fp16 for the float32 model {name} needs a float16 model on the CUDA device (the model \
                      is not converted); on {device} use auto or fp32"
                    ]
                ));
            }
            (Precision::Fp32, ElemType::F16) => {
                return Err(gst::error_msg!(
                    gst::LibraryError::Settings,
                    ["the model {name} takes float16 input; precision=fp32 cannot be honoured (use auto)"]
                ));
            }
            _ => {}
        }
        if contract.static_size.is_some() && settings.tiles.size != 0 {
            gst::warning!(
                CAT,
                imp = self,
                "model {name} has a fixed input size {:?}: tile-size is ignored",
                contract.static_size
            );
        }
        gst::info!(CAT, imp = self, "model {name}: {contract:?}");
        if contract.scale == 1 {
            gst::info!(CAT, imp = self, "model {name} is a same-size restoration model (its manifest says scale 1)");
        }
        self.scale.store(contract.scale as u32, Ordering::SeqCst);
        let (engine, fell_back) =
            settings.model.open_on(device, |d| UpscaleEngine::open(model.clone(), contract.clone(), d))?;
        if let Some(why) = fell_back {
            gst::warning!(CAT, imp = self, "{why}");
        }
        gst::info!(CAT, imp = self, "frames run on {}", engine.device());
        *lock(&self.runner) = Some(engine);
        self.stats.reset();
        self.overload.reset();
        self.bad_output.reset();
        self.obj().notify("scale");
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.runner) = None;
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Eos(_) => self.stats.post(&*self.obj()),
            gst::EventView::FlushStop(_) => self.overload.flushed(),
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
            gst::debug!(
                CAT,
                imp = self,
                "latency query answered {:?} (ours {})",
                q.result(),
                self.overload.latency.latency()
            );
            return true;
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let up = direction == gst::PadDirection::Sink;
        let mut out = gst::Caps::new_empty();
        {
            let out = out.get_mut().expect("new caps are writable");
            let scale = self.scale();
            for (s, features) in caps.iter_with_features() {
                let mut s = s.to_owned();
                match scale {
                    Some(k) => {
                        let k = k as i32;
                        let mut ok = true;
                        for field in ["width", "height"] {
                            if let Some(v) = s.value(field).ok().cloned() {
                                match map_dim(&v, k, up) {
                                    Some(nv) => s.set_value(field, nv),
                                    None => ok = false,
                                }
                            }
                        }
                        if !ok {
                            continue;
                        }
                    }
                    // Before the model is loaded any size may map to any size.
                    None => {
                        s.set("width", gst::IntRange::new(1, i32::MAX));
                        s.set("height", gst::IntRange::new(1, i32::MAX));
                    }
                }
                out.append_structure_full(s, Some(features.to_owned()));
            }
        }
        gst::debug!(CAT, imp = self, "transformed {caps:?} ({direction:?}) to {out:?}");
        Some(match filter {
            Some(f) => f.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        })
    }
}

impl VideoFilterImpl for AiUpscale {
    fn set_info(
        &self,
        _incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        if let Err(e) = common::require_progressive(in_info) {
            let _ = common::post(&*self.obj(), "aiupscale", &e);
            return Err(gst::loggable_error!(CAT, "{e}"));
        }
        let k = self.scale().ok_or_else(|| gst::loggable_error!(CAT, "caps set before the model was loaded"))? as u32;
        if in_info.format() != out_info.format()
            || out_info.width() != in_info.width() * k
            || out_info.height() != in_info.height() * k
        {
            return Err(gst::loggable_error!(
                CAT,
                "output caps {}x{} {:?} are not {k}x the input {}x{} {:?}",
                out_info.width(),
                out_info.height(),
                out_info.format(),
                in_info.width(),
                in_info.height(),
                in_info.format()
            ));
        }
        gst::debug!(
            CAT,
            imp = self,
            "negotiated {}x{} -> {}x{} {:?}",
            in_info.width(),
            in_info.height(),
            out_info.width(),
            out_info.height(),
            in_info.format()
        );
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        if let Some(flow) =
            self.overload.answer_late(obj.upcast_ref(), &self.stats, "aiupscale", inframe, outframe, |src, dst| {
                lock(&self.bicubic).process(src, dst).map_err(ElementError::from)
            })
        {
            return flow;
        }
        let (tiles, on_bad_output) = {
            let s = lock(&self.settings);
            (s.tiles, s.on_bad_output)
        };
        let mut runner = lock(&self.runner);
        let Some(runner) = runner.as_mut() else {
            return Err(gst::FlowError::NotNegotiated);
        };
        runner.runner_mut().set_memory_budget(tiles.budget_bytes());
        let started = Instant::now();
        let result = common::frame_view(inframe).and_then(|src| {
            let mut dst = common::frame_view_mut(outframe)?;
            match runner.process(&src, &mut dst, tiles.params()).map_err(ElementError::from) {
                Err(e) if bad_output::is_bad_output(&e) && on_bad_output == AiOnBadOutput::Fallback => {
                    self.bad_output.fell_back(obj.upcast_ref(), &self.stats, &e, FALLBACK);
                    lock(&self.bicubic).process(&src, &mut dst).map_err(ElementError::from)
                }
                other => other,
            }
        });
        match result {
            Ok(()) => {
                if runner.runner().last_tile_count() > 1 {
                    self.stats.add("tiled-frames", 1);
                }
                let took = started.elapsed();
                self.stats.frame(took.as_secs_f64() * 1e3);
                self.overload.ran(obj.upcast_ref(), took);
                Ok(gst::FlowSuccess::Ok)
            }
            Err(e) => Err(common::post(&*self.obj(), "aiupscale", &e)),
        }
    }
}
