//! TODO: pure rectangle math and directional focus.
