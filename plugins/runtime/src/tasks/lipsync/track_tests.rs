use super::*;

/// Detector-like noise: a fixed pseudo-random sequence, roughly normal with unit deviation.
fn noise(seed: &mut u64) -> f32 {
    let mut uniform = || {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    };
    (uniform() + uniform() + uniform()) * 1.0
}

/// Lag and jitter of a smoother on a 100-px box, noise of `sd` px on each coordinate: still for
/// 30 frames, then panning at `speed` px per frame for 40. Returns (jitter: the deviation of the
/// output's centre from the truth while still, lag: the mean error over the last 30 frames of the
/// pan, in px).
fn lag_jitter(mut smooth: impl FnMut(FaceBox) -> FaceBox, sd: f32, speed: f32) -> (f32, f32) {
    let mut seed = 7;
    let (mut still, mut lag) = (Vec::new(), Vec::new());
    for i in 0..70 {
        let x = if i < 30 { 200.0 } else { 200.0 + speed * (i - 29) as f32 };
        let mut n = || sd * noise(&mut seed);
        let b = FaceBox { x: x + n(), y: 100.0 + n(), w: 100.0 + n(), h: 120.0 + n() };
        let out = smooth(b);
        let err = out.x + 0.5 * out.w - (x + 50.0);
        if (10..30).contains(&i) {
            still.push(err);
        } else if i >= 40 {
            lag.push(-err);
        }
    }
    let rms = (still.iter().map(|e| e * e).sum::<f32>() / still.len() as f32).sqrt();
    (rms, lag.iter().sum::<f32>() / lag.len() as f32)
}

#[test]
fn the_box_filter_follows_a_pan_with_less_lag_than_a_mean_and_little_more_jitter() {
    let (sd, speed) = (2.0, 4.0);
    let raw = lag_jitter(|b| b, sd, speed);
    let mut mean = BoxSmoother::new(5);
    let mean = lag_jitter(|b| mean.push(b), sd, speed);
    let mut euro = BoxFilter::new(5);
    let euro = lag_jitter(|b| euro.push(b), sd, speed);
    eprintln!(
        "centre on a pan of {speed} px/frame, noise {sd} px: jitter at rest / lag (px): \
         raw {:.2} / {:.2}, mean of 5 {:.2} / {:.2}, one-euro(5) {:.2} / {:.2}",
        raw.0, raw.1, mean.0, mean.1, euro.0, euro.1
    );
    // A mean of 5 lags two frames: 8 px.
    assert!((mean.1 - 2.0 * speed).abs() < 1.0, "the mean's lag {}", mean.1);
    assert!(euro.1 < 0.5 * mean.1, "the filter lags {} px, the mean {}", euro.1, mean.1);
    assert!(euro.0 < 0.7 * raw.0, "the filter smooths at rest: jitter {} vs raw {}", euro.0, raw.0);
    assert!(euro.0 < 1.6 * mean.0, "jitter at rest {} vs the mean's {}", euro.0, mean.0);
}

#[test]
fn a_filter_of_one_frame_passes_boxes_as_they_come() {
    let mut f = BoxFilter::new(1);
    let b = |x| FaceBox { x, y: 3.0, w: 10.0, h: 12.0 };
    assert_eq!(f.push(b(0.0)), b(0.0));
    assert_eq!(f.push(b(17.0)), b(17.0));
    f.reset();
    assert_eq!(f.last(), None);
    let p = Padding { top: 0.0, bottom: 10.0, left: 1.0, right: 2.0 };
    assert_eq!(p.apply(b(5.0)), FaceBox { x: 4.0, y: 3.0, w: 13.0, h: 22.0 });
}

#[test]
fn the_yaw_is_read_from_the_nose_between_the_face_sides() {
    let mut p = vec![(0.0, 0.0); 468];
    p[SIDES[0]] = (100.0, 100.0);
    p[SIDES[1]] = (200.0, 100.0);
    p[FaceMesh::NOSE_TIP] = (150.0, 120.0);
    assert!(mesh_yaw(&p).unwrap().abs() < 0.5, "frontal");
    p[FaceMesh::NOSE_TIP] = (200.0, 120.0);
    assert!((mesh_yaw(&p).unwrap() - 45.0).abs() < 0.5, "the nose over a side: 45°");
    p[FaceMesh::NOSE_TIP] = (60.0, 120.0);
    assert!(mesh_yaw(&p).unwrap() < -55.0, "past the other side");
    assert_eq!(mesh_yaw(&p[..10]), None);
    let d = |nose: f32| Detection {
        face: FaceBox { x: 0.0, y: 0.0, w: 1.0, h: 1.0 },
        score: 1.0,
        landmarks: Some([(100.0, 50.0), (140.0, 50.0), (nose, 70.0), (105.0, 90.0), (135.0, 90.0)]),
    };
    assert!(d(120.0).yaw().unwrap().abs() < 0.5);
    assert!(d(130.0).yaw().unwrap() > 40.0, "nose halfway to an eye");
}

#[test]
fn a_point_cloud_is_bounded() {
    let b = point_bounds(&[(3.0, 4.0), (10.0, 1.0), (5.0, 9.0)]);
    assert_eq!(b, FaceBox { x: 3.0, y: 1.0, w: 7.0, h: 8.0 });
}
