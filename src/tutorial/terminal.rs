//! The reader's terminal during an interactive tutorial: raw mode (one key, no Enter), keys
//! typed too early thrown away, and output that still starts each line at the left margin
//! (raw mode turns off the terminal's `\n` -> `\r\n`).

use std::io::Write;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Enter,
    Space,
    Char(char),
    /// Ctrl-C (or Ctrl-D): leave, saving progress.
    Interrupt,
    Other,
}

impl From<KeyEvent> for Key {
    fn from(k: KeyEvent) -> Key {
        if k.modifiers.contains(KeyModifiers::CONTROL) {
            return match k.code {
                KeyCode::Char('c' | 'd') => Key::Interrupt,
                _ => Key::Other,
            };
        }
        match k.code {
            KeyCode::Enter => Key::Enter,
            KeyCode::Char(' ') => Key::Space,
            KeyCode::Char(c) => Key::Char(c.to_ascii_lowercase()),
            KeyCode::Esc => Key::Char('q'),
            _ => Key::Other,
        }
    }
}

/// Raw mode for as long as it lives; dropping it (on every exit path, a panic included)
/// gives the terminal back as it was.
pub struct RawTerminal(());

impl RawTerminal {
    pub fn enable() -> std::io::Result<RawTerminal> {
        crossterm::terminal::enable_raw_mode()?;
        Ok(RawTerminal(()))
    }

    /// Waits for one key press.
    pub fn key(&self) -> std::io::Result<Key> {
        loop {
            if let Event::Key(k) = event::read()? {
                if k.kind == KeyEventKind::Press {
                    return Ok(Key::from(k));
                }
            }
        }
    }

    /// A key already typed, if any, without waiting.
    pub fn typed(&self) -> std::io::Result<Option<Key>> {
        while event::poll(Duration::ZERO)? {
            if let Event::Key(k) = event::read()? {
                if k.kind == KeyEventKind::Press {
                    return Ok(Some(Key::from(k)));
                }
            }
        }
        Ok(None)
    }

    /// Throws away everything typed so far: a key pressed while a step ran must not answer
    /// the prompt that follows it.
    pub fn discard_typed(&self) -> std::io::Result<()> {
        // SAFETY: tcflush on stdin only drops its pending input.
        unsafe {
            libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH);
        }
        while event::poll(Duration::ZERO)? {
            event::read()?;
        }
        Ok(())
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Writes to stdout; in raw mode every `\n` becomes `\r\n`.
pub struct Screen {
    pub raw: bool,
    /// stdout is a terminal (else a step's `\r\n` is written as `\n`).
    pub tty: bool,
    /// Nobody reads stdout any more (`kubelab tutorial --yes | head`).
    closed: std::cell::Cell<bool>,
    /// Off a terminal: a step's output since its last newline, held back so colours (which
    /// some tools print on a pty whatever NO_COLOR says) are taken out of whole lines.
    partial: std::cell::RefCell<Vec<u8>>,
}

impl Screen {
    pub fn new(raw: bool, tty: bool) -> Screen {
        Screen { raw, tty, closed: std::cell::Cell::new(false), partial: std::cell::RefCell::new(vec![]) }
    }

    /// True once a write failed: the walk stops instead of running steps for no one.
    pub fn closed(&self) -> bool {
        self.closed.get()
    }

    fn write(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
            self.closed.set(true);
        }
    }

    pub fn print(&self, text: &str) {
        if self.raw {
            self.write(text.replace("\r\n", "\n").replace('\n', "\r\n").as_bytes())
        } else {
            self.write(text.as_bytes())
        }
    }

    pub fn line(&self, text: &str) {
        self.print(&format!("{text}\n"));
    }

    /// A step's bytes, as the step's own terminal wrote them (already `\r\n`); off a
    /// terminal, whole lines with `\n` and no escape sequences.
    pub fn raw_bytes(&self, bytes: &[u8]) {
        if self.tty {
            return self.write(bytes);
        }
        let mut partial = self.partial.borrow_mut();
        partial.extend_from_slice(bytes);
        if let Some(end) = partial.iter().rposition(|&b| b == b'\n') {
            let lines: Vec<u8> = partial.drain(..=end).collect();
            self.write(plain(&lines).as_bytes());
        }
    }

    /// The rest of a step's output, once it has ended.
    pub fn end_of_step(&self) {
        let rest = std::mem::take(&mut *self.partial.borrow_mut());
        if !rest.is_empty() {
            self.write(format!("{}\n", plain(&rest)).as_bytes());
        }
    }
}

fn plain(bytes: &[u8]) -> String {
    crate::tutorial::render::strip_ansi(&String::from_utf8_lossy(bytes).replace("\r\n", "\n"))
}
