//! Shared helpers for the end-to-end tests: locating the conformance cases and the built binary.
