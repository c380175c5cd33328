//! The book cannot drift from the code.
//!
//! * Every ```` ```console ```` block in `book/src/*.md` is a transcript: each `$ kafkalab ...`
//!   line is run (from the repository root, with the real `kafkalab` binary) and its output,
//!   standard output then standard error, must match the lines that follow it, up to the next
//!   `$ kafkalab` line or the end of the block. The syntax is trycmd's: a line `...` stands for any number of lines, `[..]` for any text within a line,
//!   and an optional `? N` line right after the command gives the exit status (default 0).
//! * Every link between the book's pages, and every `#anchor`, points at something that exists;
//!   every scenario path the book names exists; every page is in `SUMMARY.md`.
//! * Every exercise answer in `scenarios/answers/` meets its own expectations, and the book
//!   shows each one.
//!
//! The binary is built with `cargo build -p kafkalab --profile test` (the profile this test
//! runs under, so the dependencies are shared), or taken from `KAFKALAB_BIN` when set.
//!
//! A change that moves every run's schedule moves the book's transcripts with it. With
//! `KAFKALAB_BLESS=1` the transcript test rewrites each failing transcript to what the binary
//! printed: it keeps every `...` line and every line that still matches, and replaces a line
//! that does not by the output line at its place (or, after `...`, the first later one that
//! says the same apart from its leading `12.345s` time, or else the first of the same kind,
//! such as `digest: ...`). It then still fails, naming what it rewrote: the prose around each
//! transcript may quote what moved, and a person must read it. Lines it cannot place stay as
//! they were, for that person to mend.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn book_pages() -> Vec<PathBuf> {
    let dir = root().join("book/src");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("book/src exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// One `$ command` of a console block with the output the book shows for it.
#[derive(Debug)]
struct Transcript {
    origin: String,
    command: String,
    status: i32,
    expected: Vec<String>,
    /// The page, and the index of its first expected line among the page's lines.
    page: PathBuf,
    first: usize,
}

/// The transcripts of one page, in order.
fn transcripts(page: &Path) -> Vec<Transcript> {
    let text = std::fs::read_to_string(page).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_start() != "```console" {
            i += 1;
            continue;
        }
        i += 1;
        let mut current: Option<Transcript> = None;
        while i < lines.len() && lines[i].trim_start() != "```" {
            let line = lines[i];
            // A command is `$ kafkalab ...`; other lines starting with `$ ` are output (kafkalab
            // heads each table with the Kafka command that prints it, `$ kafka-topics.sh ...`).
            let command = line.strip_prefix("$ ").filter(|c| c.starts_with("kafkalab ") || current.is_none());
            if let Some(command) = command {
                out.extend(current.take());
                let origin = format!("{}:{}", relative(page), i + 1);
                let mut command = command.to_string();
                while command.ends_with('\\') && i + 1 < lines.len() {
                    command.pop();
                    i += 1;
                    command.push(' ');
                    command.push_str(lines[i].trim());
                }
                let mut status = 0;
                if let Some(code) = lines.get(i + 1).and_then(|l| l.strip_prefix("? ")) {
                    status = code.trim().parse().unwrap_or_else(|_| panic!("{origin}: bad status line"));
                    i += 1;
                }
                current = Some(Transcript {
                    origin,
                    command,
                    status,
                    expected: Vec::new(),
                    page: page.to_path_buf(),
                    first: i + 1,
                });
            } else {
                let transcript = current
                    .as_mut()
                    .unwrap_or_else(|| panic!("{}:{}: a console block starts with `$ `", relative(page), i + 1));
                transcript.expected.push(line.to_string());
            }
            i += 1;
        }
        assert!(i < lines.len(), "{}: a console block is not closed", relative(page));
        out.extend(current.take());
        i += 1;
    }
    out
}

