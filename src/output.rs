//! Atomic output directories. Results are written to a staging directory beside the target
//! once the computation has finished, then swapped into place, so an interrupted run (Ctrl-C,
//! SIGKILL) leaves the previous results intact and never a half-written set that could be
//! mistaken for a real one. capsim recognises the directories it wrote (a `run.json` naming
//! capsim, or a `partial.capsim`); it overwrites those, accepts an empty directory, and refuses
//! any other existing directory unless forced.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

const STAGING: &str = ".capsim-staging-";
const OLD: &str = ".capsim-old-";

/// A file to write: name within the directory, and bytes.
pub type OutFile = (String, Vec<u8>);

fn parts(target: &Path) -> Result<(PathBuf, String)> {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Input(format!("{} is not a usable output directory name", target.display())))?
        .to_string();
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// Whether a directory is one capsim wrote.
pub fn is_capsim_dir(dir: &Path) -> bool {
    let run = dir.join("run.json");
    // capsim's run.json is a few kB; a larger one is someone else's (and is not read whole).
    if let Ok(text) = crate::scenario::tree::read_text_limited(&run, 16 << 20) {
        return text.contains("\"capsim_version\"");
    }
    dir.join("partial.capsim").is_file()
}

/// Checks, before any computation, that results may be written to `target`; removes staging
/// directories left by killed runs and restores results a killed swap left aside.
pub fn prepare(target: &Path, force: bool) -> Result<()> {
    let (parent, name) = parts(target)?;
    // A file where a directory on the way should be: refused now, not after the computation.
    if let Some(file) = parent.ancestors().find(|a| a.is_file()) {
        return Err(Error::Input(format!(
            "{} cannot hold the output directory {}: it is a file; choose another --out",
            file.display(),
            target.display()
        )));
    }
    if parent.exists() {
        clean_stale(&parent, &name, target)?;
    }
    match fs::metadata(target) {
        Err(_) => Ok(()),
        Ok(m) if !m.is_dir() => {
            Err(Error::Input(format!("{} exists and is not a directory; choose another --out", target.display())))
        }
        Ok(_) => {
            let empty = fs::read_dir(target).map(|mut d| d.next().is_none()).unwrap_or(false);
            if empty || is_capsim_dir(target) || force {
                Ok(())
            } else {
                Err(Error::Input(format!(
                    "{} exists and was not written by capsim; refusing to overwrite it (use --force, or choose another --out)",
                    target.display()
                )))
            }
        }
    }
}

