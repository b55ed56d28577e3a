//! Named scenarios through the simulator, with their own assertions on top of the
//! checks every run makes (safety, validity, certificates, liveness after healing).

use crate::sim::{Byzantine, Outcome, Params, Replace, Scripted, mix, run};
use strata_consensus::ProposerRotation;
use strata_testdata::Rng;

fn run_ok(p: &Params, seed: u64) -> Outcome {
    run(p, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}\nparams: {p:?}"))
}

#[test]
fn n4_normal_case_commits_every_height_in_view_0() {
    let mut p = Params::quiet(4);
    p.heal_heights = 24;
    let o = run_ok(&p, 1);
    assert!(o.min_height >= 24, "{o:?}");
    assert_eq!((o.max_view, o.view_changes, o.syncs), (0, 0, 0), "{o:?}");
    // Checkpoints every 4 heights become stable everywhere.
    assert!(o.stable.iter().all(|&s| s >= 20), "{o:?}");
}

#[test]
fn n7_normal_case() {
    let mut p = Params::quiet(7);
    p.heal_heights = 10;
    let o = run_ok(&p, 2);
    assert!(o.min_height >= 10 && o.max_view == 0 && o.view_changes == 0, "{o:?}");
}

#[test]
fn n1_commits_alone() {
    let mut p = Params::quiet(1);
    p.heal_heights = 10;
    let o = run_ok(&p, 3);
    assert!(o.min_height >= 10 && o.max_view == 0, "{o:?}");
}

#[test]
fn n4_f1_primary_crash_changes_view() {
    // The primary of view 0 never starts: the others time out and move to view 1.
    let mut p = Params::quiet(4);
    p.byzantine = vec![(0, Byzantine::Crashed)];
    p.heal_heights = 8;
    let o = run_ok(&p, 4);
    assert!(o.min_height >= 8, "{o:?}");
    assert!(o.max_view >= 1 && o.views.iter().all(|&v| v % 4 != 0 || v == 0), "{o:?}");
}

#[test]
fn n4_primary_crashes_mid_run_and_comes_back() {
    let mut p = Params::quiet(4);
    p.chaos_ms = 3_000;
    p.script = vec![(400, Scripted::Crash(0)), (2_500, Scripted::Restart(0))];
    p.heal_heights = 5;
    let o = run_ok(&p, 5);
    // The others kept committing while it was down, in a later view.
    assert!(o.height_at_heal >= 10, "{o:?}");
    assert!(o.max_view >= 1, "{o:?}");
}

#[test]
fn n4_equivocating_primary_never_causes_conflicting_commits() {
    for seed in 0..40 {
        let mut p = Params::quiet(4);
        p.byzantine = vec![((seed % 4) as u32, Byzantine::Equivocate)];
        p.chaos_ms = 800;
        p.delay_ms = (1, 30);
        p.heal_heights = 4;
        run_ok(&p, seed);
    }
}

#[test]
fn n7_f2_twins_and_equivocation() {
    for seed in 0..10 {
        let mut p = Params::quiet(7);
        p.byzantine = vec![(0, Byzantine::Twins), (1, Byzantine::Equivocate)];
        p.chaos_ms = 600;
        p.drop_per_mille = 50;
        p.heal_heights = 3;
        run_ok(&p, 100 + seed);
    }
}

#[test]
fn n4_isolated_validator_catches_up_after_the_partition() {
    let mut p = Params::quiet(4);
    p.chaos_ms = 3_000;
    p.window = 8;
    p.checkpoint_interval = 4;
    // Validator 3 alone on one side from 100 ms to 2.5 s.
    p.script = vec![(100, Scripted::Partition(0b1000)), (2_500, Scripted::Heal)];
    p.heal_heights = 4;
    let o = run_ok(&p, 6);
    assert!(o.syncs >= 1, "the isolated validator catches up from a peer: {o:?}");
    assert!(o.height_at_heal >= 15, "{o:?}");
}

