//! Records where `make setup` (scripts/bootstrap.sh) puts the ONNX Runtime library, so that the
//! plugin finds it with no environment variable set. The path is absolute and fixed at build
//! time: a plugin built in a checkout finds the library of that checkout.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("..").join("..");
    let root = root.canonicalize().unwrap_or(root);
    let lib = root.join(".deps").join("onnxruntime").join("libonnxruntime.so.1.31.1");
    println!("cargo:rustc-env=GST_AI_ORT_DEFAULT={}", lib.display());
    // The zoo `make setup` imports (models/zoo/import.py): the last folder of zoo:NAME's search.
    println!("cargo:rustc-env=GST_AI_ZOO_DEFAULT={}", root.join(".deps").join("zoo").display());
    println!("cargo:rerun-if-changed=build.rs");
    // The built-in models are embedded with include_bytes!: rebuild when they change.
    println!("cargo:rerun-if-changed=../../models/sr_x2.onnx");
    println!("cargo:rerun-if-changed=../../models/sr_x4.onnx");
}
