//! The switch rule's properties, on hand-written cases and seeded random runs.

use super::*;
use alloc::{format, vec, vec::Vec};

fn key(i: u8) -> Address {
    Address::repeat_byte(i)
}

/// Four slots, each with a backup; slot `i`'s primary is `key(10 + i)`, backup `key(20 + i)`.
fn four() -> (SlotParams, Vec<SlotRecord>) {
    let slots = (0..4u8).map(|i| SlotRecord::new(key(10 + i), Some(key(20 + i)), key(30 + i), 0, key(40 + i))).collect();
    (SlotParams::new(4, 5), slots)
}

/// Everyone alive except: `dead_active` slots' active keys are dead (their alternates alive).
fn observe(slots: &[SlotRecord], height: u64, proposer: u32, dead_active: &[usize]) -> Observation {
    Observation {
        height,
        proposer,
        slots: slots
            .iter()
            .enumerate()
            .map(|(i, s)| SlotSeen { active: s.active_at(height - 1), active_alive: !dead_active.contains(&i), alternate_alive: true })
            .collect(),
    }
}

/// One block `h` (proposer `h mod 4`) with the given active keys dead.
fn step(params: &SlotParams, slots: &mut [SlotRecord], window: &mut Vec<WindowEntry>, h: u64, dead_active: &[usize]) -> Vec<Switch> {
    let seen = observe(slots, h, (h % 4) as u32, dead_active);
    end_of_block(params, slots, window, &seen)
}

#[test]
fn keys_and_defaults() {
    assert_eq!(slot_key(0x0102_0304), *b"slot\x01\x02\x03\x04");
    let p = SlotParams::new(4, 20);
    assert_eq!((p.window, p.cooldown, p.f()), (20, 40, 1));
    assert_eq!(SlotParams::new(7, 0).window, 1);
    assert_eq!(SlotParams::new(7, 1).cooldown, MIN_SWITCH_SPACING);
    assert_eq!(SlotParams::window_for_block_time(500), 20);
    assert_eq!(SlotParams::window_for_block_time(20_000), 3);
}

#[test]
fn a_dead_active_key_is_replaced_after_the_window_effective_two_blocks_later() {
    let (params, mut slots) = four();
    let mut window = Vec::new();
    let mut decided = None;
    for h in 1..=20u64 {
        let seen = observe(&slots, h, (h % 4) as u32, &[2]);
        let switches = end_of_block(&params, &mut slots, &mut window, &seen);
        if let Some(s) = switches.first() {
            decided = Some(*s);
            break;
        }
    }
    let s = decided.expect("a switch");
    // N = 5 blocks of evidence: blocks 1..=5, decided at the end of block 5.
    assert_eq!((s.slot, s.decided, s.effective, s.active, s.demoted, s.planned), (2, 5, 7, key(22), key(12), false));
    // The set of heights 5 and 6 still has the old key; from 7 the new one.
    assert_eq!(validator_set_at(&slots, 5).validators[2], key(12));
    assert_eq!(validator_set_at(&slots, 6).validators[2], key(12));
    assert_eq!(validator_set_at(&slots, 7).validators[2], key(22));
    assert_eq!(slots[2].alternate_at(7), Some(key(12)));
    assert_eq!(slots[2].alternate_at(6), Some(key(22)));
}

#[test]
fn one_block_of_life_resets_the_evidence() {
    let (params, mut slots) = four();
    let mut window = Vec::new();
    for h in 1..=30u64 {
        // Dead except every fourth block, where it signed.
        let dead: &[usize] = if h % 4 == 0 { &[] } else { &[1] };
        let seen = observe(&slots, h, (h % 4) as u32, dead);
        assert!(end_of_block(&params, &mut slots, &mut window, &seen).is_empty(), "height {h}");
    }
}

#[test]
fn a_dead_alternate_means_no_switch() {
    let (params, mut slots) = four();
    let mut window = Vec::new();
    for h in 1..=30u64 {
        let mut seen = observe(&slots, h, (h % 4) as u32, &[0]);
        seen.slots[0].alternate_alive = false;
        assert!(end_of_block(&params, &mut slots, &mut window, &seen).is_empty());
    }
    assert_eq!(slots[0].active(), key(10));
}

#[test]
fn evidence_from_fewer_than_f_plus_one_proposers_switches_nothing() {
    let (params, mut slots) = four();
    let mut window = Vec::new();
    // One proposer (a stable primary, or one Byzantine proposer proposing everything).
    for h in 1..=30u64 {
        let seen = observe(&slots, h, 3, &[1]);
        assert!(end_of_block(&params, &mut slots, &mut window, &seen).is_empty());
    }
    // Once a second proposer shares the window, the evidence suffices.
    let seen = observe(&slots, 31, 0, &[1]);
    let s = end_of_block(&params, &mut slots, &mut window, &seen);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].slot, 1);
}

