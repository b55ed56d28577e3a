//! Integration tests of strata-consensus (one binary for the crate): the seeded
//! simulator's sweeps, scenarios run through it, and single cores driven by hand
//! (restarts, blocks, view changes, validator sets per height).

mod blocks;
mod restart;
mod scenarios;
mod sets;
mod sim;
mod view_change;

use sim::{Params, mix, run};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Instant;
use strata_testdata::Rng;

/// Seeds to run: `STRATA_SIM_SEEDS`, or `default`.
fn seed_count(default: u64) -> u64 {
    std::env::var("STRATA_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Runs `default_count` random settings (seeds `base..`) for `n` validators; a failure
/// names its seed and the command that replays it alone.
fn sweep(test: &str, n: usize, default_count: u64, default_base: u64) {
    let (_, base) = Rng::from_env(default_base);
    let count = seed_count(default_count);
    let started = Instant::now();
    let (mut heights, mut views, mut syncs, mut crashes, mut messages, mut max_heal) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut slowest = base;
    let mut byzantine = 0u64;
    let mut switched = 0u64;
    let (mut slot_runs, mut slot_switches) = (0u64, 0u64);
    for i in 0..count {
        let seed = base.wrapping_add(i);
        let mut rng = Rng::new(mix(seed ^ n as u64));
        let params = Params::random(n, &mut rng);
        let replay = format!(
            "replay: STRATA_SEED={seed} STRATA_SIM_SEEDS=1 cargo test -p strata-consensus --test it {test} -- --nocapture \
             (add STRATA_SIM_TRACE=1 to trace every event)"
        );
        match catch_unwind(AssertUnwindSafe(|| run(&params, seed))) {
            Ok(Ok(o)) => {
                heights += o.min_height;
                views += o.view_changes;
                syncs += o.syncs;
                crashes += o.crashes;
                messages += o.messages;
                if o.heal_ms > max_heal {
                    max_heal = o.heal_ms;
                    slowest = seed;
                }
                byzantine += params.byzantine.len() as u64;
                switched += u64::from(params.replace.is_some());
                slot_runs += u64::from(params.slots.is_some());
                slot_switches += o.switches;
            }
            Ok(Err(e)) => panic!("seed {seed} failed (n = {n}): {e}\nparams: {params:?}\n{replay}"),
            Err(panic) => {
                eprintln!("seed {seed} panicked (n = {n})\nparams: {params:?}\n{replay}");
                resume_unwind(panic)
            }
        }
    }
    println!(
        "{test}: {count} seeds (n = {n}, seeds {base}..{}) passed in {:.1?}: {heights} heights committed, {views} new views, \
         {syncs} catch-ups, {crashes} crashes, {byzantine} faulty validators, {switched} runs switching a validator's key, \
         {slot_runs} runs with slots and backups ({slot_switches} role switches by the rule), {messages} messages; \
         slowest recovery after healing {max_heal} ms (seed {slowest})",
        base.wrapping_add(count),
        started.elapsed()
    );
}

#[test]
fn sim_n4() {
    sweep("sim_n4", 4, 750, 0x5eed_0004);
}

#[test]
fn sim_n7() {
    sweep("sim_n7", 7, 250, 0x5eed_0007);
}
