//! Deploy-time checks of a contract module, beyond Wasm validation.

use strata_primitives::abi;
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

use crate::{error::DeployError, limits::Limits};

/// What a deploy learned about a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Exports a `deploy` constructor.
    pub has_deploy: bool,
    /// Exports the `strata_reentrant` marker: it accepts calls while already on the call stack.
    pub reentrant: bool,
    /// Imports the privileged `system` function: only installable at genesis.
    pub privileged: bool,
    /// Functions the module defines (what compiling it costs, with its size).
    pub functions: u32,
}

/// Checks the module's structure: imports only the host ABI, no start function,
/// one memory within limits, small tables, and the required exports.
/// Wasm validity and forbidden features are checked by the engine when it compiles.
pub fn inspect(code: &[u8], limits: &Limits) -> Result<ModuleInfo, DeployError> {
    if code.len() > limits.max_code_size {
        return Err(DeployError::TooLarge { size: code.len(), max: limits.max_code_size });
    }
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    let mut privileged = false;
    let mut memories = 0u32;
    // Whether each type is `() -> ()`, and each function's type (imports first).
    let mut unit_types: Vec<bool> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut imported = 0usize;
    for payload in Parser::new(0).parse_all(code) {
        let payload = payload.map_err(|e| DeployError::Invalid(e.to_string()))?;
        match payload {
            Payload::Version { encoding: wasmparser::Encoding::Component, .. } => {
                return Err(DeployError::Invalid("components are not contracts: deploy a core Wasm module".into()));
            }
            Payload::StartSection { .. } => return Err(DeployError::StartFunction),
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.map_err(|e| DeployError::Invalid(e.to_string()))?;
                    unit_types.push(ty.params().is_empty() && ty.results().is_empty());
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    func_types.push(ty.map_err(|e| DeployError::Invalid(e.to_string()))?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| DeployError::Invalid(e.to_string()))?;
                    if let TypeRef::Func(ty) = import.ty {
                        func_types.push(ty);
                        imported = imported.saturating_add(1);
                    }
                    let is_func = matches!(import.ty, TypeRef::Func(_));
                    if import.module == abi::MODULE && is_func && import.name == abi::SYSTEM_IMPORT {
                        privileged = true;
                        continue;
                    }
                    if import.module != abi::MODULE || !is_func || !abi::IMPORTS.contains(&import.name) {
                        return Err(DeployError::ForbiddenImport { module: import.module.to_string(), name: import.name.to_string() });
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(|e| DeployError::Invalid(e.to_string()))?;
                    memories = memories.saturating_add(1);
                    if memory.memory64 || memory.shared {
                        return Err(DeployError::Invalid("64-bit and shared memories are not allowed".into()));
                    }
                    if memory.initial > u64::from(limits.max_memory_pages) {
                        return Err(DeployError::MemoryTooLarge { pages: memory.initial, max: limits.max_memory_pages });
                    }
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(|e| DeployError::Invalid(e.to_string()))?;
                    if table.ty.initial > u64::from(limits.max_table_elements) {
                        return Err(DeployError::TableTooLarge { elements: table.ty.initial, max: limits.max_table_elements });
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| DeployError::Invalid(e.to_string()))?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            _ => {}
        }
    }
    if memories != 1 {
        return Err(DeployError::Invalid(format!("a contract defines exactly one memory, this module defines {memories}")));
    }
    let has = |name: &str, kind: ExternalKind| exports.iter().any(|(n, k, _)| n == name && *k == kind);
    if !has(abi::EXPORT_MEMORY, ExternalKind::Memory) {
        return Err(DeployError::MissingExport(abi::EXPORT_MEMORY));
    }
    if !has(abi::EXPORT_CALL, ExternalKind::Func) {
        return Err(DeployError::MissingExport(abi::EXPORT_CALL));
    }
    // Entry points are called as `() -> ()`: a wrong signature is refused here, at
    // deploy, instead of failing every later call.
    for (name, kind, index) in &exports {
        if *kind != ExternalKind::Func || ![abi::EXPORT_CALL, abi::EXPORT_DEPLOY].contains(&name.as_str()) {
            continue;
        }
        let unit = func_types.get(*index as usize).and_then(|ty| unit_types.get(*ty as usize)).copied().unwrap_or(false);
        if !unit {
            return Err(DeployError::Invalid(format!("export `{name}` must be a function of type () -> ()")));
        }
    }
    Ok(ModuleInfo {
        has_deploy: has(abi::EXPORT_DEPLOY, ExternalKind::Func),
        reentrant: has(abi::EXPORT_REENTRANT, ExternalKind::Func),
        privileged,
        functions: u32::try_from(func_types.len().saturating_sub(imported)).unwrap_or(u32::MAX),
    })
}
