//! Reads `aisrc`'s start image for image-to-video: any file GStreamer can decode
//! (`common::picture`), scaled to the clip's size.

use std::time::SystemTime;

/// The start image, decoded again only when its path, modification time or size changes:
/// decoding runs a whole GStreamer pipeline, which every clip need not repeat.
#[derive(Default)]
pub struct StartImage {
    key: Option<(String, Option<SystemTime>, usize, usize)>,
    data: Vec<f32>,
}

impl StartImage {
    pub fn load(&mut self, path: &str, width: usize, height: usize) -> Result<Vec<f32>, String> {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let key = Some((path.to_string(), modified, width, height));
        if self.key != key {
            self.data = load(path, width, height)?;
            self.key = key;
        }
        Ok(self.data.clone())
    }
}

/// The image at `path` as 3 x `height` x `width` RGB in -1..1.
pub fn load(path: &str, width: usize, height: usize) -> Result<Vec<f32>, String> {
    let pic = crate::common::picture::decode(path, &format!("image file {path}"), Some((width, height)))?;
    let plane = width * height;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in pic.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = px[c] as f32 / 127.5 - 1.0;
        }
    }
    Ok(out)
}
