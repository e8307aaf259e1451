//! The checker's report: findings grouped by kind, crash point and call
//! stack (symbolized only now), as text or JSON.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::tracker::{Finding, Kind, LINE};

/// The frames of a site worth showing: the checker's own frames and the
/// runtime's start-up frames are cut, at most 16 remain.
fn frames(finding: &Finding) -> Vec<String> {
    let Some(site) = &finding.site else {
        return Vec::new();
    };
    let text = site.to_string();
    let mut frames: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(at) = trimmed.strip_prefix("at ") {
            if let Some(last) = frames.last_mut() {
                let _ = write!(last, " at {at}");
            }
        } else if let Some((num, name)) = trimmed.split_once(": ") {
            if num.chars().all(|c| c.is_ascii_digit()) {
                frames.push(name.to_owned());
            }
        }
    }
    // Everything up to the last frame of the checker itself (the capture,
    // the tracker, the checking wrappers) is noise.
    let internal = |f: &String| {
        f.starts_with("std::backtrace")
            || f.contains("pmem2::check::")
            || f.contains("::checked_")
            || f.starts_with("<pmem2::check::")
    };
    if let Some(last) = frames.iter().rposition(internal) {
        frames.drain(..=last);
    }
    let end = frames
        .iter()
        .position(|f| {
            f.starts_with("core::ops::function::FnOnce::call_once")
                || f.starts_with("std::rt::")
                || f.starts_with("std::sys::backtrace::__rust_begin_short_backtrace")
                || f.starts_with("__libc_start")
                || f.starts_with("_start")
                || f.starts_with("<unknown>")
        })
        .unwrap_or(frames.len());
    frames.truncate(end.min(16));
    frames
}

/// One entry of the report: findings of one kind, at one point, from one
/// (symbolized) stack, merged.
struct Entry {
    kind: Kind,
    point: String,
    lines: usize,
    addr: usize,
    offset: Option<usize>,
    stack: Vec<String>,
    detail: Option<String>,
}

fn merge(findings: &[Finding]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for f in findings {
        let stack = frames(f);
        if let Some(e) = out.iter_mut().find(|e| {
            e.kind == f.kind && e.point == f.point && e.stack == stack && f.detail.is_none()
        }) {
            e.lines += f.lines;
            continue;
        }
        out.push(Entry {
            kind: f.kind,
            point: f.point.clone(),
            lines: f.lines,
            addr: f.addr,
            offset: f.offset,
            stack,
            detail: f.detail.clone(),
        });
    }
    out.sort_by_key(|e| e.kind);
    out
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::NotFlushed => "stores not durable: modified, never flushed",
        Kind::NotFenced => "stores not durable: flushed, never fenced (drained)",
        Kind::NtNotDrained => "non-temporal stores never drained",
        Kind::OutsideMappings => "persist or flush of a range outside every mapping",
        Kind::Superfluous => "superfluous flush: lines not modified since they were durable",
        Kind::Redundant => "redundant flush: lines already flushed, not modified since",
        Kind::CrashState => "a possible crash state fails the consistency checker",
    }
}

/// The totals of the performance notes (all of them, even those whose
/// sites were not kept), and of the crash-state exploration.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PerfTotals {
    pub(crate) superfluous: usize,
    pub(crate) redundant: usize,
    /// `Some` when exploring: the crash states given to the checker.
    pub(crate) explored: Option<u64>,
    /// The exploration stopped early: its time budget ran out (not when it
    /// stopped at a failing state, which is then a finding).
    pub(crate) budget_spent: bool,
    /// Maps checked, and how many of them had their pages write-tracked.
    pub(crate) maps_checked: usize,
    pub(crate) maps_write_tracked: usize,
}

