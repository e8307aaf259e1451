//! `pmem2 badblocks PATH [--clear] [--json]`: the bad blocks of a file on
//! fsdax or of a device DAX, as byte ranges from the start of PATH; with
//! `--clear`, each is cleared (a regular file gets fresh blocks that read
//! as zeros; a device DAX needs root and firmware support).
//!
//! Bad blocks are what the kernel's NVDIMM driver lists for a namespace; a
//! file that is not on one (tmpfs, a disk) has no such list, and the report
//! says so instead of "no bad blocks found".

use std::path::PathBuf;

use clap::Args;
use pmem2::{BadBlock, BadBlockContext, Error, Source};
use serde_json::json;

use crate::progress::Progress;
use crate::util::{emit, open_rw_or_ro, pmem_err};
use crate::Common;

/// Arguments of `pmem2 badblocks`.
#[derive(Debug, Args)]
pub struct BadblocksArgs {
    /// File or device DAX to examine.
    pub path: PathBuf,
    /// Clear every bad block found (needs write access).
    #[arg(long)]
    pub clear: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `pmem2 badblocks`.
pub fn run(args: &BadblocksArgs) -> Result<(), String> {
    let path = &args.path;
    let (file, writable) = open_rw_or_ro(path)?;
    if args.clear && !writable {
        return Err(format!("{}: not writable, cannot clear", path.display()));
    }
    let fail = pmem_err(path);
    let source = Source::from_file(&file).map_err(fail)?;
    let ctx = BadBlockContext::new(&source).map_err(fail)?;
    // No NVDIMM behind the source gives an empty list (PMDK's iterator says
    // "Cannot find any matching device, no bad blocks found"): the report
    // says what that means.
    let on_nvdimm = !crate::info::namespace(&source).is_null();
    let (blocks, note): (Vec<BadBlock>, Option<String>) = {
        let mut ctx = ctx;
        let mut list = Vec::new();
        let mut note = None;
        loop {
            match ctx.next() {
                Ok(bb) => list.push(bb),
                Err(Error::NoBadBlockFound(_)) => {
                    if !on_nvdimm {
                        note = Some(
                            "not on an NVDIMM namespace: the kernel keeps no bad-block \
                             list for this file, so none can be reported"
                                .to_owned(),
                        );
                    }
                    break;
                }
                Err(e) => return Err(fail(e)),
            }
        }
        // Clearing goes through a fresh context: the iterator above consumed
        // the first one's position, not its ability to clear.
        if args.clear && !list.is_empty() {
            let clearer = BadBlockContext::new(&source).map_err(fail)?;
            let total = list.iter().map(|b| b.length).sum();
            let mut progress = Progress::new("clear", Some(total), args.common.progress);
            for bb in &list {
                clearer.clear(bb).map_err(|e| {
                    format!(
                        "{}: clearing {} bytes at {}: {e} ({})",
                        path.display(),
                        bb.length,
                        bb.offset,
                        e.code_name()
                    )
                })?;
                progress.add(bb.length);
            }
            progress.finish();
        }
        (list, note)
    };

    let bytes: u64 = blocks.iter().map(|b| b.length).sum();
    let mut out = String::new();
    if args.common.json {
        outln!(
            out,
            "{}",
            json!({
                "path": path.display().to_string(),
                "source_type": source.file_type().to_string(),
                "count": blocks.len(),
                "bytes": bytes,
                "bad_blocks": blocks
                    .iter()
                    .map(|b| json!({ "offset": b.offset, "length": b.length }))
                    .collect::<Vec<_>>(),
                "cleared": args.clear && !blocks.is_empty(),
                "nvdimm": on_nvdimm,
                "note": note,
            })
        );
    } else {
        if let Some(note) = note {
            outln!(out, "{}: {note}", path.display());
        } else {
            outln!(
                out,
                "{}: {} bad block{} ({bytes} bytes)",
                path.display(),
                blocks.len(),
                if blocks.len() == 1 { "" } else { "s" },
            );
        }
        if !blocks.is_empty() {
            outln!(out, "{:>20} {:>20}", "offset", "length");
            for b in &blocks {
                outln!(out, "{:>20} {:>20}", b.offset, b.length);
            }
        }
        if args.clear && !blocks.is_empty() {
            outln!(out, "cleared {} bad blocks", blocks.len());
        }
    }
    emit(&out)
}
