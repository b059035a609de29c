//! The sandbox's state is its owner's alone.
//!
//! The kubeconfig and the token grant admin on the sandbox, `server.key` lets anyone
//! impersonate it, and `state.db` holds every object (Secrets included). So `KUBELAB_HOME`
//! and `data/` are 0700 and every file in them 0600, whatever the umask — as kubectl writes
//! kubeconfigs and minikube keeps its profile's keys. A home made by an older kubelab (0755
//! and 0644) is tightened at start.

use std::path::{Path, PathBuf};

/// What a sandbox keeps directly in its home, and in `data/`.
const HOME_FILES: &[&str] = &["token", "kubeconfig", "ca.crt", "server.crt", "server.key", "sandbox.pid", "sandbox.port", "sandbox.log"];
const DATA_FILES: &[&str] = &["state.db", "state.db-wal", "state.db-shm", "state.db-journal"];

/// Creates `dir` (and its parents) 0700 unless it exists ([`tighten`] fixes an existing one).
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Opens `path` for writing, created 0600 (an existing file is made 0600 too).
pub fn open(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true);
    if append {
        o.append(true);
    } else {
        o.truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let f = o.mode(0o600).open(path)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(f)
    }
    #[cfg(not(unix))]
    o.open(path)
}

/// Writes a file readable by its owner only.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write;
    open(path, false)?.write_all(contents.as_ref())
}

/// Creates an empty 0600 file unless it exists (SQLite then gives its `-wal` and `-shm`
/// files the database's mode).
pub fn create_file(path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        open(path, true)?;
    }
    Ok(())
}

/// Takes group and other permissions off the sandbox's home, `data/` and the files in them;
/// returns what it changed.
pub fn tighten(home: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut changed = vec![];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let data = home.join("data");
        let candidates = [home.to_path_buf(), data.clone()]
            .into_iter()
            .chain(HOME_FILES.iter().map(|f| home.join(f)))
            .chain(DATA_FILES.iter().map(|f| data.join(f)));
        for path in candidates {
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let mode = meta.permissions().mode() & 0o7777;
            if !(meta.is_file() || meta.is_dir()) || mode & 0o077 == 0 {
                continue;
            }
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o700))?;
            changed.push(path);
        }
    }
    Ok(changed)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn loose_homes_are_tightened_and_new_files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(home.join("data")).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(home.join("data"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(home.join("token"), "t").unwrap();
        std::fs::set_permissions(home.join("token"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(home.join("unrelated"), "u").unwrap();
        std::fs::set_permissions(home.join("unrelated"), std::fs::Permissions::from_mode(0o644)).unwrap();

        let changed = tighten(&home).unwrap();
        assert_eq!(changed.len(), 3, "{changed:?}"); // home, data/, token
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&home.join("token")), 0o600);
        assert_eq!(mode(&home.join("unrelated")), 0o644, "files kubelab does not own are left alone");
        assert!(tighten(&home).unwrap().is_empty());

        write(&home.join("kubeconfig"), "k").unwrap();
        assert_eq!(mode(&home.join("kubeconfig")), 0o600);
        std::fs::set_permissions(home.join("kubeconfig"), std::fs::Permissions::from_mode(0o666)).unwrap();
        write(&home.join("kubeconfig"), "k2").unwrap();
        assert_eq!(mode(&home.join("kubeconfig")), 0o600, "rewriting an existing file makes it private");
        create_dir(&home.join("a/b")).unwrap();
        assert_eq!(mode(&home.join("a/b")), 0o700);
    }
}
