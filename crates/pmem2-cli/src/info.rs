//! `pmem2 info [PATH] [--json]`.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use clap::Args;
use pmem2::sys::linux::{eadr, SYSFS_ROOT};
use pmem2::{Config, Granularity, Map, Protection, Source};
use serde_json::{json, Value};

/// Arguments of `pmem2 info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// File or device DAX to examine (default: a temporary file created in
    /// the current directory and removed afterwards).
    pub path: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A temporary probe file, removed on drop.
struct Probe(PathBuf);

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn run(args: &InfoArgs) -> Result<(), String> {
    let (path, _probe) = if let Some(p) = &args.path {
        (p.clone(), None)
    } else {
        let p = std::env::current_dir()
            .map_err(|e| format!("current directory: {e}"))?
            .join(format!(".pmem2-info-{}", std::process::id()));
        std::fs::write(&p, vec![0u8; 4096])
            .map_err(|e| format!("cannot create probe file {}: {e}", p.display()))?;
        (p.clone(), Some(Probe(p)))
    };
    let report = report(&path)?;
    if args.json {
        println!("{report}");
    } else {
        print_text(&report);
    }
    Ok(())
}

/// Opens read-write if allowed, else read-only.
fn open(path: &Path) -> Result<(File, bool), String> {
    match File::options().read(true).write(true).open(path) {
        Ok(f) => Ok((f, true)),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            File::open(path)
                .map(|f| (f, false))
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn report(path: &Path) -> Result<Value, String> {
    let (file, writable) = open(path)?;
    let fail = |e: pmem2::Error| format!("{}: {e} ({})", path.display(), e.code_name());
    let source = Source::from_file(&file).map_err(fail)?;
    let size = source.size().map_err(fail)?;
    let alignment = source.alignment().map_err(fail)?;

    // Map the smallest legal range: the answer doesn't depend on the length.
    let mut config = Config::with_granularity(Granularity::Page);
    config.set_length(alignment.min(size));
    if size < alignment {
        config.set_length(0);
    }
    if !writable {
        config.set_protection(Protection::READ);
    }
    let map = Map::new(&config, &source).map_err(fail)?;

    let regions: Vec<Value> = eadr::regions(Path::new(SYSFS_ROOT))
        .into_iter()
        .map(|r| json!({ "name": r.name, "persistence_domain": r.persistence_domain }))
        .collect();
    Ok(json!({
        "path": path.display().to_string(),
        "source_type": source.file_type().as_str(),
        "size": size,
        "alignment": alignment,
        "writable": writable,
        "map_sync": map.map_sync(),
        "granularity": map.store_granularity().as_str(),
        "forced_granularity": std::env::var("PMEM2_FORCE_GRANULARITY").ok(),
        "flush": pmem2::flush_kind().as_str(),
        "eadr": pmem2::map::platform_is_eadr(),
        "regions": regions,
    }))
}

fn print_text(r: &Value) {
    println!("platform");
    println!(
        "  flush instruction   {}",
        r["flush"].as_str().unwrap_or("?")
    );
    println!("  eADR                {}", yes_no(r["eadr"].as_bool()));
    let regions = r["regions"].as_array().map_or(&[][..], Vec::as_slice);
    if regions.is_empty() {
        println!("  NVDIMM regions      none");
    }
    for region in regions {
        println!(
            "  {:<19} persistence_domain {}",
            region["name"].as_str().unwrap_or("?"),
            region["persistence_domain"].as_str().unwrap_or("(absent)")
        );
    }
    println!("{}", r["path"].as_str().unwrap_or("?"));
    println!(
        "  source type         {}",
        r["source_type"].as_str().unwrap_or("?")
    );
    println!("  size                {}", r["size"]);
    println!("  alignment           {}", r["alignment"]);
    println!(
        "  MAP_SYNC            {}",
        if r["map_sync"].as_bool() == Some(true) {
            "accepted"
        } else {
            "refused"
        }
    );
    let forced = r["forced_granularity"]
        .as_str()
        .map(|v| format!(" (PMEM2_FORCE_GRANULARITY={v})"))
        .unwrap_or_default();
    println!(
        "  store granularity   {}{forced}",
        r["granularity"].as_str().unwrap_or("?")
    );
}

fn yes_no(v: Option<bool>) -> &'static str {
    if v == Some(true) {
        "yes"
    } else {
        "no"
    }
}
