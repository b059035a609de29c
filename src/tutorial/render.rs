//! Lesson Markdown laid out for a terminal of a given width: headings, emphasis, lists,
//! code blocks and tables, with no Markdown syntax left showing.
//!
//! pulldown-cmark parses; the layout is ours, so it can wrap to the width the caller gives
//! (tests render at 80 and 160 columns). Tables go through comfy-table, which wraps long
//! cells inside their column instead of letting the terminal break a row mid-cell.
//! Without colour the text is plain: no escape sequences at all.

use crossterm::style::Stylize;
use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use unicode_width::UnicodeWidthStr;

/// How to lay text out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Columns available; every line fits (a word or code line longer than that aside).
    pub width: usize,
    /// ANSI styles (bold headings, coloured code); off when piped or with NO_COLOR.
    pub colour: bool,
}

impl Layout {
    /// The terminal's width and colour; plain text when stdout is not a terminal, as wide
    /// as `COLUMNS` says (100 without it).
    pub fn for_stdout() -> Layout {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        let columns = || std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok());
        let width = if tty { crossterm::terminal::size().map(|(w, _)| w as usize).ok() } else { columns() }.unwrap_or(100);
        let colour = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Layout { width: width.clamp(40, 200), colour }
    }
}

/// Renders `markdown` as terminal lines (each ending in `\n`).
pub fn render(markdown: &str, layout: Layout) -> String {
    let mut r = Renderer::new(layout);
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        r.event(event);
    }
    r.flush_inline();
    while r.out.last().is_some_and(|l| l.is_empty()) {
        r.out.pop();
    }
    let mut text = r.out.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// The display width of `text`, escape sequences not counted.
pub fn display_width(text: &str) -> usize {
    strip_ansi(text).width()
}

/// `text` without ANSI escape sequences (CSI ... letter).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Breaks a long shell command so each line fits `width`, ending every line but the last
/// with ` \` — the result still runs when pasted. Breaks fall between words (never inside
/// quotes), preferably after a `;` or around `|`, `&&`, `||`, `&`, when one is in the
/// second half of the line. Lines that fit are left alone.
pub fn wrap_shell(command: &str, width: usize) -> Vec<String> {
    let mut lines = vec![];
    for line in command.lines() {
        if line.width() <= width {
            lines.push(line.to_string());
            continue;
        }
        let mut current: Vec<String> = vec![];
        let mut first = true;
        let joined = |words: &[String], first: bool| {
            let text = words.join(" ");
            if first {
                text
            } else {
                format!("  {text}")
            }
        };
        for word in shell_words(line) {
            current.push(word);
            // Leave room for the ` \` continuation.
            if current.len() > 1 && joined(&current, first).width() + 2 > width {
                let overflow = current.len() - 1;
                let split =
                    (overflow / 2..=overflow).rev().find(|&i| i > 0 && is_shell_break(&current[i - 1], &current[i])).unwrap_or(overflow);
                let rest = current.split_off(split);
                lines.push(format!("{} \\", joined(&current, first)));
                first = false;
                current = rest;
            }
        }
        lines.push(joined(&current, first));
    }
    lines
}

/// A good place to break a command line: between `before` and `after`.
fn is_shell_break(before: &str, after: &str) -> bool {
    const OPERATORS: [&str; 4] = ["|", "&&", "||", "&"];
    before.ends_with(';') || OPERATORS.contains(&after) || OPERATORS.contains(&before)
}

/// A command line split at blanks outside quotes, so a quoted argument is never broken.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            word.push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                word.push(c);
                escaped = true;
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                word.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                word.push(c);
            }
            (None, ' ' | '\t') => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Style {
    bold: bool,
    italic: bool,
    code: bool,
    heading: bool,
}

/// One piece of inline text and how it looks.
#[derive(Debug, Clone)]
struct Span {
    text: String,
    style: Style,
}

struct TableState {
    alignments: Vec<Alignment>,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    row: Vec<String>,
    cell: String,
}

struct ListLevel {
    /// The next number of an ordered list.
    next: Option<u64>,
    /// The marker of the current item until its first line is out.
    pending: Option<String>,
    /// Width of this level's marker, the hanging indent of its items.
    indent: usize,
}

struct Renderer {
    layout: Layout,
    out: Vec<String>,
    spans: Vec<Span>,
    style: Style,
    lists: Vec<ListLevel>,
    quote_depth: usize,
    code: Option<(String, String)>,
    table: Option<TableState>,
    heading: Option<HeadingLevel>,
    link: Option<String>,
}

