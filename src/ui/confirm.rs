//! A yes/no question (quit while turns run, close a running agent).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget, Wrap};

use crate::app::state::Confirm;
use crate::app::{Command, Context, State};

pub fn question(state: &State, confirm: &Confirm) -> String {
    match confirm {
        Confirm::Quit { running } => {
            let turns = if *running == 1 { "1 turn is" } else { &format!("{running} turns are") };
            if state.served {
                let detach = state.keymap.key_label(Context::Confirm, Command::Detach);
                let detach = detach.unwrap_or_default();
                format!(
                    "Quit agentmux? {turns} running and will be stopped. [{detach}] detaches \
                     instead: the agents go on, `agentmux attach` comes back."
                )
            } else {
                format!("Quit agentmux? {turns} running and will be stopped.")
            }
        }
        Confirm::Close { agent } => {
            let Some(a) = state.index_of(*agent).map(|i| &state.agents[i]) else {
                return String::new();
            };
            let name = &a.spec.name;
            let running = a.turn.is_active();
            let files = a.tree.as_ref().map(|t| t.uncommitted_files());
            let work = match files {
                Some(Some(1)) => " Its worktree has uncommitted changes in 1 file.".to_string(),
                Some(Some(n)) if n > 0 => {
                    format!(" Its worktree has uncommitted changes in {n} files.")
                }
                Some(None) => " Its worktree may have uncommitted changes.".to_string(),
                _ => String::new(),
            };
            let stop = if running { " Its running turn will be stopped." } else { "" };
            format!("Close {name}?{stop}{work}")
        }
        Confirm::RemoveWorktree { agent, loss } => {
            let (name, branch) = state
                .index_of(*agent)
                .map(|i| &state.agents[i])
                .map(|a| {
                    let branch = a.tree.as_ref().map(|t| t.wt.branch.clone()).unwrap_or_default();
                    (a.spec.name.clone(), branch)
                })
                .unwrap_or_default();
            format!("Remove {name}'s worktree? This loses {loss}. Branch {branch} is kept.")
        }
    }
}

pub fn render(state: &State, confirm: &Confirm, area: Rect, buf: &mut Buffer) {
    let keys = |c| state.keymap.key_label(Context::Confirm, c).unwrap_or_default();
    let text = question(state, confirm);
    let answer = format!("[{}] yes   [{}] no", keys(Command::Yes), keys(Command::No));
    let w = area.width.min(52);
    let inner_w = usize::from(w.saturating_sub(2)).max(1);
    let text_rows = text.len().div_ceil(inner_w) as u16 + 1;
    let h = area.height.min(text_rows + 4);
    let rect = super::centered(area, w, h);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(Color::Yellow));
    let lines = vec![
        Line::raw(text),
        Line::raw(""),
        Line::styled(answer, Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
    ];
    Paragraph::new(crate::render::sanitize::clean_lines(lines))
        .block(block)
        .wrap(Wrap { trim: true })
        .render(rect, buf);
}
