//! Properties several elements share, with one definition and one validation: the model, the
//! device and the precision ([`ModelProps`]), and the tile size and overlap ([`TileProps`]).
//! Each element keeps them inside its own settings and hands property calls for these names to
//! `set`/`get` here.

use gst::glib;
use gst::prelude::*;
use gst_ai_runtime::backend::{device, remote};
use gst_ai_runtime::{Device, DeviceRequest, Precision, TileParams};

use super::AiPrecision;
use super::error::runtime_message;

pub const DEFAULT_DEVICE: &str = "auto";

/// A model property's blurb followed by what `zoo:NAME` is and the zoo models that do `job`.
pub fn with_zoo(job: &str, blurb: &str) -> String {
    // aisrc's model is a folder of networks: served under a common prefix (docs/remote.md).
    let remote = if job == "text-to-video" {
        ". kserve://host[:port]/PREFIX[?folder=PATH] runs its networks on a KServe v2 / Triton inference \
         server as PREFIX-text-encoder, PREFIX-unet, PREFIX-vae-decoder (and PREFIX-vae-encoder for \
         image-to-video), with the tokenizer and scheduler of the local folder PATH (without it: the \
         built-in model's); see remote-timeout, remote-retries"
    } else {
        ". kserve://host[:port]/model[/version] runs it on a KServe v2 / Triton inference server \
         (HTTP/REST port, 8000 by default; see remote-timeout, remote-retries)"
    };
    format!(
        "{}. zoo:NAME names a model of the zoo (GST_AI_ZOO_PATH, then the set-up's .deps/zoo): {}{remote}",
        blurb.trim_end_matches('.'),
        gst_ai_runtime::backend::zoo::blurb_for(job)
    )
}
pub const MAX_TILE_SIZE: u32 = 16384;
pub const MAX_TILE_OVERLAP: u32 = 512;

/// `model`, `device` and (where the element has it) `precision`.
#[derive(Clone, Debug)]
pub struct ModelProps {
    pub model: String,
    pub device: String,
    pub precision: AiPrecision,
    /// `remote-timeout` (ms) and `remote-retries`, for a model on an inference server.
    pub remote_timeout_ms: u32,
    pub remote_retries: u32,
}

impl Default for ModelProps {
    fn default() -> Self {
        Self {
            model: String::new(),
            device: DEFAULT_DEVICE.into(),
            precision: AiPrecision::Auto,
            remote_timeout_ms: remote::DEFAULT_TIMEOUT_MS,
            remote_retries: remote::DEFAULT_RETRIES,
        }
    }
}

impl ModelProps {
    /// The `model` property with the element's own blurb (followed by the `zoo:` names that do
    /// `job`, found when the plugin registers), `device`, and `precision` if asked for.
    pub fn pspecs(job: &str, model_blurb: &str, precision: bool) -> Vec<glib::ParamSpec> {
        let mut v = vec![
            glib::ParamSpecString::builder("model")
                .nick("Model")
                .blurb(&with_zoo(job, model_blurb))
                .default_value(Some(""))
                .mutable_ready()
                .build(),
            device_pspec(),
        ];
        if precision {
            v.push(
                glib::ParamSpecEnum::builder_with_default("precision", AiPrecision::Auto)
                    .nick("Precision")
                    .blurb(
                        "Numeric precision of inference: auto uses the model's own element type; fp16 for a \
                         float32 model needs the CUDA device",
                    )
                    .mutable_ready()
                    .build(),
            );
        }
        v
    }

    /// `remote-timeout` and `remote-retries`, for the elements whose model may be served
    /// (`kserve://host:port/model[/version]`).
    pub fn remote_pspecs() -> Vec<glib::ParamSpec> {
        vec![
            glib::ParamSpecUInt::builder("remote-timeout")
                .nick("Remote timeout")
                .blurb(
                    "For a model on an inference server (model=kserve://host:port/model[/version], the \
                     KServe v2 HTTP/REST port): the deadline of one request in milliseconds, connecting \
                     included (at most 120000: stopping the pipeline may wait for one request)",
                )
                .minimum(1)
                .maximum(120_000)
                .default_value(remote::DEFAULT_TIMEOUT_MS)
                .mutable_ready()
                .build(),
            glib::ParamSpecUInt::builder("remote-retries")
                .nick("Remote retries")
                .blurb(
                    "For a model on an inference server: how many more times a request that failed for \
                     the connection, a timeout or an unavailable server (HTTP 502-504) is sent, after \
                     pauses of 50 ms doubling up to 1 s, before the element posts an error",
                )
                .minimum(0)
                .maximum(100)
                .default_value(remote::DEFAULT_RETRIES)
                .mutable_ready()
                .build(),
        ]
    }