#[test]
fn a_switched_slot_waits_out_its_cooldown_and_a_revived_primary_stays_the_alternate() {
    let (params, mut slots) = four();
    let mut window = Vec::new();
    let mut switches = Vec::new();
    // Slot 0's primary dies: the backup takes over at the end of block 5.
    let mut h = 0;
    while switches.is_empty() {
        h += 1;
        switches = step(&params, &mut slots, &mut window, h, &[0]);
    }
    assert_eq!(h, 5);
    // The primary comes back (alive, as alternate): nothing changes however long.
    for h in 6..=40u64 {
        assert!(step(&params, &mut slots, &mut window, h, &[]).is_empty());
    }
    assert_eq!(slots[0].active(), key(20));
    // Now the backup dies: evidence only counts from when the new roles are in effect,
    // and the cooldown (2N = 10 blocks after block 5) is long past: back at 45.
    let mut back = None;
    for h in 41..=60u64 {
        if let Some(s) = step(&params, &mut slots, &mut window, h, &[0]).first() {
            back = Some(*s);
            break;
        }
    }
    let back = back.expect("switched back");
    assert_eq!((back.decided, back.active), (45, key(10)));

    // A fresh slot whose new active dies right after its switch: the cooldown holds it.
    let (params, mut slots) = four();
    let mut window = Vec::new();
    let mut decided = Vec::new();
    for h in 1..=40u64 {
        for s in step(&params, &mut slots, &mut window, h, &[3]) {
            decided.push(s.decided);
        }
    }
    // At 5; then evidence restarts at 8 (roles in effect from 7, observed by block 8) and
    // would suffice at 12, but the cooldown lasts until 15.
    assert_eq!(decided[..2], [5, 15]);
}

#[test]
fn planned_switches_happen_at_their_height_and_only_by_the_operator() {
    let (params, mut slots) = four();
    assert_eq!(schedule(&mut slots, 9, key(40), 20, 10), Err(PlanError::UnknownSlot(9)));
    assert_eq!(schedule(&mut slots, 1, key(40), 20, 10), Err(PlanError::NotOperator { slot: 1, sender: key(40) }));
    assert_eq!(schedule(&mut slots, 1, key(41), 12, 10), Err(PlanError::TooSoon { at: 12, earliest: 13 }));
    let mut lone = SlotRecord::new(key(1), None, key(1), 0, key(2));
    assert_eq!(schedule(core::slice::from_mut(&mut lone), 0, key(2), 20, 10), Err(PlanError::NoBackup(0)));
    assert!(slots.iter().all(|s| s.planned == 0), "refused plans change nothing");

    schedule(&mut slots, 1, key(41), 13, 10).unwrap();
    let mut window = Vec::new();
    for h in 10..=20u64 {
        let s = step(&params, &mut slots, &mut window, h, &[]);
        if h == 11 {
            assert_eq!(s.len(), 1);
            assert_eq!((s[0].slot, s[0].effective, s[0].active, s[0].planned), (1, 13, key(21), true));
        } else {
            assert!(s.is_empty(), "height {h}: {s:?}");
        }
    }
    assert_eq!(validator_set_at(&slots, 12).validators[1], key(11));
    assert_eq!(validator_set_at(&slots, 13).validators[1], key(21));
    assert_eq!(slots[1].planned, 0);
}

#[test]
fn an_automatic_switch_cancels_a_pending_plan() {
    // The operator plans the swap to the backup at 30; the primary dies first and the
    // rule promotes the backup at 5: the plan must not hand the seat back at 28.
    let (params, mut slots) = four();
    schedule(&mut slots, 0, key(40), 30, 1).unwrap();
    let mut window = Vec::new();
    let mut decided = Vec::new();
    for h in 1..=40u64 {
        // Dead until the switch takes effect; the new active lives.
        let dead: &[usize] = if slots[0].active_at(h - 1) == key(10) { &[0] } else { &[] };
        for s in step(&params, &mut slots, &mut window, h, dead) {
            decided.push((s.decided, s.planned));
        }
    }
    assert_eq!(decided, [(5, false)]);
    assert_eq!((slots[0].active(), slots[0].planned), (key(20), 0));
}