/// Whether the process that named a staging directory is still running (Linux: `/proc/<pid>`).
/// Another capsim writing to the same directory right now must not have its staging directory
/// deleted under it: that could leave a result with files missing that looks complete. Where
/// this cannot be told (no `/proc`), or the process is this one, the directory is stale.
fn owner_alive(pid: &str) -> bool {
    let Ok(pid) = pid.parse::<u32>() else { return false };
    if pid == std::process::id() {
        return false;
    }
    // `/proc/<pid>/stat` is `pid (comm) STATE …`; a killed process not yet reaped is a zombie (Z).
    match fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

fn clean_stale(parent: &Path, name: &str, target: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(parent) else { return Ok(()) };
    let staging_prefix = format!(".{name}{STAGING}");
    let old_prefix = format!(".{name}{OLD}");
    for e in entries.flatten() {
        let fname = e.file_name().to_string_lossy().to_string();
        if let Some(pid) = fname.strip_prefix(&staging_prefix) {
            if !owner_alive(pid) {
                let _ = fs::remove_dir_all(e.path());
            }
        } else if let Some(pid) = fname.strip_prefix(&old_prefix) {
            if owner_alive(pid) {
                continue;
            }
            // A swap was interrupted after moving the previous results aside: put them back.
            if !target.exists() {
                let _ = fs::rename(e.path(), target);
            } else {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(())
}

/// Writes `files` into `target` atomically (see the module docs).
pub fn write_atomic(target: &Path, files: &[OutFile], force: bool) -> Result<()> {
    prepare(target, force)?;
    let (parent, name) = parts(target)?;
    fs::create_dir_all(&parent).map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
    let pid = std::process::id();
    let staging = parent.join(format!(".{name}{STAGING}{pid}"));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir(&staging).map_err(|e| Error::io(format!("cannot create {}", staging.display()), e))?;
    let result = (|| {
        for (file, bytes) in files {
            let p = staging.join(file);
            fs::write(&p, bytes).map_err(|e| Error::io(format!("cannot write {}", p.display()), e))?;
        }
        let old = parent.join(format!(".{name}{OLD}{pid}"));
        let had_previous = target.exists();
        // Where the system can, swap the two directories in one step: at no instant is there
        // no result at `target`. The staging name then holds the previous results.
        if had_previous && exchange(&staging, target) {
            let _ = fs::remove_dir_all(&staging);
            return Ok(());
        }
        if had_previous {
            fs::rename(target, &old).map_err(|e| Error::io(format!("cannot move aside {}", target.display()), e))?;
        }
        if let Err(e) = fs::rename(&staging, target) {
            if had_previous {
                let _ = fs::rename(&old, target);
            }
            return Err(Error::io(format!("cannot move results into {}", target.display()), e));
        }
        if had_previous {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

/// Atomically exchanges two directories (Linux `renameat2(…, RENAME_EXCHANGE)`); false where the
/// system or file system cannot, and the caller falls back to two renames.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (Ok(a), Ok(b)) =
        (std::ffi::CString::new(a.as_os_str().as_bytes()), std::ffi::CString::new(b.as_os_str().as_bytes()))
    else {
        return false;
    };
    // SAFETY: both are valid NUL-terminated paths; the call only renames.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_directories_and_accepts_own() {
        let tmp = tempfile::tempdir().unwrap();
        let foreign = tmp.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("notes.txt"), "mine").unwrap();
        assert!(matches!(prepare(&foreign, false), Err(Error::Input(_))));
        assert!(prepare(&foreign, true).is_ok());

        let ours = tmp.path().join("ours");
        write_atomic(&ours, &[("run.json".into(), b"{\"capsim_version\": \"x\"}".to_vec())], false).unwrap();
        write_atomic(&ours, &[("run.json".into(), b"{\"capsim_version\": \"y\"}".to_vec())], false).unwrap();
        assert_eq!(fs::read_to_string(ours.join("run.json")).unwrap(), "{\"capsim_version\": \"y\"}");
        let leftovers: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn a_running_writers_staging_is_left_alone() {
        // Regression: a second run into the same directory deleted the first run's staging
        // directory while it was being written or swapped in.
        let tmp = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let live = tmp.path().join(format!(".out.capsim-staging-{}", child.id()));
        fs::create_dir(&live).unwrap();
        let dead = tmp.path().join(".out.capsim-staging-not-a-pid");
        fs::create_dir(&dead).unwrap();
        prepare(&tmp.path().join("out"), false).unwrap();
        assert!(live.exists(), "a running process's staging directory was removed");
        assert!(!dead.exists());
        child.kill().unwrap();
        child.wait().unwrap();
        prepare(&tmp.path().join("out"), false).unwrap();
        assert!(!live.exists(), "stale once its process has ended");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn directories_swap_in_one_step_where_the_system_can() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        fs::write(a.join("x"), "from a").unwrap();
        if exchange(&a, &b) {
            assert_eq!(fs::read_to_string(b.join("x")).unwrap(), "from a");
            assert!(!a.join("x").exists());
        } else {
            eprintln!("renameat2 RENAME_EXCHANGE not supported here: the two-rename fallback is used");
        }
    }

    #[test]
    fn stale_staging_is_removed_and_aside_results_restored() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("out");
        fs::create_dir(tmp.path().join(".out.capsim-staging-4294967295")).unwrap();
        let aside = tmp.path().join(".out.capsim-old-4294967295");
        fs::create_dir(&aside).unwrap();
        fs::write(aside.join("run.json"), "{\"capsim_version\": \"1\"}").unwrap();
        prepare(&target, false).unwrap();
        assert!(!tmp.path().join(".out.capsim-staging-4294967295").exists());
        assert!(target.join("run.json").exists(), "previous results restored");
    }
}
