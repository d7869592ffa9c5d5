//! Deterministic generator of synthetic document scans with ground truth.
