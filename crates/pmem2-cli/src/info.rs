//! `pmem2 info [PATH] [--json]`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use clap::Args;
use pmem2::{BadBlockContext, Config, Error, FileType, Granularity, Map, Protection, Source};
use pmem2_nvdimm::nd::{Device, NamespaceMode, PersistenceDomain, Sysfs};
use pmem2_nvdimm::{eadr, SYSFS_ROOT};
use serde_json::{json, Value};

use crate::util::{emit, open_rw_or_ro, pmem_err, temp_file};
use crate::Common;

/// Arguments of `pmem2 info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// File or device DAX to examine (default: a temporary file created in
    /// the current directory and removed afterwards; where none can be
    /// created, only the platform is reported).
    pub path: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `pmem2 info`.
pub fn run(args: &InfoArgs) -> Result<(), String> {
    let mut report = platform();
    let file = match &args.path {
        Some(p) => file_report(p)?,
        // No PATH: probe the current directory; where no file can be made
        // there (`/proc`, a read-only mount), the platform part stands
        // alone, with the reason.
        None => match std::env::current_dir()
            .map_err(|e| format!("current directory: {}", crate::util::os_message(&e)))
            .and_then(|dir| temp_file("info", 4096, &dir))
            .and_then(|probe| file_report(probe.path()))
        {
            Ok(file) => file,
            Err(e) => json!({
                "path": null,
                "file_error": format!("{e}; give a PATH to examine a file"),
            }),
        },
    };
    if let (Value::Object(all), Value::Object(file)) = (&mut report, file) {
        all.extend(file);
    }
    if args.common.json {
        emit(&format!("{report}\n"))
    } else {
        emit(&text(&report))
    }
}

/// What doesn't depend on a file: flush instruction, kernel, eADR, regions.
fn platform() -> Value {
    let mem = pmem2::mem::info();
    let regions: Vec<Value> = eadr::regions(Path::new(SYSFS_ROOT))
        .into_iter()
        .map(|r| json!({ "name": r.name, "persistence_domain": r.persistence_domain }))
        .collect();
    json!({
        "flush": mem.flush.to_string(),
        "mem_kernel": mem.kernel.to_string(),
        "movnt_threshold": mem.movnt_threshold,
        "eadr": pmem2::platform_is_eadr(),
        "regions": regions,
    })
}

/// How `path` maps.
fn file_report(path: &Path) -> Result<Value, String> {
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
    let nd = namespace(&source);
    let bad_blocks = match BadBlockContext::new(&source) {
        Ok(ctx) => ctx
            .collect::<pmem2::Result<Vec<_>>>()
            .map_or_else(|e| Value::from(format!("error: {e}")), |v| v.len().into()),
        Err(e) => ras_value::<u64>(Err(e)),
    };
    Ok(json!({
        "path": path.display().to_string(),
        "source_type": source.file_type().to_string(),
        "size": size,
        "alignment": alignment,
        "writable": writable,
        "map_sync": map.map_sync(),
        "granularity": map.store_granularity().to_string(),
        "forced_granularity": std::env::var("PMEM2_FORCE_GRANULARITY").ok(),
        "namespace": nd,
        "bad_blocks": bad_blocks,
        "unsafe_shutdown_count": ras_value(source.device_usc()),
        "device_id": ras_value(source.device_id()),
        "numa_node": ras_value(source.numa_node()),
    }))
}

/// A RAS answer for JSON: the value, `"not supported"` (PMDK's NOSUPP, or
/// no NVDIMM behind the source), or `"error: ..."`.
fn ras_value<T: Into<Value>>(result: pmem2::Result<T>) -> Value {
    match result {
        Ok(v) => v.into(),
        Err(Error::NotSupported(_) | Error::DaxRegionNotFound(_)) => "not supported".into(),
        Err(e) => format!("error: {e}").into(),
    }
}