#[test]
fn n4_everyone_crashes_and_restarts_from_what_it_persisted() {
    let mut p = Params::quiet(4);
    p.chaos_ms = 2_000;
    p.script = (0..4).flat_map(|i| [(500 + 7 * i as u64, Scripted::Crash(i)), (900 + 50 * i as u64, Scripted::Restart(i))]).collect();
    p.heal_heights = 5;
    let o = run_ok(&p, 7);
    assert_eq!(o.crashes, 4, "{o:?}");
}

#[test]
fn n4_lossy_network_with_replays_and_absurd_views() {
    for seed in 0..20 {
        let mut p = Params::quiet(4);
        p.byzantine = vec![(2, if seed % 2 == 0 { Byzantine::AbsurdViews } else { Byzantine::Garbage })];
        p.chaos_ms = 800;
        p.drop_per_mille = 200;
        p.dup_per_mille = 200;
        p.replay_per_mille = 200;
        p.heal_heights = 3;
        run_ok(&p, 200 + seed);
    }
}

#[test]
fn n4_faulty_primaries_with_tampered_new_views_on_a_lossy_network() {
    // Validator 1 (primary of views 1, 5, …) equivocates and sends new views that drop
    // their re-proposals together with fresh blocks for those heights; lost messages
    // leave heights committed at some validators and not others, which is when such a
    // new view would split them.
    for seed in 0..30 {
        let mut p = Params::quiet(4);
        p.byzantine = vec![(1, Byzantine::Equivocate)];
        p.chaos_ms = 1_500;
        p.drop_per_mille = 250;
        p.delay_ms = (1, 40);
        p.base_timeout_ms = 150;
        p.max_timeout_ms = 600;
        p.heal_heights = 3;
        run_ok(&p, 300 + seed);
    }
}

#[test]
fn n4_tampered_relays_cost_no_view() {
    // Validator 3 relays every block it receives to the others at once, with other bytes;
    // often its copy arrives first. Each validator still takes the genuine block when it
    // comes: no view is lost.
    for seed in 0..5 {
        let mut p = Params::quiet(4);
        p.byzantine = vec![(3, Byzantine::TamperRelay)];
        p.delay_ms = (1, 40);
        p.heal_heights = 12;
        let o = run_ok(&p, 400 + seed);
        assert!(o.min_height >= 12, "{o:?}");
        assert_eq!((o.max_view, o.view_changes), (0, 0), "{o:?}");
    }
}

#[test]
fn n4_tampered_relays_and_few_early_blocks_on_a_lossy_network() {
    // The same relay, with view changes (lost messages, short timers) whose new views it
    // relays altered too, and room for only about two early blocks.
    for seed in 0..20 {
        let mut p = Params::quiet(4);
        p.byzantine = vec![((seed % 4) as u32, Byzantine::TamperRelay)];
        p.chaos_ms = 1_500;
        p.drop_per_mille = 200;
        p.delay_ms = (1, 40);
        p.base_timeout_ms = 150;
        p.max_timeout_ms = 600;
        p.max_early_block_bytes = 120;
        p.heal_heights = 3;
        run_ok(&p, 500 + seed);
    }
}

#[test]
fn n4_validator_replaced_at_a_height_keeps_committing() {
    // From height 6, validator 3's key is replaced by a new one, whose node follows the
    // chain until then and votes from then on, while the old one's follows from then on.
    // Validator 2 never runs: every certificate needs validator 3, with the old key below
    // height 6 and the new one from it (every run checks each certificate against the set
    // of its height).
    let mut p = Params::quiet(4);
    p.byzantine = vec![(2, Byzantine::Crashed)];
    p.replace = Some(Replace { height: 6, validator: 3 });
    p.heal_heights = 16;
    let o = run_ok(&p, 8);
    assert!(o.min_height >= 16, "{o:?}");
    assert_eq!((o.max_view, o.view_changes, o.wrong_proposer), (0, 0, 0), "{o:?}");
}

