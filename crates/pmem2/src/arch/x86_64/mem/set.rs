//! The fill algorithm, written once over [`Vector`]: head, whole lines,
//! tail.

use super::small::{nt_tail_size, small_set, stream_tail, to_line};
use super::{Vector, BLOCK, LINE, WC_SPAN};
use crate::arch::kernel::sfence_after_nt;
use crate::arch::{fence, flush_range, Flush};

/// Fills `len` bytes with `byte`, temporal or non-temporal.
///
/// # Safety
/// `dst` writable for `len` bytes; the vector's instruction set is enabled.
#[inline(always)]
pub(crate) unsafe fn set<V: Vector, F: Flush, const NT: bool>(
    dst: *mut u8,
    byte: u8,
    len: usize,
    wc_workaround: bool,
) {
    // SAFETY: the head, lines and tail partition `[dst, dst+len)`; stream
    // stores are at 64-aligned addresses (after the head).
    unsafe {
        let head = to_line(dst as usize);
        if len < LINE || (len == LINE && !(NT && head == 0)) {
            small_set(dst, byte, len);
            flush_range::<F>(dst, len);
        } else {
            if head > 0 {
                small_set(dst, byte, head);
                flush_range::<F>(dst, head);
            }
            let line = V::splat_line(byte);
            let mut d = dst.add(head);
            let mut left = len - head;
            let wc = NT && V::WC_BARRIER && wc_workaround;
            let mut since_fence = 0;
            let put = |d: *mut u8| {
                V::store_line::<NT>(d, line);
                if !NT {
                    F::flush_line(d);
                }
            };
            while left >= BLOCK {
                put(d);
                put(d.add(LINE));
                put(d.add(2 * LINE));
                put(d.add(3 * LINE));
                d = d.add(BLOCK);
                left -= BLOCK;
                if wc {
                    since_fence += BLOCK;
                    if since_fence >= WC_SPAN {
                        fence();
                        since_fence = 0;
                    }
                }
            }
            while left >= LINE {
                put(d);
                d = d.add(LINE);
                left -= LINE;
            }
            if NT && nt_tail_size(left) {
                let p8 = u64::from_ne_bytes([byte; 8]);
                stream_tail(d, [p8, p8, p8, p8], left);
            } else if left > 0 {
                small_set(d, byte, left);
                flush_range::<F>(d, left);
            }
        }
    }
    if NT && sfence_after_nt::<F>() {
        fence();
    }
}