/// Whether `actual` matches `pattern`, in which `[..]` stands for any text.
fn line_matches(pattern: &str, actual: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[..]").collect();
    if parts.len() == 1 {
        return pattern == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if first.len() + last.len() > actual.len() || !actual.starts_with(first) || !actual.ends_with(last) {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether the output lines match the expected ones, in which a line `...` stands for any
/// number of lines.
fn output_matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=actual.len()).any(|skip| output_matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => {
            actual.split_first().is_some_and(|(line, more)| line_matches(first, line) && output_matches(rest, more))
        }
    }
}

fn kafkalab_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("KAFKALAB_BIN") {
        return PathBuf::from(path);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root())
        .args(["build", "-p", "kafkalab", "--bin", "kafkalab", "--profile", "test", "--message-format=json"])
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building kafkalab failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == "kafkalab")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the kafkalab executable")
}

/// A transcript that failed: the message, and what the binary printed.
struct Failure {
    message: String,
    actual: Vec<String>,
}

/// Runs one transcript's command and returns its failure, or `None` when it matches.
fn check(binary: &Path, transcript: &Transcript) -> Option<Failure> {
    let words: Vec<&str> = transcript.command.split_whitespace().collect();
    let Some((&"kafkalab", args)) = words.split_first() else {
        let message =
            format!("{}: only `kafkalab` commands run in the book: {}", transcript.origin, transcript.command);
        return Some(Failure { message, actual: Vec::new() });
    };
    let output = Command::new(binary).args(args).current_dir(root()).output().expect("kafkalab runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let actual: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut expected: Vec<String> = transcript.expected.iter().map(|l| l.trim_end().to_string()).collect();
    while expected.last().is_some_and(|l| l.is_empty()) {
        expected.pop();
    }
    let status = output.status.code().unwrap_or(-1);
    if status == transcript.status && output_matches(&expected, &actual) {
        return None;
    }
    let message = format!(
        "{}: `{}` exited with {status} (the book says {}); the book shows:\n{}\n--- it printed:\n{}",
        transcript.origin,
        transcript.command,
        transcript.status,
        expected.join("\n"),
        actual.join("\n")
    );
    Some(Failure { message, actual: actual.iter().map(|l| l.to_string()).collect() })
}

/// A line of the event feed without its leading time (`  12.345s  broker 1 ...`), to find the
/// same line at another moment.
fn without_time(line: &str) -> &str {
    let rest = line.trim_start();
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let fraction = digits.strip_prefix('.').map(|r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
    match fraction.and_then(|r| r.strip_prefix('s')) {
        Some(after) if digits.len() < rest.len() => after.trim_start(),
        _ => line,
    }
}

/// A line up to its first digit (`digest: `, `checker: `), to find the same kind of line with
/// other figures.
fn stem(line: &str) -> &str {
    &line[..line.find(|c: char| c.is_ascii_digit()).unwrap_or(line.len())]
}

/// The expected lines rewritten to match `actual` as closely as they can: `...` lines and
/// lines that still match stay; another line becomes the output line at its place, or, after
/// a `...`, the first later output line that says the same apart from its time, or else the
/// first of the same kind (the same text up to the first digit). A line that finds nothing
/// stays as it was, for a person to mend.
fn bless(expected: &[String], actual: &[String]) -> Vec<String> {
    let mut blessed = Vec::with_capacity(expected.len());
    let (mut at, mut free) = (0, false);
    for line in expected {
        if line.trim() == "..." {
            blessed.push(line.clone());
            free = true;
            continue;
        }
        let window = if free { actual.len() } else { (at + 1).min(actual.len()) };
        let kind = stem(line);
        let found = (at..window)
            .find(|&j| line_matches(line, &actual[j]))
            .or_else(|| (at..actual.len()).find(|&j| without_time(line) == without_time(&actual[j])))
            .or_else(|| (!free && at < actual.len()).then_some(at))
            .or_else(|| (!kind.trim().is_empty()).then(|| (at..actual.len()).find(|&j| stem(&actual[j]) == kind))?);
        match found {
            Some(j) => {
                blessed.push(if line_matches(line, &actual[j]) { line.clone() } else { actual[j].clone() });
                at = j + 1;
                free = false;
            }
            None => blessed.push(line.clone()),
        }
    }
    blessed
}

/// Rewrites the failed transcripts of each page with [`bless`], from the last to the first so
/// that earlier line numbers stay true. Returns the transcripts rewritten.
fn bless_pages(failed: &[(&Transcript, Failure)]) -> Vec<String> {
    let mut by_page: std::collections::BTreeMap<&Path, Vec<&(&Transcript, Failure)>> = Default::default();
    for entry in failed {
        by_page.entry(entry.0.page.as_path()).or_default().push(entry);
    }
    let mut rewritten = Vec::new();
    for (page, mut entries) in by_page {
        let text = std::fs::read_to_string(page).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        entries.sort_by_key(|(t, _)| std::cmp::Reverse(t.first));
        for (transcript, failure) in entries {
            let mut expected = transcript.expected.clone();
            // Blank lines at the end of a block are not compared; they stay where they are.
            let mut tail = Vec::new();
            while expected.last().is_some_and(|l| l.trim().is_empty()) {
                tail.push(expected.pop().expect("checked"));
            }
            let mut blessed = bless(&expected, &failure.actual);
            blessed.extend(tail.into_iter().rev());
            lines.splice(transcript.first..transcript.first + transcript.expected.len(), blessed);
            rewritten.push(transcript.origin.clone());
        }
        let ending = if text.ends_with('\n') { "\n" } else { "" };
        std::fs::write(page, lines.join("\n") + ending).unwrap();
    }
    rewritten
}

#[test]
fn every_transcript_in_the_book_runs() {
    let all: Vec<Transcript> = book_pages().iter().flat_map(|page| transcripts(page)).collect();
    assert!(all.len() >= 14, "the book shows at least one run per chapter, found {}", all.len());
    let binary = kafkalab_binary();
    let queue = Mutex::new(all.iter());
    let failures = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let Some(transcript) = queue.lock().unwrap().next() else { break };
                if let Some(failure) = check(&binary, transcript) {
                    failures.lock().unwrap().push((transcript, failure));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    if !failures.is_empty() && std::env::var_os("KAFKALAB_BLESS").is_some() {
        let rewritten = bless_pages(&failures);
        panic!(
            "KAFKALAB_BLESS: rewrote {} transcript(s); read the prose around each, then run the test again:\n{}",
            rewritten.len(),
            rewritten.join("\n")
        );
    }
    let messages: Vec<&str> = failures.iter().map(|(_, f)| f.message.as_str()).collect();
    assert!(failures.is_empty(), "{} transcript(s) differ:\n\n{}", failures.len(), messages.join("\n\n"));
}

/// The ids mdBook gives a page's headings: lower case, spaces to `-`, only letters, digits,
/// `-` and `_` kept, repeated ids numbered `-1`, `-2`, ...
fn anchors(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let base: String = title
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        let mut id = base.clone();
        let mut n = 1;
        while ids.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        ids.push(id);
    }
    ids
}

/// The targets of a page's inline links `[text](target)`, outside code.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        // Drop inline code spans so `[..](..)` in them is not taken for a link.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn the_books_links_and_anchors_resolve() {
    let dir = root().join("book/src");
    let mut broken = Vec::new();
    for page in book_pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file_path = if file.is_empty() { page.clone() } else { dir.join(file) };
            let Ok(linked) = std::fs::read_to_string(&file_path) else {
                broken.push(format!("{}: no page {file}", relative(&page)));
                continue;
            };
            if !anchor.is_empty() && !anchors(&linked).iter().any(|a| a == anchor) {
                broken.push(format!("{}: {file} has no heading #{anchor}", relative(&page)));
            }
        }
        // `{{#include path:lines}}` (the TUI snapshots shown in the book) must name a file.
        for include in text.split("{{#include ").skip(1) {
            let target = include.split(['}', ':']).next().unwrap_or_default().trim();
            if !dir.join(target).exists() {
                broken.push(format!("{}: includes {target}, which does not exist", relative(&page)));
            }
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find("scenarios/") {
            let path: String =
                rest[at..].chars().take_while(|c| c.is_alphanumeric() || matches!(c, '/' | '-' | '_' | '.')).collect();
            let path = path.trim_end_matches('.');
            if path.ends_with(".ron") && !root().join(path).exists() {
                broken.push(format!("{}: names {path}, which does not exist", relative(&page)));
            }
            rest = &rest[at + "scenarios/".len()..];
        }
    }
    let summary = std::fs::read_to_string(dir.join("SUMMARY.md")).unwrap();
    let listed = links(&summary);
    for page in book_pages() {
        let name = page.file_name().unwrap().to_string_lossy().to_string();
        if name != "SUMMARY.md" && !listed.contains(&name) {
            broken.push(format!("book/src/{name} is not in SUMMARY.md"));
        }
    }
    assert!(broken.is_empty(), "broken links in the book:\n{}", broken.join("\n"));
}

