//! Bundles the contract SDK into the `strata` binary.
//!
//! `strata contract new` must work for someone who has only the binary (`cargo install`,
//! a copied file, an offline machine), so the binary carries the sources of the SDK and
//! of the runtime crates its test harness runs, in this checkout's layout, with:
//! - a workspace root manifest (the crates inherit versions and dependencies from it),
//!   with only the bundled members and no profiles;
//! - each crate's manifest without dev-dependencies, tests, benches or examples;
//! - a `Cargo.lock` pinning what this checkout was built and tested with (the node
//!   workspace's, plus the SDK's own entries from the contracts workspace), so a new
//!   contract builds with the crates already in cargo's cache, offline.
//!
//! The bundle is one blob in `OUT_DIR`: entries of (path length u32 LE, path, length
//! u64 LE, bytes), and its FNV-1a hash names the unpacked directory.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// Crates bundled, as paths in the checkout (the layout is kept, so relative path
/// dependencies between them still resolve).
const CRATES: &[&str] = &[
    "runtime/protocol",
    "runtime/primitives",
    "runtime/storage",
    "runtime/trie",
    "runtime/state",
    "runtime/vm",
    "runtime/executor",
    "sdk/harness",
    "sdk/strata-sdk",
    "sdk/strata-sdk-macros",
];

/// Directories of a crate that are not part of what it builds.
const SKIP_DIRS: &[&str] = &["tests", "benches", "examples", "target", "proptest-regressions"];

/// Lock entries taken from the contracts workspace: the SDK and what it alone uses.
const SDK_ROOTS: &[&str] = &["strata-sdk", "strata-sdk-macros"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for krate in CRATES {
        let dir = root.join(krate);
        println!("cargo:rerun-if-changed={}", dir.display());
        collect(&dir, krate, &mut files);
    }
    for f in ["Cargo.toml", "Cargo.lock", "contracts/Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let workspace = fs::read_to_string(root.join("Cargo.toml")).expect("the workspace Cargo.toml");
    files.insert("Cargo.toml".into(), root_manifest(&workspace).into_bytes());
    let node_lock = fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    let sdk_lock = fs::read_to_string(root.join("contracts/Cargo.lock")).expect("contracts/Cargo.lock");
    files.insert("Cargo.lock".into(), merge_locks(&node_lock, &sdk_lock).into_bytes());

    let mut blob = Vec::new();
    for (path, bytes) in &files {
        blob.extend_from_slice(&(path.len() as u32).to_le_bytes());
        blob.extend_from_slice(path.as_bytes());
        blob.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        blob.extend_from_slice(bytes);
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in &blob {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("sdk.bundle"), &blob).expect("write the SDK bundle");
    println!("cargo:rustc-env=STRATA_SDK_HASH={hash:016x}");
}

/// Adds the files of crate directory `dir` (named `rel` in the bundle).
fn collect(dir: &Path, rel: &str, files: &mut BTreeMap<String, Vec<u8>>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let inner = format!("{rel}/{name}");
        if path.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                collect(&path, &inner, files);
            }
        } else if name == "Cargo.toml" {
            let text = fs::read_to_string(&path).expect("a crate manifest");
            files.insert(inner, crate_manifest(&text).into_bytes());
        } else if name != "Cargo.lock" {
            files.insert(inner, fs::read(&path).expect("a crate file"));
        }
    }
}

/// A crate manifest without what only its own tests use.
fn crate_manifest(text: &str) -> String {
    let mut doc: toml_edit::DocumentMut = text.parse().expect("a crate manifest parses");
    for table in ["dev-dependencies", "test", "bench", "example"] {
        doc.remove(table);
    }
    if let Some(targets) = doc.get_mut("target").and_then(|t| t.as_table_like_mut()) {
        for (_, t) in targets.iter_mut() {
            if let Some(t) = t.as_table_like_mut() {
                t.remove("dev-dependencies");
            }
        }
    }
    doc.to_string()
}

