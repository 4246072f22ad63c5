//! Text to ratatui lines: Markdown (pulldown-cmark), code highlighting (syntect) and wrapping
//! by display width (unicode-width over graphemes, the way ratatui's buffer measures).

pub mod highlight;
pub mod markdown;
pub mod sanitize;
pub mod wrap;

pub use markdown::{markdown_lines, render_markdown, stable_prefix_len};
pub use sanitize::{sanitize, sanitize_lines};
pub use wrap::{display_width, truncate, truncate_left, wrap_spans, wrap_text, WrapMode};
