//! What a `no_std` Wasm contract needs from its library: an allocator and a panic handler.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// Bump allocator: every call runs in a fresh instance, so memory never needs freeing
/// — allocation is a pointer increment, and `memory.grow` when the heap runs out.
struct Bump {
    next: UnsafeCell<usize>,
}

// SAFETY: Wasm contracts are single-threaded (threads are refused at deploy).
unsafe impl Sync for Bump {}

const PAGE: usize = 64 * 1024;

unsafe extern "C" {
    static __heap_base: u8;
}

// SAFETY: `alloc` returns aligned, non-overlapping blocks inside linear memory, growing it
// as needed; `dealloc` never reuses memory, which is always sound.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded; `__heap_base` is provided by the linker.
        unsafe {
            let next = &mut *self.next.get();
            if *next == 0 {
                *next = &__heap_base as *const u8 as usize;
            }
            let start = (*next + layout.align() - 1) & !(layout.align() - 1);
            let Some(end) = start.checked_add(layout.size()) else { return core::ptr::null_mut() };
            let have = core::arch::wasm32::memory_size(0) * PAGE;
            if end > have {
                let pages = (end - have).div_ceil(PAGE);
                if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                    return core::ptr::null_mut();
                }
            }
            *next = end;
            start as *mut u8
        }
    }

    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

#[global_allocator]
static ALLOCATOR: Bump = Bump { next: UnsafeCell::new(0) };

/// A panic (arithmetic overflow, failed `expect`, …) reverts the call with
/// `Error("panic")`. The message is not formatted: formatting machinery would
/// more than double a small contract's size.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    crate::revert_message("panic")
}