/// The workspace root of the bundle: the node workspace's shared package fields,
/// lints and dependencies, with only bundled members and no profiles.
fn root_manifest(text: &str) -> String {
    let mut doc: toml_edit::DocumentMut = text.parse().expect("the workspace manifest parses");
    doc.remove("profile");
    let ws = doc["workspace"].as_table_mut().expect("a [workspace] table");
    let mut members = toml_edit::Array::new();
    for m in CRATES {
        members.push(*m);
    }
    ws["members"] = toml_edit::value(members);
    ws.remove("exclude");
    let bundled: BTreeSet<&str> = CRATES.iter().copied().collect();
    if let Some(deps) = ws.get_mut("dependencies").and_then(|d| d.as_table_like_mut()) {
        let unbundled: Vec<String> = deps
            .iter()
            .filter(|(_, v)| v.get("path").and_then(|p| p.as_str()).is_some_and(|p| !bundled.contains(p)))
            .map(|(k, _)| k.to_string())
            .collect();
        for k in unbundled {
            deps.remove(&k);
        }
    }
    let mut out = String::from(
        "# The Strata contract SDK, unpacked by `strata contract new` (do not edit: it is\n# rewritten from the binary when missing).\n",
    );
    out.push_str(&doc.to_string());
    out
}

/// One `[[package]]` of a lock file.
#[derive(Clone)]
struct Package {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    dependencies: Vec<String>,
}

fn parse_lock(text: &str) -> Vec<Package> {
    let doc: toml_edit::DocumentMut = text.parse().expect("a lock file parses");
    let packages = doc["package"].as_array_of_tables().expect("[[package]] entries");
    packages
        .iter()
        .map(|p| Package {
            name: p["name"].as_str().expect("name").to_string(),
            version: p["version"].as_str().expect("version").to_string(),
            source: p.get("source").and_then(|s| s.as_str()).map(str::to_string),
            checksum: p.get("checksum").and_then(|s| s.as_str()).map(str::to_string),
            dependencies: p
                .get("dependencies")
                .and_then(|d| d.as_array())
                .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        })
        .collect()
}

/// The node workspace's lock plus the SDK's entries of the contracts workspace's lock;
/// a dependency named without a version in its own lock gets one where the merged lock
/// has several versions of that name.
fn merge_locks(node: &str, sdk: &str) -> String {
    let node = parse_lock(node);
    let sdk = parse_lock(sdk);
    // The SDK's closure in its lock.
    let by_name = |lock: &[Package], dep: &str| -> Option<Package> {
        let mut parts = dep.split(' ');
        let name = parts.next()?;
        let version = parts.next();
        lock.iter().find(|p| p.name == name && version.is_none_or(|v| p.version == v)).cloned()
    };
    let mut closure: Vec<Package> = Vec::new();
    let mut queue: Vec<String> = SDK_ROOTS.iter().map(|s| s.to_string()).collect();
    let mut seen = BTreeSet::new();
    while let Some(dep) = queue.pop() {
        let Some(p) = by_name(&sdk, &dep) else { continue };
        if !seen.insert((p.name.clone(), p.version.clone())) {
            continue;
        }
        queue.extend(p.dependencies.iter().cloned());
        closure.push(p);
    }
    let known: BTreeSet<(String, String)> = node.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
    let mut merged: Vec<(Package, &[Package])> = node.iter().map(|p| (p.clone(), node.as_slice())).collect();
    for p in closure {
        if !known.contains(&(p.name.clone(), p.version.clone())) {
            merged.push((p, sdk.as_slice()));
        }
    }
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    for (p, _) in &merged {
        *versions.entry(p.name.clone()).or_default() += 1;
    }
    merged.sort_by(|a, b| (&a.0.name, &a.0.version).cmp(&(&b.0.name, &b.0.version)));
    let mut out =
        String::from("# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n");
    for (p, lock) in &merged {
        out.push_str(&format!("\n[[package]]\nname = \"{}\"\nversion = \"{}\"\n", p.name, p.version));
        if let Some(s) = &p.source {
            out.push_str(&format!("source = \"{s}\"\n"));
        }
        if let Some(c) = &p.checksum {
            out.push_str(&format!("checksum = \"{c}\"\n"));
        }
        if !p.dependencies.is_empty() {
            out.push_str("dependencies = [\n");
            for d in &p.dependencies {
                let name = d.split(' ').next().unwrap_or(d);
                let qualified = if !d.contains(' ') && versions.get(name).copied().unwrap_or(0) > 1 {
                    let own = by_name(lock, d).expect("a lock names only packages it holds");
                    format!("{name} {}", own.version)
                } else {
                    d.clone()
                };
                out.push_str(&format!(" \"{qualified}\",\n"));
            }
            out.push_str("]\n");
        }
    }
    out
}
