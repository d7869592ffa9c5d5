//! The intake runner: orchestrates the stages for `intake check`.
