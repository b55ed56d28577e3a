//! The last step of a contract build: what the module can never use goes, behaviour kept.
//!
//! Why: `rustc` + `wasm-ld` leave bytes in a contract that no call can ever reach, and
//! deploys are paid per byte. Three passes, each keeping the module's behaviour (the
//! same calls succeed, fail and cost the same), so tests run exactly what is deployed
//! (`strata contract build` and [`crate::build_contract`] both apply [`shrink`]):
//! 1. [`keep_entry_exports`]: exports the runtime never calls (the SDK's `memcpy` and
//!    friends, `__heap_base`) are dropped, so they stop being roots.
//! 2. [`empty_unreachable_functions`]: a contract's panic handler ignores the panic
//!    message, but the code that would format it (`core::fmt`, about 2 KiB) stays
//!    linked, because panic sites store pointers to it in the function table. A
//!    function reached only through the table runs only through a `call_indirect`;
//!    when no function that can run contains one, nothing in the table can ever run.
//!    This pass finds that case (and only that case) and replaces those bodies with
//!    `unreachable`, keeping every index.
//! 3. [`data::trim`]: zero runs (memory starts zeroed) and the copy of the ABI that
//!    `rustc` also places in linear memory are cut out of the data segments.

mod data;

pub use data::trim as trim_data;

use std::collections::BTreeSet;

use wasmparser::{ElementItems, ExternalKind, Operator, Parser, Payload, TypeRef};

/// Every pass, in order: what `strata contract build` deploys.
pub fn shrink(module: &[u8]) -> Result<Vec<u8>, wasmparser::BinaryReaderError> {
    data::trim(&empty_unreachable_functions(&keep_entry_exports(module)?)?)
}

/// `module` exporting only what the runtime looks up (`call`, `deploy`, `memory`,
/// `strata_reentrant`, see [`strata_protocol::abi`]); nothing else is ever called.
pub fn keep_entry_exports(module: &[u8]) -> Result<Vec<u8>, wasmparser::BinaryReaderError> {
    use strata_protocol::abi::{EXPORT_CALL, EXPORT_DEPLOY, EXPORT_MEMORY, EXPORT_REENTRANT};
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::ExportSection(reader) = payload? {
            let range = reader.range();
            let mut kept = Vec::new();
            let mut count = 0u32;
            let mut entries = reader.into_iter_with_offsets().peekable();
            while let Some(entry) = entries.next() {
                let (start, export) = entry?;
                let end = match entries.peek() {
                    Some(Ok((next, _))) => *next,
                    _ => range.end,
                };
                if [EXPORT_CALL, EXPORT_DEPLOY, EXPORT_MEMORY, EXPORT_REENTRANT].contains(&export.name) {
                    kept.extend_from_slice(&module[start..end]);
                    count += 1;
                }
            }
            let mut section = Vec::new();
            write_u32(&mut section, count);
            section.extend_from_slice(&kept);
            return Ok(replace_section(module, range, 7, &section));
        }
    }
    Ok(module.to_vec())
}

/// `module` with every function that no export, start function or reachable
/// `call_indirect` can reach emptied; `module` itself when there is none, or when the
/// module is outside what this pass understands (an exported or imported table,
/// element expressions). Errors only on a malformed module.
pub fn empty_unreachable_functions(module: &[u8]) -> Result<Vec<u8>, wasmparser::BinaryReaderError> {
    let mut imported = 0u32;
    let mut roots = BTreeSet::new();
    let mut in_table = BTreeSet::new();
    let mut calls: Vec<Vec<u32>> = Vec::new();
    let mut indirect: Vec<bool> = Vec::new();
    let mut bodies = Vec::new();
    let mut code_section = None;
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import?.ty {
                        TypeRef::Func(_) => imported += 1,
                        TypeRef::Table(_) => return Ok(module.to_vec()),
                        _ => {}
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    match export.kind {
                        ExternalKind::Func => {
                            roots.insert(export.index);
                        }
                        ExternalKind::Table => return Ok(module.to_vec()),
                        _ => {}
                    }
                }
            }
            Payload::StartSection { func, .. } => {
                roots.insert(func);
            }
            Payload::ElementSection(reader) => {
                for element in reader {
                    match element?.items {
                        ElementItems::Functions(functions) => {
                            for f in functions {
                                in_table.insert(f?);
                            }
                        }
                        ElementItems::Expressions(..) => return Ok(module.to_vec()),
                    }
                }
            }
            Payload::CodeSectionStart { range, .. } => code_section = Some(range),
            Payload::CodeSectionEntry(body) => {
                let mut callees = Vec::new();
                let mut has_indirect = false;
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    match ops.read()? {
                        Operator::Call { function_index } | Operator::ReturnCall { function_index } => callees.push(function_index),
                        Operator::CallIndirect { .. } | Operator::ReturnCallIndirect { .. } => has_indirect = true,
                        // A function reference taken in code: anything may be reachable.
                        Operator::RefFunc { .. } => return Ok(module.to_vec()),
                        _ => {}
                    }
                }
                calls.push(callees);
                indirect.push(has_indirect);
                bodies.push(body.range());
            }
            _ => {}
        }
    }
    let Some(code_section) = code_section else { return Ok(module.to_vec()) };

    // Reachable through direct calls from the roots; then, if any of those can make an
    // indirect call, the table and what it reaches too.
    let defined = |f: u32| f.checked_sub(imported).map(|i| i as usize).filter(|i| *i < calls.len());
    let mut live = BTreeSet::new();
    let reach = |start: &BTreeSet<u32>, live: &mut BTreeSet<u32>| {
        let mut stack: Vec<u32> = start.iter().copied().filter(|f| live.insert(*f)).collect();
        while let Some(f) = stack.pop() {
            for callee in defined(f).map(|i| calls[i].as_slice()).unwrap_or_default() {
                if live.insert(*callee) {
                    stack.push(*callee);
                }
            }
        }
    };
    reach(&roots, &mut live);
    if live.iter().any(|f| defined(*f).is_some_and(|i| indirect[i])) {
        reach(&in_table, &mut live);
    }
    let dead: Vec<bool> = (0..calls.len()).map(|i| !live.contains(&(imported + i as u32))).collect();
    if !dead.iter().any(|d| *d) {
        return Ok(module.to_vec());
    }

    // The code section again, dead bodies as `(no locals) unreachable end`.
    let mut section = Vec::new();
    write_u32(&mut section, bodies.len() as u32);
    for (range, dead) in bodies.iter().zip(&dead) {
        let body: &[u8] = if *dead { &[0x00, 0x00, 0x0b] } else { &module[range.clone()] };
        write_u32(&mut section, body.len() as u32);
        section.extend_from_slice(body);
    }
    Ok(replace_section(module, code_section, 10, &section))
}