    /// The request options of a served model.
    pub fn remote_options(&self) -> remote::RemoteOptions {
        remote::RemoteOptions {
            timeout: std::time::Duration::from_millis(self.remote_timeout_ms.into()),
            retries: self.remote_retries,
        }
    }

    /// Sets `name` if it is one of these properties (true), else leaves it to the caller (false).
    /// An invalid device is kept, so that reading it back gives what was set, and reported through
    /// `warn` now; the element refuses to start with it.
    pub fn set(&mut self, name: &str, value: &glib::Value, warn: impl FnOnce(&str)) -> bool {
        match name {
            "model" => self.model = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default(),
            "device" => {
                let d = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default();
                if let Err(e) = d.parse::<DeviceRequest>() {
                    warn(&format!("{e}; the element will refuse to start"));
                }
                self.device = d;
            }
            "precision" => self.precision = value.get().expect("type checked upstream"),
            "remote-timeout" => self.remote_timeout_ms = value.get().expect("type checked upstream"),
            "remote-retries" => self.remote_retries = value.get().expect("type checked upstream"),
            _ => return false,
        }
        true
    }

    pub fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "model" => self.model.to_value(),
            "device" => self.device.to_value(),
            "precision" => self.precision.to_value(),
            "remote-timeout" => self.remote_timeout_ms.to_value(),
            "remote-retries" => self.remote_retries.to_value(),
            _ => return None,
        })
    }

    /// The device to run on and why it was chosen; an error (the message to post) when the value
    /// is invalid or names a device that is not usable.
    pub fn resolve_device(&self) -> Result<(Device, String), gst::ErrorMessage> {
        resolve_device(&self.device)
    }

    /// `resolve_device` for an element with a CUDA path (aiupscale, aistylize): `auto` and `cuda`
    /// give CUDA when the device, our kernels and ONNX Runtime's CUDA provider are all usable.
    pub fn resolve_device_cuda_capable(&self) -> Result<(Device, String), gst::ErrorMessage> {
        let request: DeviceRequest = self.device.parse().map_err(|e| runtime_message(&e))?;
        device::resolve_cuda_capable(request).map_err(|e| runtime_message(&e))
    }

    pub fn precision(&self) -> Precision {
        self.precision.into()
    }

    /// Whether `device` is `auto`: a device it chose may be given up for the CPU.
    pub fn device_is_auto(&self) -> bool {
        self.device.parse::<DeviceRequest>().is_ok_and(|r| r == DeviceRequest::Auto)
    }

    /// Opens an element's engine with `open` on `device` (from `resolve_device_*`). When `auto`
    /// chose CUDA and opening there fails (what the resolution cannot see: a driver too old for
    /// the kernels' PTX, a missing cuDNN for ONNX Runtime's CUDA provider...), opens it on the
    /// CPU instead and returns why, for the element to warn: `auto` never fails where the CPU
    /// works. An explicit `cuda` fails with the error.
    pub fn open_on<T>(
        &self,
        device: Device,
        open: impl Fn(Device) -> gst_ai_runtime::Result<T>,
    ) -> Result<(T, Option<String>), gst::ErrorMessage> {
        let auto = self.device_is_auto();
        match open(device) {
            Ok(engine) => Ok((engine, None)),
            Err(e) if auto && device != Device::Cpu => {
                let engine = open(Device::Cpu).map_err(|e| super::start_error(&e))?;
                Ok((
                    engine,
                    Some(format!("{device} was chosen by device=auto but cannot run this: {e}; running on the CPU")),
                ))
            }
            Err(e) => Err(super::start_error(&e)),
        }
    }
}

/// The `device` property every model-running element has.
pub fn device_pspec() -> glib::ParamSpec {
    glib::ParamSpecString::builder("device")
        .nick("Device")
        .blurb(
            "Where the model runs: auto (CUDA when usable, else CPU; the choice is logged), cpu, cuda or cuda:N \
             (an error at start when CUDA is not usable, never a silent fallback). aiupscale and aistylize run on \
             CUDA, aiinterpolate its built-in flow (a RIFE model stays on the CPU); the other elements run on the \
             CPU only for now",
        )
        .default_value(Some(DEFAULT_DEVICE))
        .mutable_ready()
        .build()
}

