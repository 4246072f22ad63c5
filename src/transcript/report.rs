//! Relayed reports: the prompt agentmux sends a supervisor with its workers' results
//! (`supervisor::relay::reports_prompt`), read back so the pane can show it compactly.

/// One worker's report inside a relay prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report<'a> {
    /// "tests: success, $0.0289" as the section header says it.
    pub head: &'a str,
    /// The worker's result text (Markdown).
    pub body: String,
}

impl Report<'_> {
    /// The first line of the body that says something, without Markdown heading marks.
    pub fn first_line(&self) -> &str {
        self.body
            .lines()
            .map(|l| l.trim().trim_start_matches('#').trim())
            .find(|l| !l.is_empty())
            .unwrap_or("")
    }
}

/// The intro line and the reports of a relay prompt; `None` for any other prompt.
pub fn parse(text: &str) -> Option<(&str, Vec<Report<'_>>)> {
    if !text.starts_with("[agentmux] ") {
        return None;
    }
    let mut lines = text.lines();
    let intro = lines.next()?;
    let mut reports: Vec<Report<'_>> = Vec::new();
    for line in lines {
        let head = line.strip_prefix("--- ").and_then(|l| l.strip_suffix(" ---"));
        match (head, reports.last_mut()) {
            (Some(head), _) => reports.push(Report { head, body: String::new() }),
            (None, Some(r)) => {
                r.body.push_str(line);
                r.body.push('\n');
            }
            // Text before the first report: not the shape we know.
            (None, None) if line.trim().is_empty() => {}
            (None, None) => return None,
        }
    }
    for r in &mut reports {
        let trimmed = r.body.trim_end().to_string();
        r.body = trimmed;
    }
    (!reports.is_empty()).then_some((intro, reports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_prompt_reads_back_as_its_reports() {
        let text = "[agentmux] 2 reports from your workers:\n\n--- tests: success, $0.0289 ---\n## Paging edge cases\n\n| a | b |\n\n--- web: error (max turns), cost unknown ---\n(no result text)\n";
        let (intro, reports) = parse(text).expect("a relay prompt");
        assert_eq!(intro, "[agentmux] 2 reports from your workers:");
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].head, "tests: success, $0.0289");
        assert_eq!(reports[0].first_line(), "Paging edge cases");
        assert_eq!(reports[0].body, "## Paging edge cases\n\n| a | b |");
        assert_eq!(reports[1].head, "web: error (max turns), cost unknown");
        assert!(parse("fix the bug").is_none());
        assert!(parse("[agentmux] hello\nsome text").is_none());
    }
}
