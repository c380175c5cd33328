//! The rustc wrapper of `.cargo/pgo/` adds profile-guided optimisation to release code only,
//! and only with a rustc that can read the profile. These tests run it in front of a stand-in
//! rustc that prints the arguments it was given, so they check what the wrapper passes on
//! without compiling anything.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The wrapper in the repository.
fn wrapper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cargo/pgo/rustc-wrapper")
}

/// The major version of the LLVM the profile was taken with, which `refresh` wrote beside it.
fn profile_llvm() -> u32 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cargo/pgo/llvm-major");
    std::fs::read_to_string(&path).expect("llvm-major beside the profile").trim().parse().expect("a number")
}

/// A stand-in rustc in `dir` that reports LLVM `llvm_major` for `-vV` and otherwise prints
/// each argument on a line of its own.
fn fake_rustc(dir: &Path, llvm_major: u32) -> PathBuf {
    let path = dir.join("rustc");
    let script = format!(
        "#!/usr/bin/env bash\nif [ \"$1\" = -vV ]; then echo 'rustc 9.9.9'; echo 'LLVM version: {llvm_major}.1.2'; exit 0; fi\nprintf '%s\\n' \"$@\"\n"
    );
    std::fs::write(&path, script).expect("writing the stand-in rustc");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("making it executable");
    }
    path
}

/// The arguments the stand-in rustc received when the wrapper was run with `args`.
fn passed_on(llvm_major: u32, pgo: Option<&str>, args: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rustc = fake_rustc(dir.path(), llvm_major);
    let mut command = Command::new("bash");
    command.arg(wrapper()).arg(&rustc).args(args);
    match pgo {
        Some(value) => command.env("KAFKALAB_PGO", value),
        None => command.env_remove("KAFKALAB_PGO"),
    };
    let output = command.output().expect("running the wrapper");
    assert!(output.status.success(), "the wrapper failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8").lines().map(str::to_string).collect()
}

fn uses_profile(args: &[String]) -> bool {
    args.iter().any(|a| a.starts_with("-Cprofile-use=") && a.ends_with("/.cargo/pgo/kafkalab.profdata"))
}

const RELEASE: &[&str] = &["--crate-name", "sim", "-C", "opt-level=3", "--cfg", "madsim", "src/lib.rs"];

#[test]
fn release_code_gets_the_profile_and_says_so() {
    let args = passed_on(profile_llvm(), None, RELEASE);
    assert!(uses_profile(&args), "no profile in {args:?}");
    assert!(args.windows(2).any(|w| w[0] == "--cfg" && w[1] == "kafkalab_pgo"), "no cfg in {args:?}");
    // What cargo passed comes through unchanged, in front.
    assert_eq!(&args[..RELEASE.len()], RELEASE);
    // The joined spelling counts too.
    assert!(uses_profile(&passed_on(profile_llvm(), None, &["-Copt-level=3", "lib.rs"])));
}

#[test]
fn other_builds_pass_through_unchanged() {
    for args in [
        &["--crate-name", "sim", "-C", "opt-level=2", "src/lib.rs"][..],
        &["--crate-name", "sim", "src/lib.rs"][..],
        // A build script: opt-level 0 is rustc's default, so cargo passes none.
        &["--crate-name", "build_script_build", "build.rs"][..],
    ] {
        assert_eq!(passed_on(profile_llvm(), None, args), args, "changed: {args:?}");
    }
}

#[test]
fn an_instrumented_build_gets_no_profile() {
    let args = ["-C", "opt-level=3", "-Cprofile-generate=/tmp/raw", "lib.rs"];
    assert_eq!(passed_on(profile_llvm(), None, &args), args);
    let args = ["-C", "profile-generate=/tmp/raw", "-C", "opt-level=3", "lib.rs"];
    assert_eq!(passed_on(profile_llvm(), None, &args), args);
}

#[test]
fn switched_off_or_another_llvm_gets_no_profile() {
    let llvm = profile_llvm();
    assert_eq!(passed_on(llvm, Some("off"), RELEASE), RELEASE);
    // An older LLVM cannot read the profile; a newer one may not know the option that quiets
    // stale functions.
    assert_eq!(passed_on(llvm - 1, None, RELEASE), RELEASE);
    assert_eq!(passed_on(llvm + 1, None, RELEASE), RELEASE);
    assert!(uses_profile(&passed_on(llvm, Some("on"), RELEASE)));
}

#[test]
fn a_version_query_passes_through() {
    let output = passed_on(profile_llvm(), None, &["-vV"]);
    assert_eq!(output, ["rustc 9.9.9".to_string(), format!("LLVM version: {}.1.2", profile_llvm())]);
}