impl Renderer {
    fn new(layout: Layout) -> Renderer {
        Renderer {
            layout,
            out: vec![],
            spans: vec![],
            style: Style::default(),
            lists: vec![],
            quote_depth: 0,
            code: None,
            table: None,
            heading: None,
            link: None,
        }
    }

    fn event(&mut self, event: Event) {
        if let Some(table) = &mut self.table {
            if table_event(table, &event) {
                return;
            }
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => match &mut self.code {
                Some((_, body)) => body.push_str(&text),
                None => self.push_text(&text, self.style),
            },
            Event::Code(text) => self.push_text(&text, Style { code: true, ..self.style }),
            Event::SoftBreak => self.push_text(" ", self.style),
            Event::HardBreak => {
                self.flush_inline();
            }
            Event::Rule => {
                self.flush_inline();
                self.blank();
                let rule = "─".repeat(self.layout.width.min(60));
                self.out.push(if self.layout.colour { rule.dark_grey().to_string() } else { rule });
                self.blank();
            }
            Event::Html(html) | Event::InlineHtml(html) => self.push_text(&html, self.style),
            Event::TaskListMarker(done) => self.push_text(if done { "[x] " } else { "[ ] " }, self.style),
            Event::FootnoteReference(_) | Event::InlineMath(_) | Event::DisplayMath(_) => {}
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Heading { level, .. } => {
                self.flush_inline();
                self.blank();
                self.heading = Some(level);
                self.style.heading = true;
            }
            Tag::Paragraph => self.flush_inline(),
            Tag::BlockQuote(_) => {
                self.flush_inline();
                self.quote_depth += 1;
            }
            Tag::CodeBlock(kind) => {
                self.flush_inline();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or("").to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                self.flush_inline();
                if self.lists.is_empty() {
                    self.blank();
                }
                self.lists.push(ListLevel { next: start, pending: None, indent: 2 });
            }
            Tag::Item => {
                self.flush_inline();
                if let Some(level) = self.lists.last_mut() {
                    let marker = match &mut level.next {
                        Some(n) => {
                            let m = format!("{n}. ");
                            *n += 1;
                            m
                        }
                        None => "• ".to_string(),
                    };
                    level.indent = marker.width();
                    level.pending = Some(marker);
                }
            }
            Tag::Table(alignments) => {
                self.flush_inline();
                self.blank();
                self.table = Some(TableState { alignments, header: vec![], rows: vec![], row: vec![], cell: String::new() });
            }
            Tag::Emphasis => self.style.italic = true,
            Tag::Strong => self.style.bold = true,
            Tag::Link { dest_url, .. } => self.link = Some(dest_url.to_string()),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(level) => {
                let before = self.out.len();
                self.flush_inline();
                // Without styles, a rule under the top two levels still marks them out.
                if !self.layout.colour && matches!(level, HeadingLevel::H1 | HeadingLevel::H2) && self.out.len() > before {
                    let width = self.out[before..].iter().map(|l| l.width()).max().unwrap_or(0);
                    self.out.push((if level == HeadingLevel::H1 { "═" } else { "─" }).repeat(width));
                }
                self.style.heading = false;
                self.heading = None;
                self.blank();
            }
            TagEnd::Paragraph => {
                self.flush_inline();
                self.blank();
            }
            TagEnd::BlockQuote(_) => {
                self.flush_inline();
                self.quote_depth = self.quote_depth.saturating_sub(1);
                self.blank();
            }
            TagEnd::CodeBlock => {
                if let Some((lang, body)) = self.code.take() {
                    self.code_block(&lang, &body);
                }
                self.blank();
            }
            TagEnd::List(_) => {
                self.flush_inline();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.blank();
                }
            }
            TagEnd::Item => self.flush_inline(),
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.table(table);
                }
                self.blank();
            }
            TagEnd::Emphasis => self.style.italic = false,
            TagEnd::Strong => self.style.bold = false,
            TagEnd::Link => {
                // The address after the text, unless the text already is the address.
                if let Some(url) = self.link.take() {
                    let shown = self.spans.iter().rev().take(1).any(|s| s.text.contains(&url));
                    if !shown && !url.starts_with('#') {
                        self.push_text(&format!(" ({url})"), Style::default());
                    }
                }
            }
            _ => {}
        }
    }

    fn push_text(&mut self, text: &str, style: Style) {
        match self.spans.last_mut() {
            Some(last) if last.style == style => last.text.push_str(text),
            _ => self.spans.push(Span { text: text.to_string(), style }),
        }
    }

    fn blank(&mut self) {
        if self.out.last().is_some_and(|l| !l.trim().is_empty()) && self.lists.is_empty() {
            self.out.push(String::new());
        }
    }

    /// The prefix of the next line: blockquote bars, list indents, and the current item's
    /// marker on its first line.
    fn prefix(&mut self) -> String {
        let mut p = "│ ".repeat(self.quote_depth);
        let depth = self.lists.len();
        for (i, level) in self.lists.iter_mut().enumerate() {
            if i + 1 == depth {
                match level.pending.take() {
                    Some(marker) => p.push_str(&marker),
                    None => p.push_str(&" ".repeat(level.indent)),
                }
            } else {
                p.push_str(&" ".repeat(level.indent));
            }
        }
        if depth > 0 {
            p.insert_str(0, "  ");
        }
        p
    }

    /// Wraps the collected inline text to the width, word by word, styles kept.
    fn flush_inline(&mut self) {
        let spans = std::mem::take(&mut self.spans);
        if spans.iter().all(|s| s.text.trim().is_empty()) {
            return;
        }
        let words = words(&spans);
        let first = self.prefix();
        let rest = " ".repeat(first.width());
        let mut prefix = first;
        let mut line = String::new();
        let mut line_width = 0;
        let available = |prefix: &str| self.layout.width.saturating_sub(prefix.width()).max(20);
        let mut lines = vec![];
        for word in words {
            let w: usize = word.iter().map(|s| s.text.width()).sum();
            if line_width > 0 && line_width + 1 + w > available(&prefix) {
                lines.push(format!("{prefix}{line}"));
                prefix = rest.clone();
                line.clear();
                line_width = 0;
            }
            if line_width > 0 {
                line.push(' ');
                line_width += 1;
            }
            for piece in word {
                line.push_str(&self.paint(&piece.text, piece.style));
            }
            line_width += w;
        }
        if line_width > 0 {
            lines.push(format!("{prefix}{line}"));
        }
        self.out.extend(lines);
    }

    fn paint(&self, text: &str, style: Style) -> String {
        if !self.layout.colour {
            return text.to_string();
        }
        let mut s = text.stylize();
        if style.heading {
            s = s.bold();
            if self.heading == Some(HeadingLevel::H1) {
                s = s.underlined().cyan();
            }
        }
        if style.bold {
            s = s.bold();
        }
        if style.italic {
            s = s.italic();
        }
        if style.code {
            s = s.yellow();
        }
        s.to_string()
    }

    fn code_block(&mut self, lang: &str, body: &str) {
        let indent = format!("{}    ", self.prefix().replace(|c: char| c != '│' && c != ' ', " "));
        let shell = matches!(lang, "sh" | "bash" | "shell" | "console");
        let width = self.layout.width.saturating_sub(indent.width()).max(20);
        for raw in body.trim_end_matches('\n').lines() {
            let lines = if shell { wrap_shell(raw, width) } else { vec![raw.to_string()] };
            for line in lines {
                let painted = if !self.layout.colour {
                    line
                } else if shell && line.trim_start().starts_with('#') {
                    line.dark_grey().to_string()
                } else if shell {
                    line.green().to_string()
                } else {
                    line.dark_yellow().to_string()
                };
                self.out.push(format!("{indent}{painted}").trim_end().to_string());
            }
        }
    }

    fn table(&mut self, state: TableState) {
        use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
        let indent = self.prefix();
        let width = self.layout.width.saturating_sub(indent.width()).max(20);
        let build = |condensed: bool| {
            let mut t = Table::new();
            t.load_preset(if condensed { comfy_table::presets::UTF8_FULL_CONDENSED } else { comfy_table::presets::UTF8_FULL });
            t.apply_modifier(comfy_table::modifiers::UTF8_ROUND_CORNERS);
            t.set_content_arrangement(ContentArrangement::Dynamic);
            t.set_width(u16::try_from(width).unwrap_or(u16::MAX));
            if self.layout.colour {
                t.enforce_styling();
            } else {
                t.force_no_tty();
            }
            t.set_header(state.header.iter().map(|h| {
                let cell = Cell::new(h.trim());
                if self.layout.colour {
                    cell.add_attribute(comfy_table::Attribute::Bold)
                } else {
                    cell
                }
            }));
            for row in &state.rows {
                t.add_row(row.iter().map(|c| Cell::new(c.trim())));
            }
            for (i, a) in state.alignments.iter().enumerate() {
                if let Some(column) = t.column_mut(i) {
                    column.set_cell_alignment(match a {
                        Alignment::Right => CellAlignment::Right,
                        Alignment::Center => CellAlignment::Center,
                        _ => CellAlignment::Left,
                    });
                }
            }
            t.lines().collect::<Vec<_>>()
        };
        // Condensed (no line between rows) reads best while every row is one line; once a
        // cell wraps, lines between rows show where each row ends.
        let mut lines = build(true);
        if lines.len() > state.rows.len() + 3 {
            lines = build(false);
        }
        for line in lines {
            let line = if self.layout.colour { line } else { strip_ansi(&line) };
            self.out.push(format!("{indent}{line}"));
        }
    }
}

