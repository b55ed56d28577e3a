//! Data segments without the bytes linear memory would hold anyway.
//!
//! A contract's memory starts zeroed in every call (each call is a fresh instance), so
//! an active segment's zero bytes initialise nothing: `wasm-ld` still writes them (the
//! zero-initialised statics at a segment's end, padding between constants). And
//! `rustc` (up to 1.95, rust-lang/rust#161862) places every `#[link_section]` static
//! both in its custom section and in linear memory: the `strata_abi` fragments are
//! paid for twice, and no code refers to the memory copy (the statics exist only for
//! the section). This pass rewrites the active segments without those bytes,
//! splitting a segment where a gap is longer than a segment header costs.
//!
//! Memory after instantiation is then the same except where an ABI fragment's copy
//! was, which nothing reads. The pass leaves the module as it is when it is outside
//! what it understands: passive segments, a segment of another memory, an offset that
//! is not an `i32.const`, overlapping segments.

use std::ops::Range;

use wasmparser::{BinaryReaderError, DataKind, Operator, Parser, Payload};

use super::{replace_section, write_u32};

/// A gap shorter than this stays in its segment: a new segment header (flags, offset
/// expression, length) costs about this much.
const MIN_GAP: usize = 10;

/// Custom section holding the ABI fragments (one per line).
const ABI_SECTION: &str = "strata_abi";

struct Segment {
    offset: u32,
    bytes: Range<usize>,
}

/// `module` with its active data segments rewritten without zero runs and without the
/// memory copies of its `strata_abi` fragments; `module` itself when there is nothing
/// to cut or the module is outside what the pass understands.
pub fn trim(module: &[u8]) -> Result<Vec<u8>, BinaryReaderError> {
    let mut segments = Vec::new();
    let mut data_section = None;
    let mut data_count = None;
    let mut abi: &[u8] = &[];
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::DataCountSection { range, .. } => data_count = Some(range),
            Payload::DataSection(reader) => {
                data_section = Some(reader.range());
                for segment in reader {
                    let segment = segment?;
                    let DataKind::Active { memory_index: 0, offset_expr } = segment.kind else { return Ok(module.to_vec()) };
                    let mut ops = offset_expr.get_operators_reader();
                    let (Operator::I32Const { value }, Operator::End) = (ops.read()?, ops.read()?) else {
                        return Ok(module.to_vec());
                    };
                    segments.push(Segment { offset: value as u32, bytes: segment.range.end - segment.data.len()..segment.range.end });
                }
            }
            Payload::CustomSection(section) if section.name() == ABI_SECTION => abi = section.data(),
            _ => {}
        }
    }
    let Some(data_section) = data_section else { return Ok(module.to_vec()) };
    let mut spans: Vec<(u64, u64)> = segments.iter().map(|s| (u64::from(s.offset), u64::from(s.offset) + s.bytes.len() as u64)).collect();
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[1].0 < w[0].1) {
        return Ok(module.to_vec());
    }

    let mut pieces: Vec<(u32, &[u8])> = Vec::new();
    for segment in &segments {
        let bytes = &module[segment.bytes.clone()];
        let mut removable: Vec<bool> = bytes.iter().map(|b| *b == 0).collect();
        for fragment in abi.split_inclusive(|b| *b == b'\n').filter(|f| f.len() >= 16 && f.ends_with(b"\n")) {
            let mut found = bytes.windows(fragment.len()).enumerate().filter(|(_, w)| w == &fragment).map(|(i, _)| i);
            // Only an unambiguous copy: one occurrence, whole, newline included.
            if let (Some(at), None) = (found.next(), found.next()) {
                removable[at..at + fragment.len()].fill(true);
            }
        }
        for run in kept_runs(&removable) {
            pieces.push((segment.offset + run.start as u32, &bytes[run]));
        }
    }

    let mut section = Vec::new();
    write_u32(&mut section, pieces.len() as u32);
    for (offset, bytes) in &pieces {
        section.push(0x00); // active, memory 0
        section.push(0x41); // i32.const
        write_i32(&mut section, *offset as i32);
        section.push(0x0b); // end
        write_u32(&mut section, bytes.len() as u32);
        section.extend_from_slice(bytes);
    }
    if section.len() >= data_section.len() {
        return Ok(module.to_vec());
    }
    let out = replace_section(module, data_section, 11, &section);
    Ok(match data_count {
        // The data count section comes before the data section: its range is unchanged.
        Some(range) => {
            let mut count = Vec::new();
            write_u32(&mut count, pieces.len() as u32);
            replace_section(&out, range, 12, &count)
        }
        None => out,
    })
}