#[test]
fn n4_validator_replaced_on_a_lossy_network_with_crashes() {
    // The same change at various heights, of each validator (also the primary of view 0),
    // with lost messages, crashes and short timers: views change around the height where
    // the set does, and a view entered under the old set does not decide the new set's
    // heights.
    for seed in 0..24u64 {
        let mut p = Params::quiet(4);
        p.replace = Some(Replace { height: 3 + seed % 5, validator: (seed % 4) as u32 });
        p.chaos_ms = 1_500;
        p.drop_per_mille = 200;
        p.crashes = 2;
        p.delay_ms = (1, 40);
        p.base_timeout_ms = 150;
        p.max_timeout_ms = 600;
        p.heal_heights = 8;
        let o = run_ok(&p, 600 + seed);
        assert!(o.min_height > 3 + seed % 5, "the change was not reached: {o:?}");
    }
}

#[test]
fn n4_validator_replaced_under_random_faults() {
    // Random settings of the sweeps (Byzantine validators among them), with a validator
    // replaced at a random height.
    for seed in 0..40u64 {
        let mut rng = Rng::new(mix(seed ^ 0x5e75));
        let mut p = Params::random(4, &mut rng);
        p.replace = Some(Replace { height: 2 + rng.next() % 8, validator: (rng.next() % 4) as u32 });
        p.heal_heights = 4;
        run_ok(&p, 700 + seed);
    }
}

#[test]
fn n4x2_dead_primaries_are_replaced_by_their_backups_and_the_chain_outlives_two_crashes() {
    // Validator slots with a window of 3 blocks, round-robin proposers. Slot 1's primary
    // dies; its backup takes over by the rule. Then slot 2's primary dies: with slot 1
    // switched, three slots still sign, so the chain goes on and slot 2 switches too (it
    // would halt at two dead slots without the first switch).
    let mut p = Params::quiet(4);
    p.rotation = ProposerRotation::ByHeight;
    p.slots = Some(3);
    p.build_ms = (10, 30);
    p.chaos_ms = 6_000;
    p.script = vec![(200, Scripted::Crash(1)), (2_000, Scripted::Crash(2))];
    p.heal_heights = 6;
    let o = run_ok(&p, 11);
    let slots: Vec<u32> = o.switch_log.iter().map(|(slot, _)| *slot).collect();
    assert!(slots.starts_with(&[1, 2]), "slot 1 then slot 2 switch: {o:?}");
    assert!(o.height_at_heal > o.switch_log[1].1 + 2, "the chain commits with slot 2's backup: {o:?}");
}

#[test]
fn n4x2_f1_a_proposer_omitting_evidence_cannot_force_a_switch() {
    // The stable primary (validator 0) is faulty: every block it builds leaves slot 3's
    // signature out of the parent certificate and carries slot 3's backup's heartbeat —
    // evidence that slot 3's active key is dead, block after block. One proposer is not
    // f + 1 distinct proposers: slot 3 never switches.
    let mut p = Params::quiet(4);
    p.slots = Some(2);
    p.build_ms = (10, 30);
    p.byzantine = vec![(0, Byzantine::OmitEvidence)];
    p.heal_heights = 30;
    let o = run_ok(&p, 12);
    assert!(o.min_height >= 30 && o.max_view == 0, "validator 0 proposed every block: {o:?}");
    assert_eq!(o.switches, 0, "{o:?}");
    // With proposers rotating by height the same evidence comes from one block in four;
    // honest proposers include slot 3's signature, and the streak never builds.
    p.rotation = ProposerRotation::ByHeight;
    let o = run_ok(&p, 13);
    assert!(o.min_height >= 30 && !o.switch_log.iter().any(|(slot, _)| *slot == 3), "{o:?}");
}
