//! The widget that draws a transcript into a pane's body.
//!
//! ```text
//! let v = TranscriptView::viewport(&transcript, body);   // for scroll keys in update
//! scroll.page_up(v);
//! frame.render_widget(TranscriptView::new(&transcript, &scroll).show_selection(focused), body);
//! ```
//! Only the cells in view are rendered (heights are cached per width), so the cost of a frame
//! does not grow with the history.

use crate::render::sanitize::put_line;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::scroll::{Scroll, Viewport};
use super::Transcript;
use crate::render::wrap::display_width;

/// The background of the selected cell.
pub const SELECTED_BG: Color = Color::Rgb(45, 50, 70);

pub struct TranscriptView<'a> {
    transcript: &'a Transcript,
    scroll: Scroll,
    show_selection: bool,
}

impl<'a> TranscriptView<'a> {
    pub fn new(transcript: &'a Transcript, scroll: &Scroll) -> Self {
        TranscriptView { transcript, scroll: *scroll, show_selection: true }
    }

    /// Highlight the selected cell (e.g. only in the focused pane).
    pub fn show_selection(mut self, show: bool) -> Self {
        self.show_selection = show;
        self
    }

    /// The scroll math's view of `transcript` drawn into `area`.
    pub fn viewport(transcript: &Transcript, area: Rect) -> Viewport {
        if area.width == 0 {
            return Viewport::new(0, usize::from(area.height));
        }
        transcript.viewport(area.width, area.height)
    }
}

impl Widget for TranscriptView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        (&self).render(area, buf);
    }
}

impl Widget for &TranscriptView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let v = TranscriptView::viewport(self.transcript, area);
        let top = self.scroll.top(v);
        let selected = self.transcript.selected().filter(|_| self.show_selection);
        self.transcript.for_each_line(
            area.width,
            top,
            usize::from(area.height),
            |row, cell, line| {
                let y = area.y + row as u16;
                put_line(buf, area.x, y, line, area.width);
                if selected == Some(cell) {
                    let row_area = Rect::new(area.x, y, area.width, 1);
                    buf.set_style(row_area, Style::default().bg(SELECTED_BG));
                }
            },
        );
        let below = self.scroll.lines_below(v);
        if below > 0 {
            let new = self.scroll.new_lines(v);
            let label = if new > 0 {
                format!(" ↓ {new} new line{} ", if new == 1 { "" } else { "s" })
            } else {
                format!(" ↓ {below} more line{} ", if below == 1 { "" } else { "s" })
            };
            indicator(&label, Rect::new(area.x, area.bottom() - 1, area.width, 1), buf);
        }
    }
}

/// The bottom row while scrolled up: a centred label on a thin rule.
fn indicator(label: &str, row: Rect, buf: &mut Buffer) {
    let w = usize::from(row.width);
    let label = crate::render::wrap::truncate(label, w);
    let lw = display_width(&label);
    let left = (w - lw) / 2;
    let right = w - lw - left;
    let rule = Style::default().fg(Color::DarkGray);
    let tag = Style::default().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD);
    let line = Line::from(vec![
        Span::styled("─".repeat(left), rule),
        Span::styled(label.into_owned(), tag),
        Span::styled("─".repeat(right), rule),
    ]);
    buf.set_style(row, Style::reset());
    for x in row.left()..row.right() {
        buf[(x, row.y)].set_symbol(" ");
    }
    put_line(buf, row.x, row.y, &line, row.width);
}
