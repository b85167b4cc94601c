//! Helpers shared by the integration tests: a temporary working directory with fixture files,
//! and the `capsim` binary run inside it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temporary directory holding fixtures; the binary runs with it as the current directory.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// A new empty working directory.
    pub fn new() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating directories).
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write fixture");
        p
    }

    /// Reads a file as text.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// The `capsim` command, run in this directory.
    pub fn capsim(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin!("capsim"));
        c.current_dir(self.dir.path());
        c
    }
}

/// The repository root (for the shipped scenarios).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shipped scenario's path.
pub fn scenario(name: &str) -> PathBuf {
    repo().join("scenarios").join(name)
}

/// Chromium (or Chrome) on PATH, if any.
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = std::process::Command::new("which").arg(name).output()
            && out.status.success()
        {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    None
}

/// Opens `page` (a path inside the work dir) in headless Chromium and returns the natural
/// size of every image after the load event (`"WxH"`, with `?` for an image not complete) and
/// the DOM. Without Chromium it prints a loud skip message and returns `None`, unless
/// `CAPSIM_REQUIRE_CHROMIUM=1` (CI), where it panics.
pub fn images_in_chromium(w: &Workdir, page: &str, test: &str) -> Option<(Vec<String>, String)> {
    let Some(browser) = chromium() else {
        if std::env::var("CAPSIM_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
            panic!("CAPSIM_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)");
        }
        eprintln!(
            "\n######## SKIPPED {test}: no chromium on PATH ########\n\
             ######## install Debian's `chromium` (or set CAPSIM_REQUIRE_CHROMIUM=1 to make this fail) ########\n"
        );
        return None;
    };
    // A copy of the page whose script, after the load event, writes each image's natural size
    // into the DOM, which --dump-dom then prints.
    let html = w.read(page);
    let probe = "<script>window.addEventListener('load',function(){var o=[];for(var i=0;i<document.images.length;i++)\
                 {var m=document.images[i];o.push(m.naturalWidth+'x'+m.naturalHeight+(m.complete?'':'?'));}\
                 var p=document.createElement('pre');p.id='capsim-check';p.textContent='['+o.join(' ')+']';\
                 document.body.appendChild(p);});</script></body>";
    assert!(html.contains("</body>"), "{page} has no </body>");
    let check = Path::new(page).with_file_name("check.html");
    let check = check.to_str().expect("utf-8 path");
    w.write(check, &html.replace("</body>", probe));
    let profile = w.path().join("chromium-profile");
    let out = std::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", w.path().join(check).display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    let start = dom.find("<pre id=\"capsim-check\">[").unwrap_or_else(|| {
        panic!("the page's load script did not run; chromium stderr:\n{}", String::from_utf8_lossy(&out.stderr))
    });
    let rest = &dom[start + "<pre id=\"capsim-check\">[".len()..];
    let sizes = rest[..rest.find(']').expect("closing bracket")].split_whitespace().map(String::from).collect();
    Some((sizes, dom))
}