/// Routes events inside a table into its cells; false for events the table does not take.
fn table_event(table: &mut TableState, event: &Event) -> bool {
    match event {
        Event::Start(Tag::TableHead | Tag::TableRow | Tag::TableCell) => {}
        Event::End(TagEnd::TableCell) => table.row.push(std::mem::take(&mut table.cell)),
        Event::End(TagEnd::TableHead) => table.header = std::mem::take(&mut table.row),
        Event::End(TagEnd::TableRow) => table.rows.push(std::mem::take(&mut table.row)),
        Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => table.cell.push_str(t),
        Event::SoftBreak | Event::HardBreak => table.cell.push(' '),
        Event::End(TagEnd::Table) => return false,
        _ => {}
    }
    true
}

/// Splits spans into words: runs of non-blank text, a word possibly made of several styles
/// (`` `Api` ``, with the comma after it, is one word).
fn words(spans: &[Span]) -> Vec<Vec<Span>> {
    let mut words: Vec<Vec<Span>> = vec![];
    let mut current: Vec<Span> = vec![];
    for span in spans {
        let mut piece = String::new();
        for c in span.text.chars() {
            if c.is_whitespace() {
                if !piece.is_empty() {
                    current.push(Span { text: std::mem::take(&mut piece), style: span.style });
                }
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            } else {
                piece.push(c);
            }
        }
        if !piece.is_empty() {
            current.push(Span { text: piece, style: span.style });
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN_80: Layout = Layout { width: 80, colour: false };

    #[test]
    fn headings_emphasis_and_code_lose_their_markup() {
        let out = render("# Title\n\nSome *em* and **strong** and `code`.\n\n## Part\n\n```sh\nkubelab get pods\n```\n", PLAIN_80);
        assert_eq!(out, "Title\n═════\n\nSome em and strong and code.\n\nPart\n────\n\n    kubelab get pods\n");
    }

    #[test]
    fn paragraphs_wrap_at_the_width_and_lists_hang() {
        let text = "- one two three four five six seven eight nine ten eleven twelve\n- b\n\n1. first\n2. second\n";
        let out = render(text, Layout { width: 30, colour: false });
        for line in out.lines() {
            assert!(line.width() <= 30, "{line:?}");
        }
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("  • one"), "{out}");
        assert!(lines[1].starts_with("    "), "continuation hangs under the text: {out}");
        assert!(out.contains("  1. first\n  2. second"), "{out}");
    }

    #[test]
    fn colour_only_when_asked() {
        let text = "# T\n\n**b** `c`\n";
        assert!(!render(text, PLAIN_80).contains('\x1b'));
        let coloured = render(text, Layout { colour: true, ..PLAIN_80 });
        assert!(coloured.contains('\x1b'));
        assert_eq!(strip_ansi(&coloured), render(text, PLAIN_80).replace("\n═\n", "\n"));
    }

    #[test]
    fn long_shell_commands_wrap_with_backslashes_outside_quotes() {
        let cmd = "curl -s --cacert \"$KUBELAB_HOME/ca.crt\" -H \"Authorization: Bearer $TOKEN\" https://127.0.0.1:6443/api/v1/namespaces/default/pods | jq '.items[].metadata.name'";
        let lines = wrap_shell(cmd, 60);
        assert!(lines.len() > 1);
        for (i, line) in lines.iter().enumerate() {
            assert!(line.width() <= 60 || !line.contains(' '), "{line:?}");
            assert_eq!(line.ends_with(" \\"), i + 1 < lines.len(), "{lines:?}");
        }
        assert!(lines.iter().any(|l| l.contains("\"Authorization: Bearer $TOKEN\"")), "a quoted word stays whole");
        let rejoined: Vec<String> = lines.iter().map(|l| l.trim_end_matches(" \\").trim().to_string()).collect();
        assert_eq!(rejoined.join(" "), cmd);
        assert_eq!(wrap_shell("echo short", 60), ["echo short"]);
        // A break after `;` or before `|` is preferred to one in mid-command.
        assert_eq!(
            wrap_shell("cd /var/tmp/some/dir; curl -s https://example.com/api | jq .items", 50),
            ["cd /var/tmp/some/dir; \\", "  curl -s https://example.com/api | jq .items"]
        );
        assert_eq!(
            wrap_shell("curl -s -H 'Accept: application/json' https://example.com/api/v1/pods | jq .items", 80),
            ["curl -s -H 'Accept: application/json' https://example.com/api/v1/pods | \\", "  jq .items"]
        );
    }

    /// Backticks that are code (inside a code span or block), which stay.
    fn backticks_in_code(markdown: &str) -> usize {
        let mut in_block = false;
        let mut count = 0;
        for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
            match event {
                Event::Start(Tag::CodeBlock(_)) => in_block = true,
                Event::End(TagEnd::CodeBlock) => in_block = false,
                Event::Code(t) => count += t.matches('`').count(),
                Event::Text(t) if in_block => count += t.matches('`').count(),
                _ => {}
            }
        }
        count
    }

    fn is_table_line(line: &str) -> bool {
        line.trim_start().starts_with(['╭', '│', '├', '╞', '╰'])
    }

    #[test]
    fn every_lesson_fits_80_and_160_columns_with_no_markup_left() {
        for lesson in crate::tutorial::load(None).unwrap() {
            let source: String = lesson
                .blocks
                .iter()
                .filter_map(|b| match b {
                    crate::tutorial::lesson::Block::Prose(p) => Some(p.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n");
            for width in [80, 160] {
                let out = render(&source, Layout { width, colour: false });
                let place = format!("{} at {width}", lesson.file);
                assert!(!out.contains("```"), "{place}: a fence shown raw");
                assert_eq!(out.matches('`').count(), backticks_in_code(&source), "{place}: a backtick outside code shown raw");
                for line in out.lines() {
                    let t = line.trim_start();
                    assert!(!(t.starts_with("# ") || t.starts_with("## ") || t.starts_with("### ")), "{place}: heading marker in {line:?}");
                    // Table rows never exceed the width (the terminal would break them
                    // mid-cell); only code lines, copied as written, may.
                    if is_table_line(line) || !line.starts_with("    ") {
                        assert!(line.width() <= width, "{place}: {} columns: {line:?}", line.width());
                    }
                }
            }
        }
    }

    #[test]
    fn long_cells_wrap_inside_their_column() {
        let long = "a cell long enough that it cannot stay on one line of an eighty column terminal at all";
        let md = format!("| Go | Rust |\n|---|---|\n| `short` | {long} |\n| x | y |\n");
        for width in [80, 160] {
            let out = render(&md, Layout { width, colour: false });
            let lines: Vec<&str> = out.lines().collect();
            assert!(lines.iter().all(|l| is_table_line(l)), "{out}");
            let widths: Vec<usize> = lines.iter().map(|l| l.width()).collect();
            assert!(widths.iter().all(|&w| w == widths[0] && w <= width), "every row as wide as the table, within {width}: {out}");
            // The long cell's words, read down its column, are the cell.
            let column: Vec<&str> = lines
                .iter()
                .filter_map(|l| l.split('┆').nth(1))
                .map(|c| c.trim_end_matches('│').trim())
                .filter(|c| !c.is_empty())
                .collect();
            let joined = column.join(" ");
            assert!(joined.contains(long), "{joined:?}");
            let rows_of_long_cell = lines.iter().filter(|l| l.contains('┆') && !l.contains(" y ")).count() - 1;
            assert_eq!(rows_of_long_cell > 1, width == 80, "wraps at 80, one line at 160: {out}");
        }
    }
}