#[test]
fn every_exercise_answer_meets_its_expectations_and_the_book_shows_it() {
    let dir = root().join("scenarios/answers");
    let mut answers: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/answers exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    answers.sort();
    let book: String = book_pages().iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let mut failures = Vec::new();
    for path in &answers {
        let name = relative(path);
        if !book.contains(&name) {
            failures.push(format!("{name}: no chapter shows this answer"));
        }
        let scenario = sim::scenario::load_file(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!scenario.expect.is_empty(), "{name} states no expectations");
        let seed = scenario.seed;
        let report = sim::run(scenario, seed).unwrap_or_else(|e| panic!("{e}"));
        for e in report.expectations.iter().filter(|e| !e.passed) {
            failures.push(format!("{name}: {} ({})", e.name, e.detail));
        }
    }
    assert!(answers.len() >= 14, "one answer per chapter, found {}", answers.len());
    assert!(failures.is_empty(), "answers fail:\n{}", failures.join("\n"));
}

#[test]
fn the_matcher_understands_trycmds_elisions() {
    assert!(line_matches("speed: [..] simulated seconds", "speed: 12.5x simulated seconds"));
    assert!(!line_matches("a[..]b", "ab-"));
    assert!(line_matches("a[..]b[..]c", "a1b2c"));
    assert!(!line_matches("abc[..]bcd", "abcd"));
    let expected: Vec<String> = ["one", "...", "four"].iter().map(|s| s.to_string()).collect();
    assert!(output_matches(&expected, &["one", "two", "three", "four"]));
    assert!(output_matches(&expected, &["one", "four"]));
    assert!(!output_matches(&expected, &["one", "four", "five"]));
}

