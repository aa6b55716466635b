//! Building video frames in memory and checking an upscaled frame against the exact nearest-
//! neighbour expectation, per pixel format, for the tests of the pack/unpack path.

use gst_video::{VideoFormat, VideoFrameExt, VideoInfo};

use crate::Rng;
use crate::clip::Image;

/// Alpha value put into test frames: constant, so the bilinear alpha resize keeps it exactly.
pub const ALPHA: u8 = 200;

/// A frame of `format` with random content: full-range bytes for RGB and gray, in-gamut values
/// for YUV (so the YUV -> RGB -> YUV round trip is not clamped).
pub fn random_frame(info: &VideoInfo, rng: &mut Rng) -> gst::Buffer {
    let mut buffer = gst::Buffer::with_size(info.size()).expect("allocates");
    {
        let b = buffer.get_mut().expect("new buffer is writable");
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(b, info).expect("maps");
        let yuv = matches!(info.format(), VideoFormat::I420 | VideoFormat::Nv12);
        for p in 0..frame.n_planes() {
            let data = frame.plane_data_mut(p).expect("plane");
            for (i, v) in data.iter_mut().enumerate() {
                *v = if !yuv {
                    rng.byte(0, 255)
                } else if p == 0 {
                    rng.byte(64, 192)
                } else {
                    rng.byte(112, 144)
                };
                if matches!(info.format(), VideoFormat::Rgba | VideoFormat::Bgra) && i % 4 == 3 {
                    *v = ALPHA;
                }
            }
        }
    }
    buffer
}

fn get(frame: &gst_video::VideoFrameRef<&gst::BufferRef>, plane: u32, x: usize, y: usize, bpp: usize, c: usize) -> u8 {
    let stride = frame.plane_stride()[plane as usize] as usize;
    frame.plane_data(plane).expect("plane")[y * stride + x * bpp + c]
}

/// Compares `out` with the nearest-neighbour x`k` upscale of `inp`; returns the largest
/// difference seen and a description of where, or an error for a wrong size or format.
pub fn nearest_diff(
    inp: &gst::BufferRef,
    in_info: &VideoInfo,
    out: &gst::BufferRef,
    out_info: &VideoInfo,
    k: usize,
) -> (u8, String) {
    assert_eq!(out_info.format(), in_info.format(), "format kept");
    assert_eq!(out_info.width() as usize, in_info.width() as usize * k, "width x{k}");
    assert_eq!(out_info.height() as usize, in_info.height() as usize * k, "height x{k}");
    let fi = gst_video::VideoFrameRef::from_buffer_ref_readable(inp, in_info).expect("maps input");
    let fo = gst_video::VideoFrameRef::from_buffer_ref_readable(out, out_info).expect("maps output");
    let (w, h) = (out_info.width() as usize, out_info.height() as usize);
    let mut worst = (0u8, String::new());
    let mut note = |got: u8, want: u8, what: &dyn Fn() -> String| {
        let d = got.abs_diff(want);
        if d > worst.0 {
            worst = (d, format!("{} got {got} want {want}", what()));
        }
    };
    match in_info.format() {
        VideoFormat::Gray8
        | VideoFormat::Rgb
        | VideoFormat::Bgr
        | VideoFormat::Rgba
        | VideoFormat::Bgra
        | VideoFormat::Rgbx
        | VideoFormat::Bgrx => {
            let bpp = in_info.comp_pstride(0) as usize;
            let colors = if bpp == 1 { 1 } else { 3 };
            for y in 0..h {
                for x in 0..w {
                    for c in 0..colors {
                        note(get(&fo, 0, x, y, bpp, c), get(&fi, 0, x / k, y / k, bpp, c), &|| {
                            format!("pixel ({x},{y}) channel {c}")
                        });
                    }
                    if matches!(in_info.format(), VideoFormat::Rgba | VideoFormat::Bgra) {
                        note(get(&fo, 0, x, y, bpp, 3), ALPHA, &|| format!("alpha at ({x},{y})"));
                    }
                }
            }
        }
        VideoFormat::I420 | VideoFormat::Nv12 => {
            for y in 0..h {
                for x in 0..w {
                    note(get(&fo, 0, x, y, 1, 0), get(&fi, 0, x / k, y / k, 1, 0), &|| format!("Y at ({x},{y})"));
                }
            }
            let nv12 = in_info.format() == VideoFormat::Nv12;
            for cy in 0..h.div_ceil(2) {
                for cx in 0..w.div_ceil(2) {
                    for c in 0..2 {
                        // Each output chroma sample averages the chroma of the input pixels its
                        // 2x2 block came from (the chroma of an RGB pixel does not depend on Y).
                        let mut sum = 0u32;
                        let mut n = 0u32;
                        for py in [2 * cy, 2 * cy + 1] {
                            for px in [2 * cx, 2 * cx + 1] {
                                if px < w && py < h {
                                    let (sx, sy) = ((px / k) / 2, (py / k) / 2);
                                    sum += if nv12 {
                                        get(&fi, 1, sx, sy, 2, c)
                                    } else {
                                        get(&fi, 1 + c as u32, sx, sy, 1, 0)
                                    } as u32;
                                    n += 1;
                                }
                            }
                        }
                        let want = ((sum as f32 / n as f32).round()) as u8;
                        let got = if nv12 { get(&fo, 1, cx, cy, 2, c) } else { get(&fo, 1 + c as u32, cx, cy, 1, 0) };
                        note(got, want, &|| format!("chroma {c} at ({cx},{cy})"));
                    }
                }
            }
        }
        f => panic!("no expectation for {f:?}"),
    }
    worst
}

/// An RGB buffer in `info`'s layout holding `img`, with the given timestamp.
pub fn frame_buffer(info: &gst_video::VideoInfo, img: &Image, pts_ms: u64) -> gst::Buffer {
    let mut b = gst::Buffer::with_size(info.size()).unwrap();
    {
        let bm = b.get_mut().unwrap();
        bm.set_pts(gst::ClockTime::from_mseconds(pts_ms));
        let mut f = gst_video::VideoFrameRef::from_buffer_ref_writable(bm, info).unwrap();
        let stride = f.plane_stride()[0] as usize;
        let d = f.plane_data_mut(0).unwrap();
        for y in 0..img.height {
            d[y * stride..y * stride + img.width * 3]
                .copy_from_slice(&img.rgb[y * img.width * 3..(y + 1) * img.width * 3]);
        }
    }
    b
}

/// The picture of an RGB buffer in `info`'s layout.
pub fn buffer_image(info: &gst_video::VideoInfo, b: &gst::BufferRef) -> Image {
    let f = gst_video::VideoFrameRef::from_buffer_ref_readable(b, info).unwrap();
    let (w, h) = (info.width() as usize, info.height() as usize);
    let stride = f.plane_stride()[0] as usize;
    let d = f.plane_data(0).unwrap();
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        rgb.extend_from_slice(&d[y * stride..y * stride + w * 3]);
    }
    Image { width: w, height: h, rgb }
}
