//! plan_tiles and TileMerger through the public API.

mod common;

use common::{Rng, from_canonical};
use gst_ai_kernels::{ChannelOrder, KernelError, Layout, TensorSpec, Tile, TileMerger, ValueRange, plan_tiles};

#[test]
fn plan_matches_hand_layout() -> Result<(), KernelError> {
    let tiles = plan_tiles(100, 50, 40, 8, 1)?;
    let xs: Vec<usize> = tiles.iter().take(3).map(|t| t.x).collect();
    let ys: Vec<usize> = tiles.iter().step_by(3).map(|t| t.y).collect();
    assert_eq!(tiles.len(), 6);
    assert_eq!(xs, [0, 32, 60]);
    assert_eq!(ys, [0, 10]);
    assert!(tiles.iter().all(|t| t.width == 40 && t.height == 40));

    assert_eq!(plan_tiles(30, 20, 0, 5, 8)?, [Tile { x: 0, y: 0, width: 30, height: 20 }]);
    assert_eq!(plan_tiles(30, 20, 64, 8, 8)?, [Tile { x: 0, y: 0, width: 30, height: 20 }]);
    // 50 rounds down to 48 with multiple 16.
    assert!(plan_tiles(100, 100, 50, 10, 16)?.iter().all(|t| t.width == 48 && t.height == 48));
    Ok(())
}

#[test]
fn plans_cover_the_frame_exactly() -> Result<(), KernelError> {
    for (w, h, tile, overlap, multiple) in [
        (100, 50, 40, 8, 1),
        (257, 129, 64, 16, 8),
        (64, 64, 64, 8, 1),
        (65, 63, 64, 8, 4),
        (1000, 7, 130, 129, 1),
        (33, 90, 17, 0, 1),
        (20, 500, 100, 30, 32),
    ] {
        let tiles = plan_tiles(w, h, tile, overlap, multiple)?;
        let size = tile / multiple * multiple;
        let mut covered = vec![0u32; w * h];
        for t in &tiles {
            assert!(t.x + t.width <= w && t.y + t.height <= h, "{t:?} outside {w}x{h}");
            assert_eq!(t.width, if w >= size { size } else { w });
            assert_eq!(t.height, if h >= size { size } else { h });
            assert_eq!(t.width % multiple == 0, w >= size || w % multiple == 0);
            for y in t.y..t.y + t.height {
                for x in t.x..t.x + t.width {
                    covered[y * w + x] += 1;
                }
            }
        }
        assert!(covered.iter().all(|&c| c > 0), "{w}x{h} tile {tile}: hole");
        assert_eq!(tiles.iter().map(|t| t.x + t.width).max(), Some(w));
        assert_eq!(tiles.iter().map(|t| t.y + t.height).max(), Some(h));
        // Neighbours overlap by at least `overlap`, so feathering has room.
        for pair in tiles.windows(2) {
            if pair[0].y == pair[1].y {
                assert!(pair[0].x + pair[0].width >= pair[1].x + overlap);
            }
        }
    }
    Ok(())
}

fn random_image(w: usize, h: usize, rng: &mut Rng) -> Vec<f32> {
    (0..3 * w * h).map(|_| rng.unit()).collect()
}

/// Crops a tile from a canonical image, scales it by `scale` with nearest
/// neighbour, converts it to `spec` and pads it to `pad` multiples with NaN
/// (which would poison the result if the merger read it).
fn model_output(
    img: &[f32],
    w: usize,
    h: usize,
    tile: Tile,
    scale: usize,
    spec: TensorSpec,
    pad: usize,
) -> (Vec<f32>, usize, usize) {
    let (ow, oh) = (tile.width * scale, tile.height * scale);
    let (tw, th) = (ow.next_multiple_of(pad), oh.next_multiple_of(pad));
    let mut canon = vec![f32::NAN; 3 * tw * th];
    for c in 0..3 {
        for y in 0..oh {
            for x in 0..ow {
                let (sx, sy) = (tile.x + x / scale, tile.y + y / scale);
                canon[c * tw * th + y * tw + x] = img[c * w * h + sy * w + sx];
            }
        }
    }
    (from_canonical(&canon, tw, th, spec), tw, th)
}

fn merge(
    img: &[f32],
    w: usize,
    h: usize,
    scale: usize,
    spec: TensorSpec,
    merger: &mut TileMerger,
) -> Result<Vec<f32>, KernelError> {
    let overlap = 6;
    for tile in plan_tiles(w, h, 16, overlap, 4)? {
        let (t, tw, th) = model_output(img, w, h, tile, scale, spec, 8);
        merger.add(tile, &t, tw, th, spec)?;
    }
    Ok(merger.finish()?.to_vec())
}