/// The NVDIMM region and namespace behind the source, `null` when none.
pub fn namespace(source: &Source<'_>) -> Value {
    let sysfs = Sysfs::default();
    let Some(stat) = source
        .fd()
        .ok()
        .and_then(|fd| fd.try_clone_to_owned().ok())
        .and_then(|fd| std::fs::File::from(fd).metadata().ok())
    else {
        return Value::Null;
    };
    let device = match source.file_type() {
        FileType::Regular => Device::File { dev: stat.dev() },
        FileType::DeviceDax => Device::DeviceDax { rdev: stat.rdev() },
        FileType::Anonymous => return Value::Null,
    };
    let m = match sysfs.find(device) {
        Ok(Some(m)) => m,
        Ok(None) => return Value::Null,
        Err(e) => return format!("error: {e}").into(),
    };
    let mode = match m.namespace.kind() {
        NamespaceMode::Fsdax => "fsdax",
        NamespaceMode::Devdax => "devdax",
        NamespaceMode::Sector => "sector",
        NamespaceMode::Raw => "raw",
    };
    let domain = match m.region.persistence_domain() {
        Ok(Some(PersistenceDomain::CpuCache)) => "cpu_cache".into(),
        Ok(Some(PersistenceDomain::MemoryController)) => "memory_controller".into(),
        Ok(Some(PersistenceDomain::None)) => "none".into(),
        Ok(None) => Value::Null,
        Err(e) => format!("error: {e}").into(),
    };
    let bounds = m.namespace.bounds(&sysfs, &m.region).ok();
    json!({
        "region": format!("region{}", m.region.id),
        "region_size": m.region.size().ok(),
        "region_numa_node": m.region.numa_node().ok(),
        "persistence_domain": domain,
        "namespace": m.namespace.name,
        "mode": mode,
        "block_device": m.block_device,
        "dax_device": m.dax_device,
        "data_offset": bounds.map(|b| b.0),
        "data_size": bounds.map(|b| b.1),
    })
}

fn text(r: &Value) -> String {
    let mut out = String::new();
    outln!(out, "platform");
    outln!(
        out,
        "  flush instruction   {}",
        r["flush"].as_str().unwrap_or("?")
    );
    outln!(
        out,
        "  memcpy kernel       {} (non-temporal from {} bytes)",
        r["mem_kernel"].as_str().unwrap_or("?"),
        r["movnt_threshold"]
    );
    outln!(out, "  eADR                {}", yes_no(r["eadr"].as_bool()));
    let regions = r["regions"].as_array().map_or(&[][..], Vec::as_slice);
    if regions.is_empty() {
        outln!(out, "  NVDIMM regions      none");
    }
    for region in regions {
        outln!(
            out,
            "  {:<19} persistence_domain {}",
            region["name"].as_str().unwrap_or("?"),
            region["persistence_domain"].as_str().unwrap_or("(absent)")
        );
    }
    let Some(path) = r["path"].as_str() else {
        outln!(
            out,
            "no file examined: {}",
            r["file_error"].as_str().unwrap_or("?")
        );
        return out;
    };
    outln!(out, "{path}");
    outln!(
        out,
        "  source type         {}",
        r["source_type"].as_str().unwrap_or("?")
    );
    outln!(out, "  size                {}", r["size"]);
    outln!(out, "  alignment           {}", r["alignment"]);
    outln!(
        out,
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
    outln!(
        out,
        "  store granularity   {}{forced}",
        r["granularity"].as_str().unwrap_or("?")
    );
    let ns = &r["namespace"];
    if let Some(region) = ns["region"].as_str() {
        outln!(
            out,
            "  namespace           {} ({}) in {region}, persistence domain {}",
            ns["namespace"].as_str().unwrap_or("?"),
            ns["mode"].as_str().unwrap_or("?"),
            ns["persistence_domain"].as_str().unwrap_or("unknown"),
        );
        let dev = ns["dax_device"]
            .as_str()
            .or(ns["block_device"].as_str())
            .unwrap_or("?");
        outln!(
            out,
            "  device              {dev}, data at {} ({} bytes)",
            ns["data_offset"],
            ns["data_size"]
        );
    } else {
        outln!(out, "  namespace           none (not on an NVDIMM)");
    }
    outln!(out, "  bad blocks          {}", plain(&r["bad_blocks"]));
    outln!(
        out,
        "  unsafe shutdowns    {}",
        plain(&r["unsafe_shutdown_count"])
    );
    outln!(out, "  device id           {}", plain(&r["device_id"]));
    outln!(out, "  NUMA node           {}", plain(&r["numa_node"]));
    out
}

/// A JSON scalar without quotes.
fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn yes_no(v: Option<bool>) -> &'static str {
    if v == Some(true) {
        "yes"
    } else {
        "no"
    }
}
