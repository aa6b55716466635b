//! Reads `aisrc`'s start image for image-to-video: any file GStreamer can decode
//! (`common::picture`), scaled to the clip's size; and judges whether it is the kind of picture
//! the built-in model knows (a flat ground and a flat shape) or a photograph, which it ignores.

use std::time::SystemTime;

/// The start image, decoded again only when its path, modification time or size changes:
/// decoding runs a whole GStreamer pipeline, which every clip need not repeat.
#[derive(Default)]
pub struct StartImage {
    key: Option<(String, Option<SystemTime>, usize, usize)>,
    data: Vec<f32>,
    flat: f64,
}

/// A start image as decoded.
pub struct Loaded {
    /// 3 x height x width RGB in -1..1.
    pub data: Vec<f32>,
    /// The share of its pixels in the four most common colours (see [`flat_share`]).
    pub flat: f64,
    /// It was decoded by this call (a new file, or the same file changed).
    pub fresh: bool,
}

impl StartImage {
    pub fn load(&mut self, path: &str, width: usize, height: usize) -> Result<Loaded, String> {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let key = Some((path.to_string(), modified, width, height));
        let fresh = self.key != key;
        if fresh {
            (self.data, self.flat) = load(path, width, height)?;
            self.key = key;
        }
        Ok(Loaded { data: self.data.clone(), flat: self.flat, fresh })
    }
}

/// Pictures whose four most common colours cover less than this share look like photographs.
/// Measured at 96x96: synthetic shape pictures 0.97 and more; the test photographs (astronaut,
/// chelsea, coffee, motorcycle, rocket, the demo photo) 0.13 to 0.40.
pub const FLAT_SHARE_MIN: f64 = 0.75;

/// The share of the pixels of packed RGB `rgb` that fall in its four most common colours, each
/// channel cut to 16 levels: near 1 for a flat ground with a flat shape (what the built-in
/// model was trained on), far lower for a photograph's textures and gradients. Pure black is
/// left out: it is what videoscale borders a picture of another aspect ratio with.
pub fn flat_share(rgb: &[u8]) -> f64 {
    let mut bins = vec![0u32; 4096];
    let mut n = 0usize;
    for px in rgb.chunks_exact(3).filter(|px| px != &[0, 0, 0]) {
        bins[(px[0] as usize >> 4) << 8 | (px[1] as usize >> 4) << 4 | px[2] as usize >> 4] += 1;
        n += 1;
    }
    if n == 0 {
        return 1.0;
    }
    bins.sort_unstable_by(|a, b| b.cmp(a));
    bins[..4].iter().map(|&c| c as f64).sum::<f64>() / n as f64
}

/// What aisrc warns about a photograph given to the built-in model, which was trained on one flat
/// coloured shape on a dark ground only: the picture is noised and denoised into such a shape,
/// not animated.
pub fn photograph_warning(path: &str, flat: f64) -> String {
    format!(
        "image {path} looks like a photograph ({:.0}% of it in its 4 most common colours), but the built-in \
         model only knows one coloured shape (a red, green, blue or yellow circle or square) on a dark \
         background (models/t2v_builtin.md): the clip will not follow the picture. Give a text-to-video \
         model folder in model= for image-to-video from photographs",
        flat * 100.0
    )
}

/// The image at `path` as 3 x `height` x `width` RGB in -1..1, and its [`flat_share`].
pub fn load(path: &str, width: usize, height: usize) -> Result<(Vec<f32>, f64), String> {
    let pic = crate::common::picture::decode(path, &format!("image file {path}"), Some((width, height)))?;
    let plane = width * height;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in pic.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = px[c] as f32 / 127.5 - 1.0;
        }
    }
    Ok((out, flat_share(&pic.data)))
}
