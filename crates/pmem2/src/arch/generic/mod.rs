//! Architectures without a specific module, and Miri: no flush instruction
//! (stores reach the coherent domain, which is all the platform offers), and
//! a sequentially consistent fence as drain.

use super::FlushKind;

/// Orders earlier stores before later ones.
#[inline(always)]
pub(crate) fn fence() {
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
}

pub(crate) fn detect_flush(_allowed: super::FlushAllowed) -> FlushKind {
    FlushKind::None
}

/// No deeper flush than the (absent) flush instruction.
pub(crate) fn detect_deep_flush(_flush: FlushKind) -> bool {
    false
}

macro_rules! with_flush_impl {
    ($kind:expr, $F:ident => $body:expr) => {{
        let _ = $kind;
        type $F = $crate::arch::NoFlush;
        $body
    }};
}
pub(crate) use with_flush_impl;
