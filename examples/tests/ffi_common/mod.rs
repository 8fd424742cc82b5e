//! What the tests of the C and Go users of the ABI share: where cargo built
//! netns-ffi, the repository root, and the external tools they need.

use std::path::{Path, PathBuf};

/// target/<profile>/deps: where the test binary is, and where cargo built
/// netns-ffi (a dev-dependency of netns-examples) as its dependency. A
/// cdylib or staticlib there has no hash in its name.
pub fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .expect("the test binary is in <target>/<profile>/deps")
        .to_path_buf()
}

/// The built library file `name` (libnetns.so, libnetns.a); fails if it is
/// not there.
pub fn library(name: &str) -> PathBuf {
    let p = deps_dir().join(name);
    assert!(
        p.is_file(),
        "{} is missing: cargo builds netns-ffi (a dev-dependency of netns-examples) \
         before the tests run",
        p.display()
    );
    p
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ is in the workspace root")
        .to_path_buf()
}

/// `tool` from PATH, or a failure that says which Debian package to install
/// for `user` (the C or Go user of the ABI).
pub fn require_tool(tool: &str, package: &str, user: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{tool}` is not installed (not found in PATH): the {user} of the ABI needs it; \
                 install the Debian package {package} (.ci/install-deps does)"
            )
        })
}
