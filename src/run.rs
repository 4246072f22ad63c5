//! TODO: the run loop.
