//! Strata consensus core (under construction).
