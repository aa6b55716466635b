//! Where a model comes from: a built-in (embedded bytes), a file (a path or `zoo:NAME`), or a
//! model on an inference server (`kserve://host:port/model[/version]`), as a `model` property
//! names it; and the ONNX graph of the first two.

use std::path::PathBuf;

use crate::backend::remote::{RemoteOptions, RemoteSpec};
use crate::error::{Error, Result};

/// Where a model comes from.
#[derive(Clone, Debug)]
pub enum ModelSource {
    /// Embedded in the plugin: a short name (for messages and the cache), the ONNX bytes and
    /// its manifest as JSON text (empty: none).
    Builtin {
        name: &'static str,
        bytes: &'static [u8],
        manifest: &'static str,
    },
    File(PathBuf),
    /// On an inference server (`kserve://host:port/model[/version]`, see
    /// [`crate::backend::remote`]).
    Remote(RemoteSpec),
}

impl ModelSource {
    /// `path` empty means the given built-in; `builtin:<name>` names a built-in model; `zoo:NAME`
    /// a model of the zoo.
    pub fn from_property(path: &str, builtin: ModelSource) -> Result<Self> {
        let path = path.trim();
        if path.is_empty() {
            return Ok(builtin);
        }
        if let Some(name) = path.strip_prefix("builtin:") {
            return crate::builtin::ALL
                .into_iter()
                .find(|m| matches!(m, ModelSource::Builtin { name: n, .. } if *n == name))
                .ok_or_else(|| {
                    let names: Vec<String> = crate::builtin::ALL
                        .iter()
                        .filter_map(|m| match m {
                            ModelSource::Builtin { name, .. } => Some(format!("builtin:{name}")),
                            _ => None,
                        })
                        .collect();
                    Error::ModelNotFound {
                        path: PathBuf::from(format!("{path} (built-in models: {})", names.join(", "))),
                    }
                });
        }
        Self::file(path)
    }

    /// A model named by a property: a path, `zoo:NAME` (see [`crate::backend::zoo`]) or a
    /// served model, `kserve://host:port/model[/version]`.
    pub fn file(property: &str) -> Result<Self> {
        if let Some(spec) = RemoteSpec::parse(property.trim()) {
            return spec.map(ModelSource::Remote);
        }
        crate::backend::zoo::path_of(property).map(ModelSource::File)
    }

    /// The request deadline and retries of a served model; other sources are unchanged.
    pub fn with_remote_options(mut self, options: RemoteOptions) -> Self {
        if let Self::Remote(spec) = &mut self {
            spec.options = options;
        }
        self
    }

    pub fn display_name(&self) -> String {
        match self {
            Self::Builtin { name, .. } => format!("built-in '{name}'"),
            Self::File(p) => p.display().to_string(),
            Self::Remote(spec) => spec.uri(),
        }
    }
}

impl ModelSource {
    /// The graph's nodes, read from the ONNX file (or the embedded bytes).
    pub fn graph(&self) -> Result<crate::backend::graph::Graph> {
        let read;
        let bytes = match self {
            Self::Builtin { bytes, .. } => *bytes,
            Self::File(path) => {
                read = std::fs::read(path)
                    .map_err(|e| Error::ModelLoad { model: self.display_name(), why: e.to_string() })?;
                &read[..]
            }
            Self::Remote(_) => {
                return Err(Error::ModelLoad {
                    model: self.display_name(),
                    why: "the graph of a served model cannot be read (the server gives only its inputs and outputs)"
                        .into(),
                });
            }
        };
        crate::backend::graph::Graph::parse(bytes).map_err(|why| Error::ModelLoad { model: self.display_name(), why })
    }
}
