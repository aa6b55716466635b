//! Where a model runs and how it is described: the ONNX Runtime environment and library
//! discovery ([`env`]), devices ([`device`]), loaded models and the process-wide session cache
//! ([`model`]), the optional manifest beside a model ([`manifest`]) and a reader of the ONNX
//! graph itself ([`graph`]) for what sessions do not expose; the model zoo's search path
//! ([`zoo`]); where a model comes from
//! ([`source`]); models served by a KServe v2 inference server ([`remote`]); stopping runs
//! ([`cancel`]).

pub mod cancel;
pub mod device;
pub mod env;
pub mod graph;
pub mod manifest;
pub mod model;
pub mod remote;
pub mod source;
pub mod zoo;
