//! The full-screen view of `--live`: the pipeline drawn as boxes, redrawn in place.
//!
//! Layout is a pure function ([`render`]) from a [`Frame`] to text lines, so it is tested
//! without a terminal; [`Screen`] only puts those lines on the alternate screen. Raw mode
//! is deliberately *not* enabled: Ctrl-C must keep arriving as SIGINT, where the demo's
//! [`Stopper`](super::Stopper) turns it into the same stop as `--for`.

use std::io::{self, Write};

use crossterm::style::Stylize;
use crossterm::{cursor, execute, queue, style, terminal};

/// One box: a title and its content lines.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    pub title: String,
    pub lines: Vec<String>,
}

impl Panel {
    pub fn new(title: impl Into<String>, lines: Vec<String>) -> Panel {
        Panel { title: title.into(), lines }
    }
}

/// A horizontal row of boxes; `arrows` draws `──▶` between them (data flows left to right).
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub panels: Vec<Panel>,
    pub arrows: bool,
}

/// Everything on screen at one instant.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    pub title: String,
    pub rows: Vec<Row>,
    /// The most recent steps, newest last.
    pub log: Vec<String>,
    pub footer: String,
}

/// The most content lines a box shows; the rest is counted on its last line.
const MAX_BOX_LINES: usize = 10;
const ARROW: &str = " ──▶ ";
const GAP: &str = "     ";

/// Lays `frame` out in `width` x `height` characters.
pub fn render(frame: &Frame, width: usize, height: usize) -> Vec<String> {
    let width = width.max(40);
    let mut out = vec![fit(&frame.title, width), String::new()];
    for row in &frame.rows {
        out.extend(render_row(row, width));
    }
    let reserved = out.len() + 1;
    let room = height.saturating_sub(reserved);
    if room > 0 && !frame.log.is_empty() {
        out.push("recent steps:".to_string());
        let skip = frame.log.len().saturating_sub(room.saturating_sub(1));
        out.extend(frame.log.iter().skip(skip).map(|l| fit(&format!("  {l}"), width)));
    }
    out.truncate(height.saturating_sub(1));
    out.push(fit(&frame.footer, width));
    out
}

fn render_row(row: &Row, width: usize) -> Vec<String> {
    let n = row.panels.len().max(1);
    let gap = if row.arrows { ARROW } else { GAP };
    let gaps = gap.chars().count() * (n - 1);
    let box_w = ((width.saturating_sub(gaps)) / n).max(12);
    let inner = box_w - 4;
    let shown = row.panels.iter().map(|p| clipped(&p.lines)).max().unwrap_or(0).max(1);
    let middle = (shown + 2) / 2;
    let mut lines = vec![String::new(); shown + 2];
    for (i, p) in row.panels.iter().enumerate() {
        let content = boxed_lines(p, inner, shown);
        for (li, text) in content.into_iter().enumerate() {
            if i > 0 {
                lines[li].push_str(if li == middle && row.arrows { gap } else { GAP });
            }
            lines[li].push_str(&text);
        }
    }
    lines.push(String::new());
    lines.into_iter().map(|l| l.trim_end().to_string()).collect()
}

fn clipped(lines: &[String]) -> usize {
    lines.len().min(MAX_BOX_LINES)
}

/// A box of `inner + 4` columns and `shown + 2` lines.
fn boxed_lines(p: &Panel, inner: usize, shown: usize) -> Vec<String> {
    let title = fit(&format!(" {} ", p.title), inner);
    let mut out = vec![format!("┌─{title}{}─┐", "─".repeat(inner - title.chars().count()))];
    let overflow = p.lines.len() > MAX_BOX_LINES;
    for i in 0..shown {
        let text = match p.lines.get(i) {
            Some(_) if overflow && i == MAX_BOX_LINES - 1 => format!("… {} more", p.lines.len() - i),
            Some(l) => l.clone(),
            None => String::new(),
        };
        out.push(format!("│ {} │", pad(&fit(&text, inner), inner)));
    }
    out.push(format!("└{}┘", "─".repeat(inner + 2)));
    out
}

fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.chars().count())))
}

/// The alternate screen; restored (cursor shown, main screen back) when dropped, so a
/// panic or an early return never leaves the terminal unusable.
pub struct Screen {
    colour: bool,
}

impl Screen {
    pub fn enter(colour: bool) -> io::Result<Screen> {
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(Screen { colour })
    }

    /// Redraws the whole frame, line by line, clearing what the previous frame left.
    pub fn draw(&mut self, frame: &Frame) -> io::Result<()> {
        let (w, h) = terminal::size().unwrap_or((100, 30));
        let lines = render(frame, w as usize, h as usize);
        let mut out = io::stdout().lock();
        queue!(out, cursor::MoveTo(0, 0))?;
        for (i, line) in lines.iter().enumerate() {
            queue!(out, cursor::MoveTo(0, i as u16), terminal::Clear(terminal::ClearType::UntilNewLine))?;
            if self.colour && i == 0 {
                queue!(out, style::PrintStyledContent(line.clone().bold().cyan()))?;
            } else if self.colour && line.starts_with('┌') {
                queue!(out, style::PrintStyledContent(line.clone().green()))?;
            } else {
                queue!(out, style::Print(line))?;
            }
        }
        queue!(out, terminal::Clear(terminal::ClearType::FromCursorDown))?;
        out.flush()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(io::stdout(), cursor::Show, terminal::LeaveAlternateScreen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            title: "queue-demo".into(),
            rows: vec![Row {
                panels: vec![Panel::new("queue", vec!["a".into(), "b".into()]), Panel::new("workers", vec!["w1: a".into()])],
                arrows: true,
            }],
            log: (0..50).map(|i| format!("step {i}")).collect(),
            footer: "Ctrl-C to stop".into(),
        }
    }

    #[test]
    fn boxes_sit_side_by_side_joined_by_an_arrow() {
        let lines = render(&frame(), 60, 20);
        assert_eq!(lines[0], "queue-demo");
        assert!(lines[2].starts_with("┌─ queue ─"), "{}", lines[2]);
        assert!(lines[2].contains("┌─ workers ─"), "{}", lines[2]);
        assert!(lines[3].starts_with("│ a "), "{}", lines[3]);
        assert!(lines[3].contains("──▶") || lines[4].contains("──▶"));
        assert!(lines.iter().all(|l| l.chars().count() <= 60));
    }

    #[test]
    fn the_log_keeps_the_newest_steps_and_the_footer_stays_last() {
        let lines = render(&frame(), 60, 20);
        assert_eq!(lines.len(), 20);
        assert_eq!(lines.last().unwrap(), "Ctrl-C to stop");
        assert_eq!(lines[lines.len() - 2], "  step 49");
        assert!(!lines.iter().any(|l| l == "  step 0"));
    }

    #[test]
    fn long_boxes_say_how_much_is_hidden() {
        let many = Frame {
            rows: vec![Row { panels: vec![Panel::new("queue", (0..15).map(|i| i.to_string()).collect())], arrows: false }],
            ..Frame::default()
        };
        let lines = render(&many, 40, 40);
        assert!(lines.iter().any(|l| l.contains("… 6 more")), "{lines:#?}");
    }
}
