//! A command on a pseudo-terminal of its own: it sees a terminal (so it keeps its colours,
//! line buffering and live views) while every byte it writes still passes through us, to be
//! shown as it comes and kept for the verdict.
//!
//! The child leads a new session with the pty as its controlling terminal, so it is its own
//! process group: a Ctrl-C typed at the tutorial is not delivered to it, and ending the
//! step ends the whole group (background jobs included).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender};

/// A child on a pty, and the master side to read it (and write its keys).
pub struct PtyChild {
    pub child: Child,
    /// The master side: read the child's output, write its input.
    pub master: File,
}

impl PtyChild {
    /// Starts `cmd` on a new pty of `cols` x `rows`; its stdin, stdout and stderr are the pty.
    pub fn spawn(mut cmd: Command, cols: u16, rows: u16) -> std::io::Result<PtyChild> {
        let (master, slave) = open_pty(cols, rows)?;
        cmd.stdin(Stdio::from(slave.try_clone()?)).stdout(Stdio::from(slave.try_clone()?)).stderr(Stdio::from(slave));
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: setsid and ioctl are async-signal-safe, as pre_exec requires; they make
            // the child a session leader whose controlling terminal is the pty (its stdin).
            unsafe {
                cmd.pre_exec(|| {
                    if libc::setsid() < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn()?;
        // `cmd` still holds the slave side; it must go, or reading the master never ends.
        drop(cmd);
        Ok(PtyChild { child, master: File::from(master) })
    }

    /// A thread reading the master until every holder of the slave side is gone (EIO),
    /// sending each chunk as it arrives; the channel closes at the end.
    pub fn output(&self) -> std::io::Result<Receiver<Vec<u8>>> {
        let mut master = self.master.try_clone()?;
        let (tx, rx): (Sender<Vec<u8>>, _) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match master.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(rx)
    }
}

/// openpty(3) with a window size; both ends close on exec into anything else.
fn open_pty(cols: u16, rows: u16) -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut master = -1;
    let mut slave = -1;
    let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: openpty writes two fds into the out-pointers; name and termios may be null.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just opened by openpty and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on an fd we own.
        unsafe {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok((master, slave))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_sees_a_terminal_of_the_given_size() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("[ -t 1 ] && echo tty; stty size");
        let mut p = PtyChild::spawn(cmd, 91, 23).unwrap();
        let rx = p.output().unwrap();
        let out: Vec<u8> = rx.iter().flatten().collect();
        p.child.wait().unwrap();
        let out = String::from_utf8_lossy(&out);
        assert!(out.contains("tty\r\n"), "{out:?}");
        assert!(out.contains("23 91"), "{out:?}");
    }
}