/// `module` with the section whose contents are `contents` (id `id`) replaced by `section`.
fn replace_section(module: &[u8], contents: std::ops::Range<usize>, id: u8, section: &[u8]) -> Vec<u8> {
    // The id and the LEB128 size come just before the contents.
    let header_start = section_header_start(module, contents.start);
    let mut out = Vec::with_capacity(module.len());
    out.extend_from_slice(&module[..header_start]);
    out.push(id);
    write_u32(&mut out, section.len() as u32);
    out.extend_from_slice(section);
    out.extend_from_slice(&module[contents.end..]);
    out
}

/// Where the header (id byte and LEB128 size) of the section whose contents start at
/// `contents` begins.
fn section_header_start(module: &[u8], contents: usize) -> usize {
    // The size is a LEB128 of 1 to 5 bytes ending just before the contents; its last
    // byte has the high bit clear, the others set.
    let mut start = contents - 1;
    while start > 0 && module[start - 1] & 0x80 != 0 {
        start -= 1;
    }
    start - 1
}

fn write_u32(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).unwrap()
    }

    /// Which function bodies are `unreachable` stubs.
    fn emptied(m: &[u8]) -> Vec<bool> {
        let mut out = Vec::new();
        for p in Parser::new(0).parse_all(m) {
            if let Payload::CodeSectionEntry(b) = p.unwrap() {
                out.push(m[b.range()] == [0x00, 0x00, 0x0b]);
            }
        }
        out
    }

    const TABLE_ONLY: &str = r#"(module
        (type $t (func (result i32)))
        (table 2 funcref)
        (elem (i32.const 0) $a $b)
        (func $a (result i32) i32.const 1)
        (func $b (result i32) i32.const 2 call $c)
        (func $c (param i32) (result i32) local.get 0)
        (func $main (export "call") (result i32) i32.const 7)
        (func $unused (result i32) i32.const 9))"#;

    #[test]
    fn without_a_reachable_call_indirect_the_table_is_dead() {
        let before = module(TABLE_ONLY);
        let after = empty_unreachable_functions(&before).unwrap();
        assert!(after.len() < before.len());
        wasmparser::Validator::new().validate_all(&after).unwrap();
        // $a, $b, $c and $unused are emptied; $main keeps its body.
        assert_eq!(emptied(&after), [true, true, true, false, true]);
    }

    #[test]
    fn a_reachable_call_indirect_keeps_the_table() {
        let with_indirect = TABLE_ONLY.replace(
            r#"(func $main (export "call") (result i32) i32.const 7)"#,
            r#"(func $main (export "call") (result i32) i32.const 0 call_indirect (type $t))"#,
        );
        let before = module(&with_indirect);
        let after = empty_unreachable_functions(&before).unwrap();
        wasmparser::Validator::new().validate_all(&after).unwrap();
        // Only $unused goes.
        assert_eq!(emptied(&after), [false, false, false, false, true]);
    }

    #[test]
    fn nothing_to_remove_returns_the_module_unchanged() {
        let m = module(r#"(module (func (export "call") call $f) (func $f))"#);
        assert_eq!(empty_unreachable_functions(&m).unwrap(), m);
        let exported_table = module(r#"(module (table (export "t") 1 funcref) (elem (i32.const 0) $f) (func $f) (func (export "call")))"#);
        assert_eq!(empty_unreachable_functions(&exported_table).unwrap(), exported_table);
    }

    #[test]
    fn only_the_entry_points_stay_exported_and_what_only_exports_reached_goes() {
        let m = module(
            r#"(module (memory (export "memory") 1) (global (export "__heap_base") i32 (i32.const 0))
                (func $memcpy (export "memcpy")) (func (export "call") call $used) (func $used)
                (func (export "deploy")) (func (export "strata_reentrant")))"#,
        );
        let out = shrink(&m).unwrap();
        wasmparser::Validator::new().validate_all(&out).unwrap();
        let mut names = Vec::new();
        for p in Parser::new(0).parse_all(&out) {
            if let Payload::ExportSection(r) = p.unwrap() {
                names.extend(r.into_iter().map(|e| e.unwrap().name.to_string()));
            }
        }
        assert_eq!(names, ["memory", "call", "deploy", "strata_reentrant"]);
        assert_eq!(emptied(&out), [true, false, false, false, false]);
    }
}
