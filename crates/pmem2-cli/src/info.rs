//! `pmem2 info [PATH] [--json]`.

use std::path::{Path, PathBuf};

use clap::Args;
use pmem2::sys::linux::{eadr, SYSFS_ROOT};
use pmem2::{Config, Granularity, Map, Protection, Source};
use serde_json::{json, Value};

use crate::util::{open_rw_or_ro, pmem_err, TempFile};
use crate::Common;

/// Arguments of `pmem2 info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// File or device DAX to examine (default: a temporary file created in
    /// the current directory and removed afterwards).
    pub path: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `pmem2 info`.
pub fn run(args: &InfoArgs) -> Result<(), String> {
    let (path, _probe) = if let Some(p) = &args.path {
        (p.clone(), None)
    } else {
        let probe = TempFile::create("info", 4096)?;
        (probe.path().to_path_buf(), Some(probe))
    };
    let report = report(&path)?;
    if args.common.json {
        println!("{report}");
    } else {
        print_text(&report);
    }
    Ok(())
}

fn report(path: &Path) -> Result<Value, String> {
    let (file, writable) = open_rw_or_ro(path)?;
    let fail = pmem_err(path);
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

    let mem = pmem2::mem::info();
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
        "mem_kernel": mem.kernel.as_str(),
        "movnt_threshold": mem.movnt_threshold,
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
    println!(
        "  memcpy kernel       {} (non-temporal from {} bytes)",
        r["mem_kernel"].as_str().unwrap_or("?"),
        r["movnt_threshold"]
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
