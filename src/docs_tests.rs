//! Every Markdown file the repository cites exists in the repository.
//!
//! The scan reads every .rs, .md and .toml file of the repository (skipping `target/` and hidden
//! directories such as `.git/` and `.venv/`), finds each path ending in `.md`, and checks that it
//! names a file: relative to the repository root, or, in a Markdown file, relative to that file's
//! directory, as a Markdown link is. Two names of notes kept outside the repository are
//! reported wherever they appear; docs/ holds what they described.

use std::path::{Path, PathBuf};

/// Files that were never in the repository, spelt `.MD` here so the scan does not see them.
const RETIRED: [&str; 2] = ["REFERENCE.MD", "BENCHMARK.MD"];

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().expect("the repository root exists")
}

/// Sample and retired names are written with `.MD` so that this file cites nothing itself.
fn md(text: &str) -> String {
    text.replace(".MD", ".md")
}

/// The .rs, .md and .toml files under `dir`, in name order, skipping build output and hidden
/// directories.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries.map(|e| e.expect("a directory entry").path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                text_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs" || e == "md" || e == "toml") {
            out.push(path);
        }
    }
}

/// Whether `c` can be part of a cited path.
fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')
}

/// The repository paths ending in `.md` that `line` cites: the longest run of path characters
/// before each `.md` that ends a word. Globs, format strings (an empty file name), absolute paths
/// and the remains of URLs (a leading or doubled `/`) are not repository paths.
fn cited_markdown(line: &str) -> Vec<&str> {
    let mut cited = Vec::new();
    for (at, _) in line.match_indices(".md") {
        let end = at + 3;
        if line[end..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let start = line[..at]
            .char_indices()
            .rev()
            .find(|&(_, c)| !path_char(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let path = &line[start..end];
        let named = !path.ends_with("/.md") && path != ".md";
        if named && !path.starts_with('/') && !path.contains("//") {
            cited.push(path);
        }
    }
    cited
}

/// Whether `cited`, found in `file`, names a file inside the repository at `root`.
fn resolves(root: &Path, file: &Path, cited: &str) -> bool {
    let mut bases = vec![root.to_path_buf()];
    if file.extension().is_some_and(|e| e == "md") {
        bases.extend(file.parent().map(Path::to_path_buf));
    }
    bases.iter().any(|base| {
        base.join(cited).canonicalize().is_ok_and(|p| p.starts_with(root) && p.is_file())
    })
}

/// One message per dangling or retired citation in `text`, the contents of `file`.
fn problems(root: &Path, file: &Path, text: &str) -> Vec<String> {
    let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
    let retired = RETIRED.map(md);
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let at = format!("{shown}:{}", number + 1);
        for name in retired.iter().filter(|name| line.contains(name.as_str())) {
            found.push(format!("{at}: cites {name}, which is not in the repository; cite docs/"));
        }
        for cited in cited_markdown(line) {
            let is_retired = retired.iter().any(|name| cited.ends_with(name.as_str()));
            if !is_retired && !resolves(root, file, cited) {
                found.push(format!("{at}: cites {cited}, which does not exist"));
            }
        }
    }
    found
}

#[test]
fn every_cited_markdown_file_exists() {
    let root = root();
    let mut files = Vec::new();
    text_files(&root, &mut files);
    assert!(files.iter().any(|f| f.ends_with("README.md")), "the scan missed README.md");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        found.extend(problems(&root, file, &text));
    }
    assert!(found.is_empty(), "dangling citations:\n{}", found.join("\n"));
}

#[test]
fn the_scan_finds_repository_paths_only() {
    let line = md("see docs/nope.MD, README.MD and [x](optimizers.MD#a); not *.MD, \
                   {name}.MD, /etc/x.MD, https://example.org/a.MD or readme.mdx");
    let expected = ["docs/nope.MD", "README.MD", "optimizers.MD"].map(md);
    assert_eq!(cited_markdown(&line), expected);
}

#[test]
fn dangling_and_retired_citations_are_reported() {
    let root = root();
    let text = md("one: docs/nope.MD\ntwo: docs/estimators.MD\nthree: REFERENCE.MD §2\n");
    let in_rust = problems(&root, &root.join("src/sample.rs"), &text);
    assert_eq!(in_rust.len(), 2, "{in_rust:?}");
    assert!(in_rust[0].starts_with(&md("src/sample.rs:1: cites docs/nope.MD")), "{in_rust:?}");
    assert!(in_rust[1].starts_with(&md("src/sample.rs:3: cites REFERENCE.MD")), "{in_rust:?}");
    let link = md("[files](files.MD) and [up](../README.MD)");
    assert!(problems(&root, &root.join(md("docs/sample.MD")), &link).is_empty());
    assert_eq!(problems(&root, &root.join("src/sample.rs"), &link).len(), 2);
}
