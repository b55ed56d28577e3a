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
            // `align` is a power of two (`Layout` guarantees it); no arithmetic here can
            // panic (a panic's location would cost the module its file path).
            let mask = layout.align().wrapping_sub(1);
            let Some(end) = next.checked_add(mask).map(|n| n & !mask).and_then(|start| start.checked_add(layout.size())) else {
                return core::ptr::null_mut();
            };
            let start = end.wrapping_sub(layout.size());
            let have = core::arch::wasm32::memory_size(0).saturating_mul(PAGE);
            if end > have {
                let pages = end.wrapping_sub(have).div_ceil(PAGE);
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

// The C memory routines the compiler calls for copies and fills. `compiler_builtins`
// supplies them for this target, tuned for speed with alignment cases (~1.4 KiB per
// module); these are 8 bytes at a time with unaligned accesses (which Wasm allows at
// full speed) and a byte tail. Volatile accesses keep LLVM from recognising the loops
// as `memcpy`/`memset` and calling them recursively.

/// `memcpy`: copies `n` bytes; the regions do not overlap.
///
/// # Safety
/// `dst` and `src` are valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract.
    unsafe { copy_forward(dst, src, n) };
    dst
}

/// `memmove`: copies `n` bytes; the regions may overlap.
///
/// # Safety
/// `dst` and `src` are valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // `dst` is below `src` or past its end: a forward copy never reads a byte it wrote.
        // SAFETY: the caller's contract.
        unsafe { copy_forward(dst, src, n) };
    } else {
        let mut n = n;
        while n > 0 {
            n -= 1;
            // SAFETY: `n` is below the caller's length.
            unsafe { dst.add(n).write_volatile(src.add(n).read_volatile()) };
        }
    }
    dst
}

#[inline(always)]
unsafe fn copy_forward(mut dst: *mut u8, mut src: *const u8, n: usize) {
    // SAFETY (both loops): `dst`/`src` stay within the caller's `n` bytes.
    unsafe {
        let end = dst.add(n);
        while (end as usize).wrapping_sub(dst as usize) >= 8 {
            (dst as *mut u64).write_volatile((src as *const u64).read_volatile());
            dst = dst.add(8);
            src = src.add(8);
        }
        while dst != end {
            dst.write_volatile(src.read_volatile());
            dst = dst.add(1);
            src = src.add(1);
        }
    }
}

/// `memset`: fills `n` bytes with the low byte of `c`.
///
/// # Safety
/// `dst` is valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let byte = c as u8;
    let word = u64::from(byte).wrapping_mul(0x0101_0101_0101_0101);
    // SAFETY (both loops): `p` stays within the caller's `n` bytes.
    unsafe {
        let (mut p, end) = (dst, dst.add(n));
        while (end as usize).wrapping_sub(p as usize) >= 8 {
            (p as *mut u64).write_volatile(word);
            p = p.add(8);
        }
        while p != end {
            p.write_volatile(byte);
            p = p.add(1);
        }
    }
    dst
}
