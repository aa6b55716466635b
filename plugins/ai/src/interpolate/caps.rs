//! Caps negotiation of `aiinterpolate`, whose two sides differ only in the frame rate: caps
//! queries are answered with the other side's caps at any rate, and the output rate is the
//! input's times `factor`, else the one downstream prefers (nearest to twice the input's).

use gst::prelude::*;
use gst_ai_runtime::dsp::rate::Rate;
use gst_video::VideoInfo;

use crate::common::{self, ElementError};

/// A negotiated conversion: the input and output infos and rates, and the output caps to send.
pub struct Negotiated {
    pub in_info: VideoInfo,
    pub in_rate: Rate,
    pub out_info: VideoInfo,
    pub out_rate: Rate,
    pub out_caps: gst::Caps,
}

/// `caps` with any frame rate.
fn free_rate(caps: &gst::Caps) -> gst::Caps {
    let mut caps = caps.clone();
    for s in caps.make_mut().iter_mut() {
        s.remove_field("framerate");
    }
    caps
}

/// Answers a caps query on `pad`: what the peer of `other` (the other pad) accepts, at any
/// frame rate, within `pad`'s template.
pub fn answer_query(pad: &gst::Pad, other: &gst::Pad, q: &mut gst::query::Caps) {
    let filter = q.filter_owned().map(|f| free_rate(&f));
    let peer = other.peer_query_caps(filter.as_ref());
    let mut result = free_rate(&peer).intersect(&pad.pad_template_caps());
    if let Some(f) = q.filter() {
        result = f.intersect_with_mode(&result, gst::CapsIntersectMode::First);
    }
    q.set_result(&result);
}

fn fraction(r: Rate) -> gst::Fraction {
    gst::Fraction::new(r.num as i32, r.den as i32)
}

/// The output caps for `in_caps`: the same with the input's rate times `factor` (when not 0),
/// or with the rate downstream of `srcpad` prefers, nearest to twice the input's.
fn output_caps(srcpad: &gst::Pad, in_caps: &gst::Caps, in_rate: Rate, factor: f64) -> Result<gst::Caps, ElementError> {
    let neg = ElementError::Negotiation;
    let mut s = in_caps.structure(0).ok_or_else(|| neg("empty caps".into()))?.to_owned();
    if factor > 0.0 {
        let rate = in_rate.times(factor).ok_or_else(|| neg(format!("factor {factor} gives no valid frame rate")))?;
        s.set("framerate", fraction(rate));
        let caps = gst::Caps::builder_full().structure(s).build();
        if !srcpad.peer_query_accept_caps(&caps) {
            return Err(neg(format!(
                "downstream does not accept {}/{} fps, the input rate times factor={factor}",
                rate.num, rate.den
            )));
        }
        return Ok(caps);
    }
    s.set("framerate", gst::FractionRange::new(gst::Fraction::new(1, i32::MAX), gst::Fraction::new(i32::MAX, 1)));
    let template = gst::Caps::builder_full().structure(s).build();
    let mut peer = srcpad.peer_query_caps(Some(&template));
    if peer.is_empty() {
        return Err(neg(format!("downstream accepts none of {template}")));
    }
    peer.truncate();
    if let Some(s) = peer.make_mut().structure_mut(0) {
        s.fixate_field_nearest_fraction("framerate", fraction(in_rate.times(2.0).unwrap_or(in_rate)));
    }
    peer.fixate();
    Ok(peer)
}

/// Negotiates the output for new input `caps`, asking downstream of `srcpad`.
pub fn negotiate(srcpad: &gst::Pad, caps: &gst::Caps, factor: f64) -> Result<Negotiated, ElementError> {
    let neg = ElementError::Negotiation;
    let in_info = VideoInfo::from_caps(caps).map_err(|e| neg(format!("invalid input caps {caps}: {e}")))?;
    common::require_progressive(&in_info)?;
    let in_rate = common::rate_of(in_info.fps()).ok_or_else(|| {
        neg(format!("aiinterpolate needs a fixed input frame rate; the caps have framerate {}", in_info.fps()))
    })?;
    let out_caps = output_caps(srcpad, caps, in_rate, factor)?;
    let out_info = VideoInfo::from_caps(&out_caps).map_err(|e| neg(format!("invalid output caps {out_caps}: {e}")))?;
    let out_rate = common::rate_of(out_info.fps()).ok_or_else(|| neg(format!("no output frame rate in {out_caps}")))?;
    Ok(Negotiated { in_info, in_rate, out_info, out_rate, out_caps })
}
