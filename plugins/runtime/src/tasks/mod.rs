//! One engine per job, each with no GStreamer types: super-resolution ([`sr`]), style transfer
//! with temporal consistency ([`style`]), frame-rate conversion ([`interpolate`], by optical
//! flow or RIFE models ([`rife`])), lip sync ([`lipsync`]) and text-to-video generation
//! ([`t2v`], with its scheduler, tokenizer and generator worker).

pub mod interpolate;
pub mod lipsync;
pub mod rife;
pub mod sr;
pub mod style;
pub mod t2v;
