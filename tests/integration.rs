//! Integration tests through the public CLI and library API.

mod sandbox;
