//! A text-to-video model whose networks run on an inference server:
//! `kserve://host[:port]/PREFIX[/version][?folder=PATH]`. The server holds the networks under
//! the names `PREFIX-text-encoder`, `PREFIX-unet`, `PREFIX-vae-decoder` and, for image-to-video,
//! `PREFIX-vae-encoder` (optional, as `vae_encoder/` is in a folder); each one goes through the
//! same [`ModelSource::Remote`] seam as any element's served model. What is not a network — the
//! tokenizer, the scheduler's configuration, `model_index.json` and the networks' `config.json`
//! — stays here: the diffusers folder `PATH` (its `.onnx` files may be absent), or, without
//! `?folder=`, the built-in model's (for serving the built-in networks).

use std::path::PathBuf;

use super::{FNV_OFFSET, Folder, fnv1a};
use crate::backend::model::ModelSource;
use crate::backend::remote::{RemoteOptions, RemoteSpec, SCHEME};
use crate::error::{Error, Result};

/// The diffusers part of each network and the suffix of its name on the server.
pub const NETWORKS: [(&str, &str); 4] = [
    ("text_encoder", "text-encoder"),
    ("unet", "unet"),
    ("vae_decoder", "vae-decoder"),
    ("vae_encoder", "vae-encoder"),
];

/// The server model of a network: `PREFIX-SUFFIX`, same server, version and options.
fn network(base: &RemoteSpec, suffix: &str) -> ModelSource {
    ModelSource::Remote(RemoteSpec { model: format!("{}-{suffix}", base.model), ..base.clone() })
}

/// Splits `kserve://host:port/PREFIX[/version][?folder=PATH]` into the server part and the
/// local folder; None when `uri` is not of that scheme.
pub fn parse(uri: &str) -> Option<Result<(RemoteSpec, Option<PathBuf>)>> {
    let uri = uri.trim();
    if !uri.starts_with(SCHEME) {
        return None;
    }
    let (server, query) = match uri.split_once('?') {
        Some((s, q)) => (s, Some(q)),
        None => (uri, None),
    };
    let folder = match query {
        None => None,
        Some(q) => match q.strip_prefix("folder=") {
            Some(p) if !p.trim().is_empty() => Some(PathBuf::from(p.trim())),
            _ => {
                return Some(Err(Error::ModelLoad {
                    model: uri.to_string(),
                    why: format!(
                        "'?{q}' is not understood: the only query is ?folder=PATH (the local diffusers folder \
                         with the tokenizer and scheduler)"
                    ),
                }));
            }
        },
    };
    Some(RemoteSpec::parse(server)?.map(|spec| (spec, folder)))
}

impl Folder {
    /// A model whose networks are served (see the module's documentation).
    pub fn remote(uri: &str) -> Result<Self> {
        let (base, dir) = parse(uri)
            .unwrap_or_else(|| Err(Error::ModelLoad { model: uri.to_string(), why: format!("not a {SCHEME} URI") }))?;
        let mut folder = match &dir {
            Some(dir) => Self::open_with(&crate::backend::zoo::path_of(&dir.display().to_string())?, false)?,
            None => Self::builtin()?,
        };
        folder.text_encoder = network(&base, NETWORKS[0].1);
        folder.unet = network(&base, NETWORKS[1].1);
        folder.vae_decoder = network(&base, NETWORKS[2].1);
        folder.vae_encoder = Some(network(&base, NETWORKS[3].1));
        folder.name = match &dir {
            Some(d) => format!("{} (tokenizer and scheduler from {})", base.uri(), d.display()),
            None => base.uri(),
        };
        // The small files' hash (the served networks cannot be read) and where they are served.
        let small = u64::from_str_radix(&folder.hash, 16).unwrap_or(FNV_OFFSET);
        folder.hash = format!("{:016x}", fnv1a(small, base.uri().as_bytes()));
        Ok(folder)
    }

    /// The request deadline and retries of served networks; local ones are unchanged.
    pub fn with_remote_options(mut self, options: RemoteOptions) -> Self {
        for s in [&mut self.text_encoder, &mut self.unet, &mut self.vae_decoder] {
            *s = s.clone().with_remote_options(options);
        }
        self.vae_encoder = self.vae_encoder.map(|s| s.with_remote_options(options));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(s: &ModelSource) -> String {
        match s {
            ModelSource::Remote(spec) => spec.uri(),
            other => panic!("not served: {}", other.display_name()),
        }
    }

    #[test]
    fn names_the_served_networks() {
        let f = Folder::remote("kserve://10.0.0.5:8100/zs/2").unwrap();
        assert_eq!(model(&f.text_encoder), "kserve://10.0.0.5:8100/zs-text-encoder/2");
        assert_eq!(model(&f.unet), "kserve://10.0.0.5:8100/zs-unet/2");
        assert_eq!(model(&f.vae_decoder), "kserve://10.0.0.5:8100/zs-vae-decoder/2");
        assert_eq!(model(f.vae_encoder.as_ref().unwrap()), "kserve://10.0.0.5:8100/zs-vae-encoder/2");
        assert_eq!(f.name, "kserve://10.0.0.5:8100/zs/2");
        // The built-in's tokenizer and scheduler, another hash than the built-in's.
        let b = Folder::builtin().unwrap();
        assert_eq!((f.tokenizer.max_len, f.defaults.clone()), (b.tokenizer.max_len, b.defaults));
        assert_ne!(f.hash, b.hash);
        let opts = RemoteOptions { timeout: std::time::Duration::from_millis(5), retries: 0 };
        let f = f.with_remote_options(opts);
        assert!(matches!(&f.unet, ModelSource::Remote(s) if s.options == opts));
    }

    #[test]
    fn takes_a_folder_without_networks() {
        let dir = std::env::temp_dir().join(format!("gst-ai-t2v-remote-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let builtin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/t2v_builtin");
        for rel in [
            "model_index.json",
            "scheduler/scheduler_config.json",
            "tokenizer/vocab.json",
            "tokenizer/merges.txt",
            "tokenizer/tokenizer_config.json",
            "unet/config.json",
            "vae_decoder/config.json",
        ] {
            std::fs::create_dir_all(dir.join(rel).parent().unwrap()).unwrap();
            std::fs::copy(builtin.join(rel), dir.join(rel)).unwrap();
        }
        let uri = format!("kserve://gpu/t2v?folder={}", dir.display());
        let f = Folder::from_property(&uri).unwrap();
        assert_eq!(model(&f.unet), "kserve://gpu:8000/t2v-unet");
        assert!(f.name.contains(&dir.display().to_string()), "{}", f.name);
        assert_eq!(f.defaults, Folder::builtin().unwrap().defaults);
        // The same folder opened as a local model lacks its networks.
        let e = Folder::open(&dir).err().expect("no networks").to_string();
        assert!(e.contains("text_encoder/model.onnx"), "{e}");
        for bad in ["kserve://gpu/t2v?dir=/x", "kserve://gpu/t2v?folder=", "kserve://gpu"] {
            let e = Folder::from_property(bad).err().expect(bad).to_string();
            assert!(e.contains(bad.split('?').next().unwrap()), "{e}");
        }
        let e = Folder::from_property("kserve://gpu/t2v?folder=/no/such/folder").err().unwrap().to_string();
        assert!(e.contains("/no/such/folder"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