/// The report as text.
pub(crate) fn text(findings: &[Finding], totals: PerfTotals) -> String {
    let entries = merge(findings);
    let durable = entries.iter().filter(|e| e.kind.is_durability()).count();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "pmem2 check: {durable} durability verdict{}, performance: {} superfluous and {} redundant \
         line flush{}",
        if durable == 1 { "" } else { "s" },
        totals.superfluous,
        totals.redundant,
        if totals.superfluous + totals.redundant == 1 {
            ""
        } else {
            "es"
        },
    );
    if let Some(states) = totals.explored {
        let _ = writeln!(
            s,
            "crash-state exploration: {states} state{} checked{}",
            if states == 1 { "" } else { "s" },
            if totals.budget_spent {
                ", stopped by its time budget"
            } else {
                ""
            }
        );
    }
    for (i, e) in entries.iter().enumerate() {
        let what = if e.kind == Kind::OutsideMappings {
            format!("{} call{}", e.lines, if e.lines == 1 { "" } else { "s" })
        } else {
            format!(
                "{} line{} ({} bytes)",
                e.lines,
                if e.lines == 1 { "" } else { "s" },
                e.lines * LINE
            )
        };
        let place = match e.offset {
            Some(off) => format!("map offset {off:#x} (address {:#x})", e.addr),
            None => format!("address {:#x}", e.addr),
        };
        let _ = writeln!(
            s,
            "[{}] {} at {}: {what}, first at {place}",
            i + 1,
            describe(e.kind),
            e.point
        );
        if let Some(detail) = &e.detail {
            let _ = writeln!(s, "    {detail}");
        }
        if e.stack.is_empty() {
            let _ = writeln!(s, "    (no stack)");
        }
        for (n, frame) in e.stack.iter().enumerate() {
            let _ = writeln!(s, "    {n:2}: {frame}");
        }
    }
    s
}

/// The report as JSON (see `docs/check.md` for the fields).
pub(crate) fn json(findings: &[Finding], totals: PerfTotals) -> String {
    let entries = merge(findings);
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "kind": e.kind.name(),
                "durability": e.kind.is_durability(),
                "point": e.point,
                "count": e.lines,
                "address": format!("{:#x}", e.addr),
                "offset": e.offset,
                "stack": e.stack,
                "detail": e.detail,
            })
        })
        .collect();
    let durable = entries.iter().filter(|e| e.kind.is_durability()).count();
    let doc = json!({
        "pmem2_check": 1,
        "durability_verdicts": durable,
        "superfluous_line_flushes": totals.superfluous,
        "redundant_line_flushes": totals.redundant,
        "findings": list,
        "maps_checked": totals.maps_checked,
        "maps_write_tracked": totals.maps_write_tracked,
    });
    let mut doc = doc;
    if let Some(states) = totals.explored {
        doc["explored_states"] = json!(states);
        doc["exploration_budget_spent"] = json!(totals.budget_spent);
    }
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::backtrace::Backtrace;
    use std::sync::Arc;

    #[test]
    fn findings_merge_and_render() {
        let site = Arc::new(Backtrace::force_capture());
        let f = |kind, lines| Finding {
            kind,
            point: "unmap".into(),
            lines,
            addr: 0x1000,
            offset: Some(0),
            site: Some(site.clone()),
            detail: None,
        };
        let findings = [
            f(Kind::Redundant, 2),
            f(Kind::NotFlushed, 1),
            f(Kind::NotFlushed, 2),
        ];
        let totals = PerfTotals {
            superfluous: 0,
            redundant: 2,
            explored: Some(7),
            budget_spent: false,
            maps_checked: 1,
            maps_write_tracked: 1,
        };
        let doc: Value = serde_json::from_str(&json(&findings, totals)).unwrap();
        assert_eq!(doc["durability_verdicts"], 1);
        assert_eq!(doc["explored_states"], 7);
        assert_eq!(doc["exploration_budget_spent"], false);
        assert_eq!(doc["findings"][0]["kind"], "not_flushed");
        assert_eq!(doc["findings"][0]["count"], 3);
        assert_eq!(doc["findings"][1]["kind"], "redundant_flush");
        let t = text(&findings, totals);
        assert!(t.starts_with("pmem2 check: 1 durability verdict,"), "{t}");
        assert!(t.contains("[1] stores not durable: modified, never flushed at unmap: 3 lines"));
        // The capture's own frames are cut.
        assert!(!t.contains("std::backtrace"), "{t}");
    }
}
