//! Where a model runs and how it is described: the ONNX Runtime environment and library
//! discovery ([`env`]), devices ([`device`]), the CUDA provider fed device buffers through I/O
//! binding ([`cuda_io`]), loaded models and the process-wide session cache
//! ([`model`]), the optional manifest beside a model ([`manifest`]) and a reader of the ONNX
//! graph itself ([`graph`]) for what sessions do not expose; the model zoo's search path
//! ([`zoo`]); where a model comes from
//! ([`source`]); models served by a KServe v2 inference server ([`remote`]); stopping runs
//! ([`cancel`]).

pub mod cancel;
// Device addresses given to ONNX Runtime's C API: the crate's only unsafe code.
#[allow(unsafe_code)]
pub mod cuda_io;
pub mod device;
pub mod env;
pub mod graph;
pub mod manifest;
pub mod model;
pub mod remote;
pub mod source;
pub mod zoo;