#[test]
fn identity_model_merges_to_the_untiled_image() -> Result<(), KernelError> {
    let mut rng = Rng::new(7);
    let (w, h) = (37, 23);
    let img = random_image(w, h, &mut rng);
    let specs = [
        TensorSpec::CANONICAL,
        TensorSpec { layout: Layout::Nhwc, range: ValueRange::Byte, order: ChannelOrder::Bgr },
        TensorSpec { layout: Layout::Nchw, range: ValueRange::Signed, order: ChannelOrder::Bgr },
    ];
    let mut merger = TileMerger::new(w, h, 1, 6);
    for spec in specs {
        merger.reset();
        let out = merge(&img, w, h, 1, spec, &mut merger)?;
        for (i, (a, b)) in out.iter().zip(&img).enumerate() {
            assert!((a - b).abs() < 1e-5, "{spec:?} [{i}]: {a} vs {b}");
        }
    }
    Ok(())
}

#[test]
fn nearest_x2_model_merges_to_the_untiled_upscale() -> Result<(), KernelError> {
    let mut rng = Rng::new(8);
    let (w, h) = (41, 30);
    let img = random_image(w, h, &mut rng);
    let whole = Tile { x: 0, y: 0, width: w, height: h };
    let (want, _, _) = model_output(&img, w, h, whole, 2, TensorSpec::CANONICAL, 1);
    let mut merger = TileMerger::new(2 * w, 2 * h, 2, 6);
    let out = merge(&img, w, h, 2, TensorSpec::CANONICAL, &mut merger)?;
    for (i, (a, b)) in out.iter().zip(&want).enumerate() {
        assert!((a - b).abs() < 1e-5, "[{i}]: {a} vs {b}");
    }
    Ok(())
}

#[test]
fn large_merge_is_threaded_and_exact() -> Result<(), KernelError> {
    // Tiles of 400x400 are past the threading threshold.
    let mut rng = Rng::new(9);
    let (w, h) = (700, 450);
    let img = random_image(w, h, &mut rng);
    let mut merger = TileMerger::new(w, h, 1, 32);
    for tile in plan_tiles(w, h, 400, 32, 8)? {
        let (t, tw, th) = model_output(&img, w, h, tile, 1, TensorSpec::CANONICAL, 8);
        merger.add(tile, &t, tw, th, TensorSpec::CANONICAL)?;
    }
    let out = merger.finish()?;
    assert!(out.iter().zip(&img).all(|(a, b)| (a - b).abs() < 1e-5));
    Ok(())
}

#[test]
fn overlaps_are_feathered_not_cut() -> Result<(), KernelError> {
    // Two 1-row tiles that disagree (0 vs 1) and overlap by 4: the result
    // must ramp strictly across the overlap instead of jumping.
    let mut merger = TileMerger::new(12, 1, 1, 4);
    let left = Tile { x: 0, y: 0, width: 8, height: 1 };
    let right = Tile { x: 4, y: 0, width: 8, height: 1 };
    merger.add(left, &[0.0; 24], 8, 1, TensorSpec::CANONICAL)?;
    merger.add(right, &[1.0; 24], 8, 1, TensorSpec::CANONICAL)?;
    let out = merger.finish()?;
    let red = &out[..12];
    assert!(red[..4].iter().all(|&v| v == 0.0));
    assert!(red[8..].iter().all(|&v| v == 1.0));
    for pair in red[3..9].windows(2) {
        assert!(pair[1] > pair[0], "{red:?}");
    }
    assert!((red[5] + red[6] - 1.0).abs() < 1e-3, "symmetric cross-fade: {red:?}");

    // The same along y, with tiles stacked in a 1-pixel-wide column.
    let mut merger = TileMerger::new(1, 12, 1, 4);
    let top = Tile { x: 0, y: 0, width: 1, height: 8 };
    let bottom = Tile { x: 0, y: 4, width: 1, height: 8 };
    merger.add(top, &[0.0; 24], 1, 8, TensorSpec::CANONICAL)?;
    merger.add(bottom, &[1.0; 24], 1, 8, TensorSpec::CANONICAL)?;
    let column = &merger.finish()?[..12];
    assert_eq!(column, red);
    Ok(())
}

#[test]
fn uncovered_pixels_are_an_error() -> Result<(), KernelError> {
    let mut merger = TileMerger::new(10, 10, 1, 0);
    let left = Tile { x: 0, y: 0, width: 5, height: 10 };
    merger.add(left, &[0.5; 150], 5, 10, TensorSpec::CANONICAL)?;
    assert_eq!(merger.finish(), Err(KernelError::Uncovered { x: 5, y: 0 }));
    // The merger stays usable: covering the rest makes finish succeed.
    let right = Tile { x: 5, y: 0, width: 5, height: 10 };
    merger.add(right, &[0.5; 150], 5, 10, TensorSpec::CANONICAL)?;
    assert!(merger.finish()?.iter().all(|&v| v == 0.5));
    assert!(merger.add(right, &[0.5; 150], 5, 10, TensorSpec::CANONICAL).is_err());
    merger.reset();
    assert!(matches!(merger.finish(), Err(KernelError::Uncovered { x: 0, y: 0 })));
    Ok(())
}
