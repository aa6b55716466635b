//! One engine per job, each with no GStreamer types: super-resolution ([`sr`]), style transfer
//! with temporal consistency ([`style`]), frame-rate conversion ([`interpolate`], by optical
//! flow or RIFE models ([`rife`]), the flow on the CPU or a device ([`flow_engine`])), lip sync ([`lipsync`]) and text-to-video generation
//! ([`t2v`], with its scheduler, tokenizer and generator worker).

pub mod flow_engine;
pub mod interpolate;
pub mod lipsync;
pub mod rife;
pub mod sr;
pub mod style;
pub mod t2v;
