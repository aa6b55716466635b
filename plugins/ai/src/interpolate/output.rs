//! Output buffers of `aiinterpolate`: an engine output stamped on the output timeline, with the
//! metas it carries decided deliberately. A made frame is a new buffer: it carries no meta of
//! its neighbours (no caption said twice, no timecode of another frame). An input frame is a
//! copy of its buffer with all its metas the first time it goes out; when it goes out again
//! (duplicate mode, scene cuts, slowing down) the copy drops the metas that belong to one moment
//! only, captions and timecodes, so downstream neither shows a caption twice nor sees two frames
//! with one timecode.

use gst_video::{VideoCaptionMeta, VideoFrameRef, VideoInfo, VideoTimeCodeMeta};

use gst_ai_runtime::tasks::interpolate::{Content, Output};

use crate::common::{self, ElementError};

/// The input buffers already sent out once, newest last: only the engine's two kept frames can
/// go out again, so two are remembered (held, so their addresses cannot be reused meanwhile).
#[derive(Default)]
pub struct Sent(Vec<gst::Buffer>);

impl Sent {
    /// Records `b` as sent; true when it had been sent before.
    fn repeat(&mut self, b: &gst::Buffer) -> bool {
        if self.0.iter().any(|s| s.as_ptr() == b.as_ptr()) {
            return true;
        }
        if self.0.len() == 2 {
            self.0.remove(0);
        }
        self.0.push(b.clone());
        false
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Removes the metas that belong to one moment of the stream (captions, timecodes).
fn drop_moment_metas(b: &mut gst::BufferRef) {
    while let Some(m) = b.meta_mut::<VideoCaptionMeta>() {
        if m.remove().is_err() {
            break;
        }
    }
    while let Some(m) = b.meta_mut::<VideoTimeCodeMeta>() {
        if m.remove().is_err() {
            break;
        }
    }
}

/// Turns an engine output into a stamped buffer in `outputs`: a copy of the input buffer (same
/// memory; metas as the module says) or a new buffer of `out_info` the made frame is written into.
pub fn emit(
    out_info: &VideoInfo,
    sent: &mut Sent,
    outputs: &mut Vec<gst::Buffer>,
    o: Output<'_, gst::Buffer>,
) -> Result<(), ElementError> {
    let mut buffer = match o.content {
        Content::Input(b) => {
            let repeat = sent.repeat(b);
            let mut copy = b.copy();
            if repeat {
                drop_moment_metas(copy.make_mut());
            }
            copy
        }
        Content::Made(made) => {
            let mut b = gst::Buffer::with_size(out_info.size()).map_err(|e| ElementError::Frame(e.to_string()))?;
            let bm = b.get_mut().expect("a new buffer is writable");
            let mut frame = VideoFrameRef::from_buffer_ref_writable(bm, out_info)
                .map_err(|e| ElementError::Frame(e.to_string()))?;
            made.write(&mut common::frame_view_mut(&mut frame)?)?;
            drop(frame);
            b
        }
    };
    let b = buffer.make_mut();
    b.set_pts(gst::ClockTime::from_nseconds(o.pts_ns));
    b.set_dts(gst::ClockTime::NONE);
    b.set_duration(gst::ClockTime::from_nseconds(o.duration_ns));
    b.set_offset(o.k);
    b.set_offset_end(o.k + 1);
    b.unset_flags(gst::BufferFlags::DISCONT);
    b.set_flags(if o.discont { gst::BufferFlags::DISCONT } else { gst::BufferFlags::empty() });
    outputs.push(buffer);
    Ok(())
}