/// Blessing keeps `...` and what still matches, moves a timed line to its new time, and takes
/// the output line at the place of any other line that no longer matches.
#[test]
fn blessing_follows_moved_lines_and_keeps_elisions() {
    let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let expected = lines(&[
        "$ kafka-topics.sh --describe",
        "...",
        "   8.109s  controller 3000 broker 1 fenced",
        "   8.125s  broker 2     now leader at log end offset 753",
        "...",
        "digest: 022d6e61e7f42b1f",
        "speed: [..]",
    ]);
    let actual = lines(&[
        "$ kafka-topics.sh --describe",
        "   0.000s  world        start",
        "   8.106s  controller 3000 broker 1 fenced",
        "   8.120s  broker 2     now leader at log end offset 752",
        "   9.000s  world        later",
        "digest: 2566f9a396734165",
        "speed: 400x",
    ]);
    let blessed = bless(&expected, &actual);
    assert_eq!(
        blessed,
        lines(&[
            "$ kafka-topics.sh --describe",
            "...",
            "   8.106s  controller 3000 broker 1 fenced",
            "   8.120s  broker 2     now leader at log end offset 752",
            "...",
            "digest: 2566f9a396734165",
            "speed: [..]",
        ])
    );
    let actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    assert!(output_matches(&blessed, &actual));
    assert_eq!(without_time("  12.345s  broker 1     x"), "broker 1     x");
    assert_eq!(without_time("digest: 12"), "digest: 12");
}
