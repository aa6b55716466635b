//! Typed errors of the streaming path and the GStreamer error each one is posted as. Elements
//! return [`ElementError`] from their frame work and hand it to [`post`], which posts the message
//! in the domain and with the code that tells an application what kind of failure it was
//! (resource, stream format, library settings...), naming what was wrong.

use gst::prelude::*;
use gst_ai_runtime::Error;
use gst_video::VideoFormat;

/// What can go wrong while an element works on a stream.
#[derive(Debug, thiserror::Error)]
pub enum ElementError {
    /// The model, its contract, inference, a kernel: the runtime's own error.
    #[error(transparent)]
    Runtime(#[from] Error),
    /// A frame in a format the element does not handle.
    #[error("unsupported video format {0:?}")]
    Format(VideoFormat),
    /// A buffer could not be mapped or read as the negotiated video frame.
    #[error("cannot read the frame: {0}")]
    Frame(String),
    /// Data arrived before caps said what it is, or caps that cannot be honoured.
    #[error("{0}")]
    Negotiation(String),
    /// A property value the element cannot work with.
    #[error("{0}")]
    Settings(String),
}

impl From<gst_ai_kernels::KernelError> for ElementError {
    fn from(e: gst_ai_kernels::KernelError) -> Self {
        Self::Runtime(Error::Kernel(e))
    }
}

/// The GStreamer error message for a runtime error: what an element posts when it cannot start
/// or cannot go on.
pub fn runtime_message(e: &Error) -> gst::ErrorMessage {
    runtime_message_with(e, &e.to_string())
}

fn runtime_message_with(e: &Error, text: &str) -> gst::ErrorMessage {
    match e {
        Error::ModelNotFound { .. } | Error::ZooNotFound { .. } | Error::DeviceUnavailable { .. } => {
            gst::error_msg!(gst::ResourceError::NotFound, ["{text}"])
        }
        Error::ModelLoad { .. } | Error::Manifest { .. } => gst::error_msg!(gst::ResourceError::OpenRead, ["{text}"]),
        Error::RuntimeLibrary { .. } | Error::Environment(_) => gst::error_msg!(gst::LibraryError::Init, ["{text}"]),
        Error::InvalidDevice(_) | Error::Contract { .. } => gst::error_msg!(gst::LibraryError::Settings, ["{text}"]),
        Error::Inference { .. } | Error::NonFinite { .. } => {
            gst::error_msg!(gst::LibraryError::Failed, ["{text}"])
        }
        Error::Kernel(_) | Error::Unsupported(_) => gst::error_msg!(gst::StreamError::Format, ["{text}"]),
        Error::Cancelled => gst::error_msg!(gst::CoreError::StateChange, ["{text}"]),
    }
}

impl ElementError {
    /// The GStreamer error message, in the domain and with the code that fits, its text prefixed
    /// by `what` (the element or the job).
    pub fn message(&self, what: &str) -> gst::ErrorMessage {
        let text = format!("{what}: {self}");
        match self {
            Self::Runtime(e) => runtime_message_with(e, &text),
            Self::Format(_) => gst::error_msg!(gst::StreamError::Format, ["{text}"]),
            Self::Frame(_) => gst::error_msg!(gst::StreamError::Decode, ["{text}"]),
            Self::Negotiation(_) => gst::error_msg!(gst::CoreError::Negotiation, ["{text}"]),
            Self::Settings(_) => gst::error_msg!(gst::LibraryError::Settings, ["{text}"]),
        }
    }

    /// True when the error only says that the work was cancelled (a flush or a stop).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Runtime(Error::Cancelled))
    }
}

/// Posts `e` on `element`'s bus, prefixed by `what` (the element or the job, e.g. "aiupscale"),
/// and returns the flow error to hand upstream: `Flushing` for a cancelled run (nothing posted),
/// `NotNegotiated` for negotiation errors, `Error` for the rest.
pub fn post(element: &impl IsA<gst::Element>, what: &str, e: &ElementError) -> gst::FlowError {
    if e.is_cancelled() {
        return gst::FlowError::Flushing;
    }
    element.as_ref().post_error_message(e.message(what));
    match e {
        ElementError::Negotiation(_) => gst::FlowError::NotNegotiated,
        _ => gst::FlowError::Error,
    }
}