/// Resolves a `device` property value to a device and the reason for the choice; the error is
/// the message an element posts when it cannot start.
pub fn resolve_device(device: &str) -> Result<(Device, String), gst::ErrorMessage> {
    let request: DeviceRequest = device.parse().map_err(|e| runtime_message(&e))?;
    device::resolve(request).map_err(|e| runtime_message(&e))
}

/// `tile-size` and `tile-overlap`, which may change while playing.
#[derive(Clone, Copy, Debug)]
pub struct TileProps {
    pub size: u32,
    pub overlap: u32,
    /// `memory-budget` in MiB, for the elements that have it (0 = no limit).
    pub budget_mib: u32,
}

impl TileProps {
    pub fn new(overlap: u32) -> Self {
        Self { size: 0, overlap, budget_mib: 0 }
    }

    /// `memory-budget`: with `tile-size=0`, the whole frame runs at once while its estimated
    /// memory fits, and is tiled beyond.
    pub fn budget_pspec(blurb: &str, default_mib: u32) -> glib::ParamSpec {
        glib::ParamSpecUInt::builder("memory-budget")
            .nick("Memory budget")
            .blurb(blurb)
            .minimum(0)
            .maximum(1 << 20)
            .default_value(default_mib)
            .mutable_playing()
            .build()
    }

    /// The memory budget in bytes (0 = no limit).
    pub fn budget_bytes(&self) -> usize {
        self.budget_mib as usize * (1 << 20)
    }

    pub fn pspecs(size_blurb: &str, overlap_blurb: &str, default_overlap: u32) -> Vec<glib::ParamSpec> {
        vec![
            glib::ParamSpecUInt::builder("tile-size")
                .nick("Tile size")
                .blurb(size_blurb)
                .minimum(0)
                .maximum(MAX_TILE_SIZE)
                .default_value(0)
                .mutable_playing()
                .build(),
            glib::ParamSpecUInt::builder("tile-overlap")
                .nick("Tile overlap")
                .blurb(overlap_blurb)
                .minimum(0)
                .maximum(MAX_TILE_OVERLAP)
                .default_value(default_overlap)
                .mutable_playing()
                .build(),
        ]
    }

    pub fn set(&mut self, name: &str, value: &glib::Value) -> bool {
        match name {
            "tile-size" => self.size = value.get().expect("type checked upstream"),
            "tile-overlap" => self.overlap = value.get().expect("type checked upstream"),
            "memory-budget" => self.budget_mib = value.get().expect("type checked upstream"),
            _ => return false,
        }
        true
    }

    pub fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "tile-size" => self.size.to_value(),
            "tile-overlap" => self.overlap.to_value(),
            "memory-budget" => self.budget_mib.to_value(),
            _ => return None,
        })
    }

    pub fn params(&self) -> TileParams {
        TileParams { size: self.size as usize, overlap: self.overlap as usize }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that opens on the CPU only, as on a GPU whose driver cannot load our PTX.
    fn cpu_only(d: Device) -> gst_ai_runtime::Result<&'static str> {
        match d {
            Device::Cpu => Ok("cpu engine"),
            Device::Cuda { .. } => Err(gst_ai_runtime::Error::Unsupported("the PTX is too new for this driver".into())),
        }
    }

    #[test]
    fn a_device_auto_chose_falls_back_to_the_cpu_an_explicit_one_fails() {
        let _ = gst::init();
        let gpu = Device::Cuda { ordinal: 0 };
        let auto = ModelProps::default();
        assert!(auto.device_is_auto());
        let (engine, why) = auto.open_on(gpu, cpu_only).unwrap();
        assert_eq!(engine, "cpu engine");
        let why = why.expect("the fallback is reported");
        assert!(why.contains("cuda:0") && why.contains("PTX") && why.contains("CPU"), "{why}");
        // Opening where it works reports nothing.
        assert_eq!(auto.open_on(Device::Cpu, cpu_only).unwrap(), ("cpu engine", None));
        let explicit = ModelProps { device: "cuda:0".into(), ..ModelProps::default() };
        assert!(!explicit.device_is_auto());
        let e = explicit.open_on(gpu, cpu_only).unwrap_err();
        assert!(e.to_string().contains("PTX"), "{e}");
    }
}
