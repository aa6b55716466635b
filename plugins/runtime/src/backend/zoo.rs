//! The model zoo: models named `zoo:NAME` in any element's `model` property, found in a search
//! path of folders. A folder holds `NAME.onnx` (with its manifest `NAME.json` and card `NAME.md`
//! beside it) or a folder `NAME/` for a model made of several files, and optionally an
//! `index.json` describing its models (written by the set-up's importer, `models/zoo/import.py`).
//!
//! The search path: the folders of `GST_AI_ZOO_PATH` (separated by `:`), in order, then the zoo
//! the set-up imported into this checkout (`.deps/zoo`, fixed when the plugin is built). The
//! first folder holding a name wins, so users can add their own named models, or shadow ours.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// The prefix naming a zoo model in a `model` property.
pub const PREFIX: &str = "zoo:";

/// The folders searched for `zoo:NAME`, in order.
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("GST_AI_ZOO_PATH")
        .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    dirs.push(PathBuf::from(env!("GST_AI_ZOO_DEFAULT")));
    dirs
}

/// One model of the zoo, as listed by a folder's `index.json` (or found by its file name).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    /// The element that runs it (`aiupscale`, ...); empty when the folder does not say.
    pub element: String,
    /// One line: what it is.
    pub summary: String,
    pub path: PathBuf,
    /// The whole index entry (job, scale, license, measured figures...), `Null` if none.
    pub info: Value,
}

fn index_of(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("index.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v.get("models").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

fn file_of(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(format!("{name}.onnx")), dir.join(name)].into_iter().find(|p| p.exists())
}

/// Every model found on the search path (the first folder holding a name wins), by name.
pub fn entries() -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for dir in search_path() {
        let mut found: Vec<Entry> = index_of(&dir)
            .into_iter()
            .filter_map(|v| {
                let name = v.get("name")?.as_str()?.to_string();
                let path = file_of(&dir, &name)?;
                let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                Some(Entry { element: text("element"), summary: text("summary"), name, path, info: v })
            })
            .collect();
        // Models a user dropped in without an index: any NAME.onnx.
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for f in rd.flatten() {
                let p = f.path();
                let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else { continue };
                if p.extension().is_some_and(|e| e == "onnx") && !found.iter().any(|e| e.name == stem) {
                    let name = stem.to_string();
                    found.push(Entry {
                        name,
                        element: String::new(),
                        summary: String::new(),
                        path: p,
                        info: Value::Null,
                    });
                }
            }
        }
        for e in found {
            if !out.iter().any(|o| o.name == e.name) {
                out.push(e);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The names of the zoo models for one job (`upscale`, `face detection`...: the index's `job`),
/// and those a folder lists without saying their job.
pub fn names_for(job: &str) -> Vec<String> {
    entries().into_iter().filter(|e| e.job().is_empty() || e.job() == job).map(|e| e.name).collect()
}

impl Entry {
    /// What the model does (`upscale`, `interpolate`, `stylize`, `face detection`...); empty
    /// when its folder does not say.
    pub fn job(&self) -> &str {
        self.info.get("job").and_then(Value::as_str).unwrap_or_default()
    }
}

/// A line for a property's blurb: which `zoo:` names can do `job` now.
pub fn blurb_for(job: &str) -> String {
    let names = names_for(job);
    if names.is_empty() {
        format!("no zoo models for {job} found (search path: {}; `make setup` imports the zoo)", display_path())
    } else {
        format!("zoo models here: {}", names.iter().map(|n| format!("zoo:{n}")).collect::<Vec<_>>().join(", "))
    }
}

fn display_path() -> String {
    search_path().iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
}

/// The file (or folder) of `zoo:NAME`; an error naming the search path when it is nowhere.
pub fn resolve(name: &str) -> Result<PathBuf> {
    let name = name.trim();
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(Error::ZooNotFound { name: name.into(), search_path: display_path(), available: String::new() });
    }
    search_path().iter().find_map(|d| file_of(d, name)).ok_or_else(|| {
        let names: Vec<String> = entries().into_iter().map(|e| e.name).collect();
        Error::ZooNotFound {
            name: name.into(),
            search_path: display_path(),
            available: if names.is_empty() { "none".into() } else { names.join(", ") },
        }
    })
}

/// A `model` property's path: `zoo:NAME` resolved, anything else taken as a path.
pub fn path_of(property: &str) -> Result<PathBuf> {
    let p = property.trim();
    match p.strip_prefix(PREFIX) {
        Some(name) => resolve(name),
        None => Ok(PathBuf::from(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_taken_as_it_is() {
        assert_eq!(path_of(" /m/x.onnx ").unwrap(), PathBuf::from("/m/x.onnx"));
    }

    #[test]
    fn a_missing_name_names_the_search_path() {
        let e = resolve("no-such-model-here").unwrap_err().to_string();
        assert!(e.contains("zoo:no-such-model-here"), "{e}");
        assert!(e.contains(env!("GST_AI_ZOO_DEFAULT")), "{e}");
        assert!(resolve("../etc").is_err());
    }
}
