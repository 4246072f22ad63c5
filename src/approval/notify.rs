//! Getting the user's attention: the terminal bell, or a desktop notification through the
//! terminal (OSC 9, as iTerm2, WezTerm, kitty and Windows Terminal read it; OSC 777, as
//! urxvt/foot/VTE read it). Inside tmux an OSC must be wrapped in a DCS passthrough
//! (`ESC Ptmux; ... ESC \`, every ESC inside doubled) or tmux swallows it.
//!
//! Only builds the bytes: the run loop writes them (views and `update` never print).

pub use crate::config::Notify;

/// The bytes that tell the user `title: body` in `style`; `None` when notifications are off.
pub fn sequence(style: Notify, title: &str, body: &str, in_tmux: bool) -> Option<String> {
    let (title, body) = (clean(title), clean(body));
    let seq = match style {
        Notify::Off => return None,
        // tmux passes a bell on by itself (and marks the window).
        Notify::Bell => return Some("\x07".to_string()),
        Notify::Osc9 => format!("\x1b]9;{title}: {body}\x07"),
        Notify::Osc777 => format!("\x1b]777;notify;{};{body}\x07", title.replace(';', ",")),
    };
    Some(if in_tmux { tmux_passthrough(&seq) } else { seq })
}

/// Wrap an escape sequence so tmux hands it to the outer terminal.
pub fn tmux_passthrough(seq: &str) -> String {
    format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b"))
}

/// Text safe inside an OSC: sanitized (an ESC or BEL would end it early, a bidi override
/// would turn the notification around), one line, short.
fn clean(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::render::sanitize(&one_line).chars().take(200).collect()
}

/// Whether we run inside tmux (`$TMUX` set and not empty).
pub fn in_tmux() -> bool {
    std::env::var_os("TMUX").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences() {
        assert_eq!(sequence(Notify::Off, "a", "b", false), None);
        assert_eq!(sequence(Notify::Bell, "a", "b", true).as_deref(), Some("\x07"));
        assert_eq!(
            sequence(Notify::Osc9, "api", "needs you", false).as_deref(),
            Some("\x1b]9;api: needs you\x07")
        );
        assert_eq!(
            sequence(Notify::Osc777, "a;b", "done\x1b[31m\x07", false).as_deref(),
            Some("\x1b]777;notify;a,b;done␛[31m^G\x07")
        );
    }

    #[test]
    fn tmux_wraps_and_doubles_escapes() {
        assert_eq!(
            sequence(Notify::Osc9, "w", "done", true).as_deref(),
            Some("\x1bPtmux;\x1b\x1b]9;w: done\x07\x1b\\")
        );
    }
}