/// The runs of bytes to keep: everything except removable runs of at least [`MIN_GAP`]
/// bytes (shorter ones stay, as they are, inside their run) and removable bytes at
/// either end.
fn kept_runs(removable: &[bool]) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i < removable.len() {
        if removable[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < removable.len() && !removable[i] {
            i += 1;
        }
        match runs.last_mut() {
            Some(last) if start - last.end < MIN_GAP => last.end = i,
            _ => runs.push(start..i),
        }
    }
    runs
}

fn write_i32(out: &mut Vec<u8>, mut v: i32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linear memory after instantiation (no start function), as `wasmtime`-free
    /// reference: the active segments applied in order to zeroed pages.
    fn memory(module: &[u8]) -> Vec<u8> {
        let mut mem = vec![0u8; 65536];
        for p in Parser::new(0).parse_all(module) {
            if let Payload::DataSection(r) = p.unwrap() {
                for s in r {
                    let s = s.unwrap();
                    let DataKind::Active { offset_expr, .. } = s.kind else { panic!("passive") };
                    let Operator::I32Const { value } = offset_expr.get_operators_reader().read().unwrap() else { panic!() };
                    mem[value as usize..value as usize + s.data.len()].copy_from_slice(s.data);
                }
            }
        }
        mem
    }

    fn module(data: &str, abi: &str) -> Vec<u8> {
        wat::parse_str(format!(r#"(module (memory 1) (data (i32.const 1024) "{data}") (@custom "strata_abi" "{abi}"))"#)).unwrap()
    }

    #[test]
    fn zero_runs_go_and_memory_is_unchanged() {
        let zeros = "\\00".repeat(40);
        let m = module(&format!("abc{zeros}def{zeros}"), "");
        let t = trim(&m).unwrap();
        wasmparser::Validator::new().validate_all(&t).unwrap();
        assert!(t.len() + 60 < m.len(), "{} -> {}", m.len(), t.len());
        assert_eq!(memory(&t), memory(&m));
    }

    #[test]
    fn short_gaps_stay_inside_a_segment() {
        assert_eq!(kept_runs(&[false, true, true, false]), vec![0..4]);
        assert_eq!(kept_runs(&[true, false, true]), vec![1..2]);
        let long: Vec<bool> = [false].into_iter().chain([true; MIN_GAP]).chain([false]).collect();
        assert_eq!(kept_runs(&long), [0..1, MIN_GAP + 1..MIN_GAP + 2]);
        assert!(kept_runs(&[true, true]).is_empty());
    }

    #[test]
    fn the_memory_copy_of_the_abi_goes_and_only_it() {
        let line = "function count() view returns (uint256)\\0a";
        let m = module(&format!("before-the-abi-text{line}after-the-abi-text"), line);
        let t = trim(&m).unwrap();
        wasmparser::Validator::new().validate_all(&t).unwrap();
        let (before, after) = (memory(&m), memory(&t));
        let at = before.windows(5).position(|w| w == b"funct").unwrap();
        assert_eq!(after[at..at + 40], [0u8; 40]);
        assert_eq!(after[..at], before[..at]);
        assert_eq!(after[at + 40..], before[at + 40..]);
        // The custom section itself is kept.
        assert!(t.windows(5).any(|w| w == b"funct"));
    }

    #[test]
    fn an_ambiguous_abi_copy_stays() {
        let line = "function count() view returns (uint256)\\0a";
        let m = module(&format!("x{line}y{line}z"), line);
        assert_eq!(memory(&trim(&m).unwrap()), memory(&m));
    }

    #[test]
    fn negative_and_large_offsets_encode_as_signed_leb() {
        for v in [0, 63, 64, -1, -64, -65, 1 << 20, i32::MAX, i32::MIN] {
            let mut out = Vec::new();
            write_i32(&mut out, v);
            let mut r = wasmparser::BinaryReader::new(&out, 0);
            assert_eq!(r.read_var_i32().unwrap(), v);
            assert!(r.eof());
        }
    }
}
