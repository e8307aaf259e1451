//! The man pages: libpmem2(7), libpmem(7) and the section-3 pages of both
//! libraries from `docs/man/*.scd`
//! (scdoc sources, converted with `scdoc`), one `.so` alias page per
//! further function a page describes, and pmem2(1) with its subcommand
//! pages from the CLI's clap definitions (`clap_mangen`, through the tool's
//! hidden `generate-man` subcommand).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{root, run};

/// The date shown in the pages' footers (`SOURCE_DATE_EPOCH` for scdoc):
/// fixed, so that the pages are reproducible.
const SOURCE_DATE_EPOCH: &str = "1767225600";
/// [`SOURCE_DATE_EPOCH`] as the footers show it.
pub const FOOTER_DATE: &str = "2026-01-01";

/// One scdoc source: its file, page name and section, and the functions
/// its NAME section lists.
#[derive(Debug)]
pub struct Page {
    pub source: PathBuf,
    pub name: String,
    pub section: String,
    pub names: Vec<String>,
}

/// The scdoc sources under `docs/man`.
pub fn pages() -> Result<Vec<Page>, String> {
    let dir = root().join("docs/man");
    let mut pages = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let source = entry.map_err(|e| e.to_string())?.path();
        let Some(stem) = source
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".scd"))
        else {
            continue;
        };
        let (name, section) = stem
            .rsplit_once('.')
            .ok_or_else(|| format!("{}: name it NAME.SECTION.scd", source.display()))?;
        let text = fs::read_to_string(&source).map_err(|e| e.to_string())?;
        let names = name_section(&text)
            .ok_or_else(|| format!("{}: no \"# NAME\" section", source.display()))?;
        if !names.iter().any(|n| n == name) {
            return Err(format!("{}: NAME does not list {name}", source.display()));
        }
        let (name, section) = (name.to_string(), section.to_string());
        pages.push(Page {
            source,
            name,
            section,
            names,
        });
    }
    pages.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pages)
}

/// The names before " - " in the NAME section.
fn name_section(text: &str) -> Option<Vec<String>> {
    let after = text.split("\n# NAME\n").nth(1)?;
    let line = after.lines().find(|l| !l.trim().is_empty())?;
    let (names, _) = line.split_once(" - ")?;
    Some(names.split(',').map(|n| n.trim().to_string()).collect())
}

/// Builds every page into `out/manN/`: scdoc for the library's, an alias
/// (`.so manN/PAGE.N`) for each further name, and `pmem2_cli` (the built
/// `pmem2` binary) for section 1. Returns the files written.
pub fn build(out: &Path, pmem2_cli: &Path) -> Result<Vec<PathBuf>, String> {
    let _ = fs::remove_dir_all(out);
    let mut written = Vec::new();
    for page in pages()? {
        let dir = out.join(format!("man{}", page.section));
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = dir.join(format!("{}.{}", page.name, page.section));
        let source = fs::File::open(&page.source).map_err(|e| e.to_string())?;
        let roff = run(Command::new("scdoc")
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
            .stdin(Stdio::from(source)))
        .map_err(|e| {
            format!(
                "scdoc (apt-get install scdoc) {}: {e}",
                page.source.display()
            )
        })?;
        fs::write(&file, roff).map_err(|e| format!("{}: {e}", file.display()))?;
        written.push(file);
        for alias in page.names.iter().filter(|n| **n != page.name) {
            let file = dir.join(format!("{alias}.{}", page.section));
            let text = format!(".so man{}/{}.{}\n", page.section, page.name, page.section);
            fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
            written.push(file);
        }
    }
    let man1 = out.join("man1");
    run(Command::new(pmem2_cli).arg("generate-man").arg(&man1))?;
    for entry in fs::read_dir(&man1).map_err(|e| e.to_string())? {
        written.push(entry.map_err(|e| e.to_string())?.path());
    }
    written.sort();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capi::symbols::API_SYMBOLS;

    /// Each of `functions` is named by exactly one section-3 page, and
    /// `library`(7) exists.
    fn each_named_once(functions: &[&str], library: &str) {
        let pages = pages().unwrap();
        let documented: Vec<&str> = pages
            .iter()
            .filter(|p| p.section == "3")
            .flat_map(|p| p.names.iter().map(String::as_str))
            .collect();
        for name in functions {
            assert_eq!(
                documented.iter().filter(|d| *d == name).count(),
                1,
                "{name} must be named by exactly one section-3 page"
            );
        }
        assert!(pages.iter().any(|p| p.name == library && p.section == "7"));
    }

    #[test]
    fn every_exported_function_has_a_page() {
        let functions: Vec<&str> = API_SYMBOLS
            .iter()
            .copied()
            .chain(["pmem2_err_to_errno"])
            .collect();
        each_named_once(&functions, "libpmem2");
    }

    #[test]
    fn every_libpmem_function_has_a_page() {
        each_named_once(&crate::capi::libpmem::SYMBOLS, "libpmem");
    }

    #[test]
    fn name_section_lists_the_names() {
        let text = "x(3)\n\n# NAME\n\na, b,c - what\n\n# SYNOPSIS\n";
        assert_eq!(name_section(text).unwrap(), ["a", "b", "c"]);
        assert!(name_section("no name").is_none());
    }
}
