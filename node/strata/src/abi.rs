//! Typed Solidity-ABI handling for the CLI, as Foundry's `cast` does it: functions named
//! by signature (`"transfer(address,uint256)"`, `"balanceOf(address)(uint256)"`) or by
//! name from an ABI, arguments typed from strings, and return values, events and
//! errors decoded for people to read.
//!
//! Where an ABI comes from: a file (`--abi`, a JSON array or a Foundry-style artifact
//! with an `abi` field) or the contract itself: every Strata module carries its ABI in
//! its `strata_abi` custom section, so the code at an address describes itself.

use alloy_dyn_abi::{DynSolType, DynSolValue, FunctionExt, Specifier};
// Values, events and reverts are shown as the explorer shows them: one implementation.
use alloy_json_abi::{Function, JsonAbi, Param, StateMutability};
use anyhow::{Context, bail};
use serde_json::Value;
use strata_primitives::{U256, hex};
use strata_verify::abi::format_named;
pub use strata_verify::abi::{format_log, format_revert, format_value};

/// An ABI from a file: a JSON array of entries, or an object with an `abi` array
/// (Foundry and Hardhat artifacts).
pub fn load_file(path: &std::path::Path) -> anyhow::Result<JsonAbi> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let entries = if v.is_array() { v } else { v["abi"].clone() };
    anyhow::ensure!(entries.is_array(), "{} holds no ABI (a JSON array, or an object with an `abi` array)", path.display());
    serde_json::from_value(entries).with_context(|| format!("{} is not a Solidity ABI", path.display()))
}

/// The ABI a module carries in its `strata_abi` section (`None`: it carries none).
pub fn from_module(wasm: &[u8]) -> anyhow::Result<Option<JsonAbi>> {
    let entries = crate::contract::extract_abi(wasm)?;
    if entries.is_empty() {
        return Ok(None);
    }
    Ok(Some(serde_json::from_value(Value::Array(entries)).context("the module's ABI section is not a Solidity ABI")?))
}

