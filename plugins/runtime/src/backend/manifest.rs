//! The optional JSON manifest beside a model file: what the graph cannot tell (value range,
//! channel order) and what the user wants to force (layout, padding multiple, scale). It sits at
//! `<model>.json` (the model's file name with `.json` in place of `.onnx`) or `<model>.onnx.json`.
//! Unknown keys are an error, so a typo never silently does nothing.

use std::path::{Path, PathBuf};

use gst_ai_kernels::{ChannelOrder, Layout, ValueRange};
use serde_json::Value;

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub range: Option<ValueRange>,
    pub channel_order: Option<ChannelOrder>,
    pub layout: Option<Layout>,
    pub multiple: Option<usize>,
    pub scale: Option<usize>,
    /// Style models with a style-weights input: the name of each entry of that vector, in order
    /// (`"styles": ["starry-night", ...]`), so a style can be chosen or mixed by name.
    pub styles: Option<Vec<String>>,
    /// Style models with a style-vector input: the model that computes that vector from a style
    /// picture (`"style_predictor": "file.onnx"`, relative to the manifest's folder), resolved.
    pub style_predictor: Option<PathBuf>,
    /// What a frame-interpolation model's timestep input is worth.
    pub timestep: Option<Timestep>,
    /// The file it was read from, for messages.
    pub path: Option<PathBuf>,
}

/// What a frame-interpolation model's timestep input is worth (key "timestep"): aiinterpolate's
/// `timestep-handling=auto` reaches other times through midpoints when the model was trained for
/// the midpoint only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timestep {
    /// "any": trained for any time between the frames (RIFE 4.x).
    Any,
    /// "midpoint": trained for t = 0.5 only (RIFE HDv3); other t are an approximation.
    Midpoint,
}

const KEYS: &str = "range, channel_order, layout, multiple, scale, styles, style_predictor, timestep";

