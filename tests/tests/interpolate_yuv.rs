//! aiinterpolate's built-in modes on 8-bit 4:2:0 video (I420, NV12), which they interpolate in
//! the video's own planes (no colour conversion): still content comes back byte for byte, a
//! moving photograph is recreated as well as through RGB, and the element's odd sizes work.

use gst_ai_kernels::{Colorimetry, FrameMut, PixelFormat, TensorSpec, unpack};
use gst_ai_tests::clip::{Image, to_planar};
use gst_ai_tests::{demo_photo, load_rgb, run_raw};

const FORMATS: [(PixelFormat, gst_video::VideoFormat); 2] =
    [(PixelFormat::I420, gst_video::VideoFormat::I420), (PixelFormat::Nv12, gst_video::VideoFormat::Nv12)];

fn photo() -> Image {
    let (w, h, rgb) = load_rgb(&demo_photo()).unwrap();
    Image { width: w, height: h, rgb }
}

/// `img` as one frame of `info` (its default layout), converted by the kernels' `unpack`.
fn to_yuv(img: &Image, info: &gst_video::VideoInfo, format: PixelFormat) -> Vec<u8> {
    let (w, h) = (img.width, img.height);
    let mut bytes = vec![0u8; info.size()];
    let offsets: Vec<usize> = info.offset().to_vec();
    let strides: Vec<usize> = info.stride().iter().map(|&s| s as usize).collect();
    let n = format.n_planes();
    let mut planes = Vec::new();
    let mut rest = &mut bytes[..];
    let mut at = 0;
    for p in 0..n {
        let end = if p + 1 < n { offsets[p + 1] } else { info.size() };
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(end - at);
        planes.push(&mut head[offsets[p] - at..]);
        rest = tail;
        at = end;
    }
    let mut frame = FrameMut::new(format, w, h, planes, &strides[..n], Colorimetry::default()).unwrap();
    unpack(&to_planar(img), w, h, TensorSpec::CANONICAL, 0, 0, &mut frame).unwrap();
    bytes
}

fn info(format: gst_video::VideoFormat, w: usize, h: usize, fps: i32) -> gst_video::VideoInfo {
    gst_video::VideoInfo::builder(format, w as u32, h as u32).fps(gst::Fraction::new(fps, 1)).build().unwrap()
}

/// Luma PSNR (dB) of `a` against `b`, frames of `info` (the Y plane, rows of `w`).
fn luma_psnr(a: &[u8], b: &[u8], info: &gst_video::VideoInfo) -> f64 {
    let (w, h, stride) = (info.width() as usize, info.height() as usize, info.stride()[0] as usize);
    let mut se = 0.0;
    for y in 0..h {
        for x in 0..w {
            let d = a[y * stride + x] as f64 - b[y * stride + x] as f64;
            se += d * d;
        }
    }
    10.0 * (255.0f64 * 255.0 / (se / (w * h) as f64).max(1e-10)).log10()
}

/// Whether frames `a` and `b` of `info` have the same pixels (row padding not compared).
fn same_pixels(a: &[u8], b: &[u8], info: &gst_video::VideoInfo) -> bool {
    (0..info.n_planes() as usize).all(|p| {
        let comp = info.format_info();
        let (w, h) = (info.width() as usize, info.height() as usize);
        // Bytes per row and rows of plane p: full size for luma, halved (rounded up) for chroma.
        let (sub_w, sub_h) = if p == 0 { (0, 0) } else { (comp.w_sub()[1], comp.h_sub()[1]) };
        let row = w.div_ceil(1 << sub_w) * if p == 1 && info.n_planes() == 2 { 2 } else { 1 };
        let rows = h.div_ceil(1 << sub_h);
        let (off, stride) = (info.offset()[p], info.stride()[p] as usize);
        (0..rows).all(|y| a[off + y * stride..][..row] == b[off + y * stride..][..row])
    })
}

#[test]
fn still_yuv_content_comes_back_byte_for_byte() {
    let ph = photo();
    // Odd sizes too: chroma planes of ceil(w/2) x ceil(h/2).
    for (w, h) in [(64, 48), (37, 23)] {
        for (format, gst_format) in FORMATS {
            let info = info(gst_format, w, h, 10);
            let still = to_yuv(&ph.crop(50, 50, w, h), &info, format);
            let (out, _, _) = run_raw(
                &vec![still.clone(); 4],
                &info,
                "aiinterpolate ! video/x-raw,framerate=30/1 ! appsink name=sink sync=false",
            )
            .unwrap();
            assert_eq!(out.len(), 12, "{format:?} {w}x{h}: 4 frames at 10 fps -> 12 at 30");
            for (k, f) in out.iter().enumerate() {
                assert!(
                    same_pixels(f, &still, &info),
                    "{format:?} {w}x{h}: frame {k} of a still input must be the still picture"
                );
            }
        }
    }
}

#[test]
fn moving_photo_is_recreated_in_yuv_planes() {
    // The photograph panned by (3, -2) px per output frame; every second frame dropped.
    let ph = photo();
    let (w, h) = (160, 96);
    for (format, gst_format) in FORMATS {
        let info = info(gst_format, w, h, 15);
        let truth: Vec<Vec<u8>> =
            (0..9).map(|k| to_yuv(&ph.crop(200 + 3 * k, 150 - 2 * k, w, h), &info, format)).collect();
        let input: Vec<Vec<u8>> = truth.iter().step_by(2).cloned().collect();
        for (mode, floor) in [("flow", 32.0), ("blend", 0.0)] {
            let tail = format!("aiinterpolate mode={mode} ! video/x-raw,framerate=30/1 ! appsink name=sink sync=false");
            let (out, out_info, _) = run_raw(&input, &info, &tail).unwrap();
            assert_eq!(out.len(), 10);
            assert_eq!(out_info.unwrap().format(), gst_format, "the output keeps the input's format");
            for k in (0..9).step_by(2) {
                assert!(
                    same_pixels(&out[k], &truth[k], &info),
                    "{format:?} {mode}: input frame {k} passes through unchanged"
                );
            }
            let made: f64 = (1..8).step_by(2).map(|k| luma_psnr(&out[k], &truth[k], &info)).sum::<f64>() / 4.0;
            // What a plain cross-fade of the luma gives, for comparison.
            let fade: f64 = (1..8)
                .step_by(2)
                .map(|k| {
                    let f: Vec<u8> = truth[k - 1]
                        .iter()
                        .zip(&truth[k + 1])
                        .map(|(&a, &b)| (a as u16 + b as u16).div_ceil(2) as u8)
                        .collect();
                    luma_psnr(&f, &truth[k], &info)
                })
                .sum::<f64>()
                / 4.0;
            eprintln!("{format:?} {mode}: {made:.2} dB luma, cross-fade {fade:.2} dB");
            if mode == "flow" {
                assert!(made > floor, "{format:?}: flow interpolation luma PSNR {made:.2} dB");
                assert!(
                    made > fade + 6.0,
                    "{format:?}: flow {made:.2} dB should beat a cross-fade {fade:.2} dB clearly"
                );
            } else {
                assert!((made - fade).abs() < 0.5, "{format:?}: blend {made:.2} vs cross-fade {fade:.2}");
            }
        }
    }
}