/// Parses a function signature: `name(types)`, `name(types)(return types)` (cast's
/// form) or human-readable `function name(types) view returns (types)`.
pub fn parse_signature(sig: &str) -> anyhow::Result<Function> {
    let sig = sig.trim();
    let human = if sig.starts_with("function ") {
        sig.to_string()
    } else {
        // Split `name(inputs)(outputs)` at the parenthesis closing the inputs.
        let open = sig.find('(').with_context(|| format!("{sig:?} is not a function signature"))?;
        let mut depth = 0usize;
        let mut close = None;
        for (i, c) in sig.char_indices().skip_while(|(i, _)| *i < open) {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close.with_context(|| format!("unbalanced parentheses in {sig:?}"))?;
        let (head, rest) = sig.split_at(close + 1);
        let rest = rest.trim();
        if rest.is_empty() { format!("function {head}") } else { format!("function {head} returns {rest}") }
    };
    Function::parse(&human).map_err(|e| anyhow::anyhow!("cannot parse the signature {sig:?}: {e}"))
}

/// The function `spec` names: a signature (preferring the ABI's entry with the same
/// selector, which knows names, mutability and outputs) or a name looked up in `abi`,
/// overloads told apart by argument count.
pub fn resolve_function(spec: &str, abi: Option<&JsonAbi>, nargs: usize) -> anyhow::Result<Function> {
    if spec.contains('(') {
        let parsed = parse_signature(spec)?;
        let known = abi.and_then(|a| a.functions().find(|f| f.selector() == parsed.selector()));
        return Ok(match known {
            // A signature with return types given keeps them if the ABI has none.
            Some(f) if f.outputs.is_empty() && !parsed.outputs.is_empty() => Function { outputs: parsed.outputs, ..f.clone() },
            Some(f) => f.clone(),
            None => parsed,
        });
    }
    let Some(abi) = abi else { bail!("no ABI to find `{spec}` in: give a signature such as \"{spec}(uint256)\", or --abi FILE") };
    let overloads = abi.function(spec).map(Vec::as_slice).unwrap_or_default();
    let fitting: Vec<&Function> = overloads.iter().filter(|f| f.inputs.len() == nargs).collect();
    match fitting.as_slice() {
        [f] => Ok((*f).clone()),
        [] if overloads.is_empty() => {
            let names: Vec<String> = abi.functions().map(|f| f.signature()).collect();
            bail!("the ABI has no function `{spec}`; it has: {}", names.join(", "))
        }
        [] => {
            let sigs: Vec<String> = overloads.iter().map(|f| f.signature()).collect();
            bail!("`{spec}` takes {} argument(s), {nargs} given", sigs.join(" or "))
        }
        many => {
            let sigs: Vec<String> = many.iter().map(|f| f.signature()).collect();
            bail!("`{spec}` is overloaded: name one by signature ({})", sigs.join(", "))
        }
    }
}

/// Whether calling `f` changes nothing (so it is answered by `eth_call`).
pub fn is_read_only(f: &Function) -> bool {
    matches!(f.state_mutability, StateMutability::View | StateMutability::Pure)
}

/// Types `args` as `params` say (`"Tok"`, `1000000`, `0x…`, `[1,2]`, `(1,true)`, `1.5e18`
/// is not an integer: write `1500000000000000000`).
pub fn coerce_args(params: &[Param], args: &[String]) -> anyhow::Result<Vec<DynSolValue>> {
    if params.len() != args.len() {
        let types: Vec<String> = params.iter().map(describe_param).collect();
        bail!("{} argument(s) expected ({}), {} given", params.len(), types.join(", "), args.len());
    }
    params
        .iter()
        .zip(args)
        .map(|(p, a)| {
            let ty: DynSolType = p.resolve().with_context(|| format!("unsupported parameter type {}", p.ty))?;
            ty.coerce_str(a).with_context(|| format!("argument {} {:?} is not a valid {}", describe_param(p), a, ty))
        })
        .collect()
}

fn describe_param(p: &Param) -> String {
    if p.name.is_empty() { p.ty.clone() } else { format!("{} {}", p.ty, p.name) }
}

/// A function's return data, decoded (one value plainly, several as a tuple); raw hex
/// if the function declares no outputs or the data does not fit them.
pub fn format_output(f: &Function, data: &[u8]) -> String {
    if f.outputs.is_empty() {
        return if data.is_empty() { String::new() } else { format!("0x{}", hex::encode(data)) };
    }
    match f.abi_decode_output(data) {
        Ok(values) if values.len() == 1 => format_value(&values[0]),
        Ok(values) => format!("({})", format_named(&f.outputs, &values)),
        Err(_) => format!("0x{} (does not decode as {})", hex::encode(data), describe_outputs(f)),
    }
}

fn describe_outputs(f: &Function) -> String {
    f.outputs.iter().map(|p| p.ty.clone()).collect::<Vec<_>>().join(",")
}

/// Parses an amount of ether: wei (`1000`, `0x3e8`) or with a unit (`1.5ether`, `1 eth`,
/// `20gwei`, `7wei`).
pub fn parse_amount(s: &str) -> anyhow::Result<U256> {
    let t = s.trim().to_ascii_lowercase();
    if let Some(h) = t.strip_prefix("0x") {
        return U256::from_str_radix(h, 16).with_context(|| format!("{s:?} is not a hex amount"));
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let decimals: usize = match unit {
        "" | "wei" => 0,
        "gwei" => 9,
        "ether" | "eth" => 18,
        other => bail!("unknown unit {other:?} in {s:?}: use wei, gwei or ether"),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        bail!("{s:?} is not an amount");
    }
    if frac.len() > decimals {
        bail!("{s:?} has more decimals than the unit allows ({decimals})");
    }
    let digits = format!("{whole}{frac:0<decimals$}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(digits, 10).with_context(|| format!("{s:?} is not an amount (or is too large)"))
}

/// Wei in ether, exactly: `1.5`, `0.000021`, `10000`.
pub fn format_ether(wei: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18u64));
    let (whole, frac) = (wei / unit, wei % unit);
    if frac.is_zero() {
        return whole.to_string();
    }
    let frac = format!("{:0>18}", frac.to_string());
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use alloy_dyn_abi::JsonAbiExt;
    use strata_primitives::B256;

    use super::*;

    fn erc20() -> JsonAbi {
        JsonAbi::parse([
            "function transfer(address to, uint256 amount) returns (bool)",
            "function balanceOf(address owner) view returns (uint256)",
            "function approve(address spender, uint256 amount) returns (bool)",
            "function approve(address spender) returns (bool)",
            "event Transfer(address indexed from, address indexed to, uint256 value)",
            "error Insufficient(uint256 have, uint256 want)",
        ])
        .unwrap()
    }

    #[test]
    fn signatures_in_every_form_parse() {
        assert_eq!(parse_signature("increment()").unwrap().signature(), "increment()");
        let f = parse_signature("balanceOf(address)(uint256)").unwrap();
        assert_eq!(f.signature(), "balanceOf(address)");
        assert_eq!(f.outputs.len(), 1);
        let f = parse_signature("function f((uint256,bool)[] xs) view returns (string)").unwrap();
        assert!(is_read_only(&f));
        assert_eq!(f.signature(), "f((uint256,bool)[])");
        assert!(parse_signature("f(uint256").is_err());
    }

    #[test]
    fn names_resolve_through_the_abi_and_overloads_by_arity() {
        let abi = erc20();
        let f = resolve_function("balanceOf", Some(&abi), 1).unwrap();
        assert!(is_read_only(&f));
        assert_eq!(resolve_function("approve", Some(&abi), 1).unwrap().signature(), "approve(address)");
        assert!(resolve_function("approve", Some(&abi), 3).unwrap_err().to_string().contains("argument"));
        assert!(resolve_function("mint", Some(&abi), 0).unwrap_err().to_string().contains("has no function"));
        assert!(resolve_function("mint", None, 0).unwrap_err().to_string().contains("signature"));
        // A signature takes the ABI's richer entry (mutability, names).
        let f = resolve_function("balanceOf(address)", Some(&abi), 1).unwrap();
        assert_eq!(f.inputs[0].name, "owner");
        assert!(is_read_only(&f));
    }

    #[test]
    fn arguments_are_typed_and_values_printed() {
        let f = parse_signature("f(string,uint256,address,bool,bytes,uint8[])").unwrap();
        let args: Vec<String> = ["Tok", "1000000", "0x000000000000000000000000000000000000dEaD", "true", "0x0102", "[1,2,3]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let values = coerce_args(&f.inputs, &args).unwrap();
        let encoded = f.abi_encode_input(&values).unwrap();
        let back = f.abi_decode_input(&encoded[4..]).unwrap();
        let shown: Vec<String> = back.iter().map(format_value).collect();
        assert_eq!(shown, ["\"Tok\"", "1000000", "0x000000000000000000000000000000000000dEaD", "true", "0x0102", "[1, 2, 3]"]);
        let err = coerce_args(&f.inputs[..1], &["a".into(), "b".into()]).unwrap_err().to_string();
        assert!(err.contains("1 argument(s) expected"), "{err}");
        let err = coerce_args(&f.inputs[1..2], &["ten".into()]).unwrap_err().to_string();
        assert!(err.contains("not a valid uint256"), "{err}");
    }

    #[test]
    fn reverts_and_events_decode() {
        let abi = erc20();
        let e = abi.errors().next().unwrap();
        let data = e.abi_encode_input(&[DynSolValue::Uint(U256::from(1), 256), DynSolValue::Uint(U256::from(5), 256)]).unwrap();
        assert_eq!(format_revert(Some(&abi), &data), "Insufficient(have: 1, want: 5)");
        let mut panic = vec![0x4e, 0x48, 0x7b, 0x71];
        panic.extend(U256::from(0x11).to_be_bytes::<32>());
        assert_eq!(format_revert(None, &panic), "Panic(0x11: arithmetic overflow or underflow)");
        let mut error = vec![0x08, 0xc3, 0x79, 0xa0];
        error.extend(DynSolValue::String("no".into()).abi_encode_params());
        assert_eq!(format_revert(None, &error), "Error(\"no\")");
        assert!(format_revert(None, &[1, 2, 3, 4, 5]).contains("does not declare"));

        let event = abi.events().next().unwrap();
        let from = B256::left_padding_from(&[1]);
        let to = B256::left_padding_from(&[2]);
        let data = U256::from(7).to_be_bytes::<32>();
        let shown = format_log(&abi, &[event.selector(), from, to], &data).unwrap();
        assert_eq!(
            shown,
            "Transfer(from: 0x0000000000000000000000000000000000000001, to: 0x0000000000000000000000000000000000000002, value: 7)"
        );
        assert!(format_log(&abi, &[B256::ZERO], &[]).is_none());
    }

    #[test]
    fn amounts_parse_in_units_and_print_in_ether() {
        assert_eq!(parse_amount("1000").unwrap(), U256::from(1000));
        assert_eq!(parse_amount("0x3e8").unwrap(), U256::from(1000));
        assert_eq!(parse_amount("1.5ether").unwrap(), U256::from(1_500_000_000_000_000_000u128));
        assert_eq!(parse_amount("20 gwei").unwrap(), U256::from(20_000_000_000u64));
        assert_eq!(parse_amount(".5eth").unwrap(), U256::from(500_000_000_000_000_000u128));
        assert!(parse_amount("1.5").is_err());
        assert!(parse_amount("1 btc").is_err());
        assert!(parse_amount("1.0000000000000000001ether").is_err());
        assert_eq!(format_ether(U256::from(1_500_000_000_000_000_000u128)), "1.5");
        assert_eq!(format_ether(U256::from(21_000_000_000_000u64)), "0.000021");
        assert_eq!(format_ether(U256::ZERO), "0");
    }
}