/// A tiny deterministic generator for the random runs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random runs of 4 and 7 slots: proposers rotate by height with random view changes,
/// machines crash and revive, `f` slots are Byzantine proposers who report every active
/// key of others as dead (omitting signatures from the certificate they carry) while
/// honest proposers report the truth. Properties at every height:
/// - one key per slot in the set, never both;
/// - a slot switches only if an honest proposer saw its active machine dead in the window
///   (the `f + 1` distinct proposers guard): Byzantine proposers alone never force it;
/// - switches of one slot are at least the cooldown apart;
/// - every node computes the same set: replaying the observations gives the same state.
#[test]
fn random_runs_keep_the_rules() {
    let base = 0x51_075u64;
    let mut total = 0usize;
    for seed in base..base + 200 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let n = if seed % 2 == 0 { 4u32 } else { 7 };
        let params = SlotParams::new(n, 3 + rng.next() % 5);
        let f = params.f();
        let mut slots: Vec<SlotRecord> =
            (0..n).map(|i| SlotRecord::new(key(10 + i as u8), Some(key(100 + i as u8)), key(1), 0, key(2))).collect();
        let byzantine: Vec<u32> = (0..f as u32).map(|i| (i * 3 + 1) % n).collect();
        // Machine liveness: [slot][0 = primary, 1 = backup].
        let mut up = vec![[true, true]; n as usize];
        let mut window = Vec::new();
        let mut log: Vec<Observation> = Vec::new();
        let mut last: Vec<Option<u64>> = vec![None; n as usize];
        // Per height: whether an honest proposer made it, and which actives were truly dead.
        let mut history: Vec<(bool, Vec<bool>)> = Vec::new();
        let mut view = 0u64;
        for h in 1..=400u64 {
            if rng.next().is_multiple_of(10) {
                let s = (rng.next() % u64::from(n)) as usize;
                let m = (rng.next() % 2) as usize;
                up[s][m] = !up[s][m];
            }
            if rng.next().is_multiple_of(20) {
                view += 1;
            }
            let proposer = ((h + view) % u64::from(n)) as u32;
            let honest = !byzantine.contains(&proposer);
            let roles_then = |s: &SlotRecord| (s.active_at(h - 1), s.alternate_at(h - 1).unwrap_or_default());
            let seen = Observation {
                height: h,
                proposer,
                slots: slots
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let (active, alternate) = roles_then(s);
                        let alive = |k: Address| up[i][usize::from(k != s.primary)];
                        let truth = alive(active);
                        // A Byzantine proposer shows every other slot's active as dead.
                        let shown = if honest || byzantine.contains(&(i as u32)) { truth } else { false };
                        SlotSeen { active, active_alive: shown, alternate_alive: alive(alternate) }
                    })
                    .collect(),
            };
            let dead: Vec<bool> = slots.iter().enumerate().map(|(i, s)| !up[i][usize::from(s.active_at(h - 1) != s.primary)]).collect();
            history.push((honest, dead));
            log.push(seen.clone());
            for sw in end_of_block(&params, &mut slots, &mut window, &seen) {
                let i = sw.slot as usize;
                let msg = format!("seed {seed}, height {h}: {sw:?}");
                let recent = &history[history.len().saturating_sub(params.window as usize)..];
                assert!(recent.iter().any(|(honest, dead)| *honest && dead[i]), "{msg}: no honest proposer saw the active dead");
                if let Some(prev) = last[i] {
                    assert!(h - prev >= params.cooldown, "{msg}: within the cooldown of {prev}");
                }
                last[i] = Some(h);
                total += 1;
            }
            for x in h..=h + 2 {
                let set = validator_set_at(&slots, x);
                for (i, s) in slots.iter().enumerate() {
                    let k = set.validators[i];
                    assert!(s.holds(&k), "seed {seed}: height {x} slot {i} has a foreign key");
                    let other = if k == s.primary { s.backup } else { s.primary };
                    assert!(!set.validators.contains(&other), "seed {seed}: both keys of slot {i} at {x}");
                }
            }
        }
        // Replaying the same observations from genesis gives the same state.
        let mut replay: Vec<SlotRecord> =
            (0..n).map(|i| SlotRecord::new(key(10 + i as u8), Some(key(100 + i as u8)), key(1), 0, key(2))).collect();
        let mut replay_window = Vec::new();
        for seen in &log {
            end_of_block(&params, &mut replay, &mut replay_window, seen);
        }
        assert_eq!(replay, slots, "seed {seed}");
        assert_eq!(replay_window, window, "seed {seed}");
    }
    // The runs exercise the rule: machines die long enough for many switches.
    assert!(total > 200, "only {total} switches in 200 runs");
}