impl Manifest {
    /// Finds and reads the manifest of `model`, if there is one.
    pub fn for_model(model: &Path) -> Result<Self> {
        let candidates = [model.with_extension("json"), {
            let mut p = model.as_os_str().to_owned();
            p.push(".json");
            PathBuf::from(p)
        }];
        for path in candidates {
            if path.is_file() {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Error::Manifest { path: path.clone(), why: e.to_string() })?;
                return Self::parse(&text, &path);
            }
        }
        Ok(Self::default())
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |why: String| Error::Manifest { path: path.to_path_buf(), why };
        let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(bad("expected a JSON object".into()));
        };
        let mut m = Manifest { path: Some(path.to_path_buf()), ..Default::default() };
        for (key, v) in &map {
            let s = v.as_str().map(|s| s.trim().to_ascii_lowercase());
            let want_str = || bad(format!("'{key}' must be a string, found {v}"));
            let want_int = || bad(format!("'{key}' must be a positive integer, found {v}"));
            match key.as_str() {
                "range" => {
                    m.range = Some(match s.ok_or_else(want_str)?.replace(' ', "").as_str() {
                        "0..1" | "0-1" | "unit" => ValueRange::Unit,
                        "-1..1" | "-1-1" | "signed" => ValueRange::Signed,
                        "0..255" | "0-255" | "byte" => ValueRange::Byte,
                        other => {
                            return Err(bad(format!("range '{other}': expected \"0..1\", \"-1..1\" or \"0..255\"")));
                        }
                    })
                }
                "channel_order" => {
                    m.channel_order = Some(match s.ok_or_else(want_str)?.as_str() {
                        "rgb" => ChannelOrder::Rgb,
                        "bgr" => ChannelOrder::Bgr,
                        other => return Err(bad(format!("channel_order '{other}': expected \"rgb\" or \"bgr\""))),
                    })
                }
                "layout" => {
                    m.layout = Some(match s.ok_or_else(want_str)?.as_str() {
                        "nchw" => Layout::Nchw,
                        "nhwc" => Layout::Nhwc,
                        other => return Err(bad(format!("layout '{other}': expected \"nchw\" or \"nhwc\""))),
                    })
                }
                "multiple" => {
                    m.multiple = Some(v.as_u64().filter(|n| (1..=1024).contains(n)).ok_or_else(want_int)? as usize)
                }
                "timestep" => {
                    m.timestep = Some(match s.ok_or_else(want_str)?.as_str() {
                        "any" => Timestep::Any,
                        "midpoint" => Timestep::Midpoint,
                        other => return Err(bad(format!("timestep '{other}': expected \"any\" or \"midpoint\""))),
                    })
                }
                "scale" => m.scale = Some(v.as_u64().filter(|n| (1..=16).contains(n)).ok_or_else(want_int)? as usize),
                "styles" => {
                    let want_names = || bad(format!("'{key}' must be a list of distinct, non-empty names, found {v}"));
                    let names: Vec<String> = v
                        .as_array()
                        .ok_or_else(want_names)?
                        .iter()
                        .map(|n| n.as_str().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
                        .collect::<Option<_>>()
                        .ok_or_else(want_names)?;
                    let distinct: std::collections::HashSet<&String> = names.iter().collect();
                    if names.is_empty() || distinct.len() != names.len() {
                        return Err(want_names());
                    }
                    m.styles = Some(names);
                }
                "style_predictor" => {
                    let rel = v.as_str().filter(|s| !s.trim().is_empty()).ok_or_else(want_str)?;
                    let dir = path.parent().unwrap_or(Path::new(""));
                    m.style_predictor = Some(dir.join(rel.trim()));
                }
                other => return Err(bad(format!("unknown key '{other}' (known keys: {KEYS})"))),
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_keys() {
        let m = Manifest::parse(
            r#"{"range": "-1..1", "channel_order": "BGR", "layout": "nhwc", "multiple": 8, "scale": 4, "timestep": "Midpoint"}"#,
            Path::new("m.json"),
        )
        .unwrap();
        assert_eq!(m.range, Some(ValueRange::Signed));
        assert_eq!(m.channel_order, Some(ChannelOrder::Bgr));
        assert_eq!(m.layout, Some(Layout::Nhwc));
        assert_eq!(m.multiple, Some(8));
        assert_eq!(m.scale, Some(4));
        assert_eq!(m.timestep, Some(Timestep::Midpoint));
    }

    #[test]
    fn parses_style_keys() {
        let m = Manifest::parse(
            r#"{"styles": ["starry-night", " mosaic "], "style_predictor": "x/predictor.onnx"}"#,
            Path::new("/zoo/m.json"),
        )
        .unwrap();
        assert_eq!(m.styles, Some(vec!["starry-night".to_string(), "mosaic".to_string()]));
        assert_eq!(m.style_predictor, Some(PathBuf::from("/zoo/x/predictor.onnx")));
    }

    #[test]
    fn rejects_typos_and_bad_values() {
        let e = Manifest::parse(r#"{"rnage": "0..1"}"#, Path::new("m.json")).unwrap_err().to_string();
        assert!(e.contains("unknown key 'rnage'") && e.contains("m.json"), "{e}");
        let e = Manifest::parse(r#"{"range": "0..2"}"#, Path::new("m.json")).unwrap_err().to_string();
        assert!(e.contains("range '0..2'"), "{e}");
        let e = Manifest::parse(r#"{"multiple": 0}"#, Path::new("m.json")).unwrap_err().to_string();
        assert!(e.contains("positive integer"), "{e}");
        let e = Manifest::parse(r#"{"timestep": "half"}"#, Path::new("m.json")).unwrap_err().to_string();
        assert!(e.contains("timestep 'half'"), "{e}");
        assert!(Manifest::parse("[1]", Path::new("m.json")).is_err());
        let e = Manifest::parse(r#"{"styles": ["a", "a"]}"#, Path::new("m.json")).unwrap_err().to_string();
        assert!(e.contains("distinct"), "{e}");
        assert!(Manifest::parse(r#"{"styles": []}"#, Path::new("m.json")).is_err());
        assert!(Manifest::parse(r#"{"style_predictor": 3}"#, Path::new("m.json")).is_err());
        assert!(Manifest::parse("{", Path::new("m.json")).is_err());
    }
}
