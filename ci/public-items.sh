#!/usr/bin/env bash
# CI stage "public items": counts the public items of crate `pmem2` in
# rustdoc's JSON output and fails when there are more than LIMIT (default
# 120, issue 11: the public API is what a Rust user needs, near memmap2's
# scale). With --memmap2, also prints memmap2's count made the same way, from
# a copy that cargo downloads into a scratch directory, for comparison.
#
# usage: ci/public-items.sh [LIMIT] [--memmap2]
# needs: the nightly toolchain (rustdoc's JSON output is unstable; installed
#        by ci/ensure-nightly.sh if missing) and python3.
#
# What is counted is written once, in count_items below.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=120
memmap2=false
for arg in "$@"; do
  case "$arg" in
    --memmap2) memmap2=true ;;
    ''|*[!0-9]*) echo "usage: ci/public-items.sh [LIMIT] [--memmap2]" >&2; exit 2 ;;
    *) limit=$arg ;;
  esac
done

bash ci/ensure-nightly.sh >/dev/null

# Prints the number of public items of the crate whose rustdoc JSON is $1;
# with $2 = --list, one line per item (kind and path) on stderr first.
count_items() {
  python3 - "$@" <<'PY'
# Counted: the items of the crate itself (crate_id 0) that rustdoc documents
# by default (private and #[doc(hidden)] items are stripped), of these kinds:
#   types      struct, enum, union, type alias
#   traits     trait, trait alias
#   functions  free functions, inherent methods and associated functions
#              (`pub fn` in an `impl Type` block, macro-generated ones
#              included), and the functions a public trait declares
#   constants  const, associated consts (inherent, or declared by a trait)
#   statics    static
#   macros     macro_rules! exported macros, proc macros
# An item counts when its visibility is `pub`, or when it is declared by one
# of the crate's public traits (those have "default" visibility).
# Not counted: modules, `use` re-exports (the item re-exported is counted
# once, where it is defined), struct fields, enum variants, impl blocks, the
# items of trait impls (`impl Display for T { fn fmt }`: they add no name),
# associated types, and anything from another crate.
import json
import sys

doc = json.load(open(sys.argv[1]))
index = doc["index"]
counted_kinds = {
    "struct": "type", "enum": "type", "union": "type", "type_alias": "type",
    "trait": "trait", "trait_alias": "trait",
    "function": "function",
    "constant": "constant", "assoc_const": "constant",
    "static": "static",
    "macro": "macro", "proc_macro": "macro",
}

def kind(item):
    inner = item["inner"]
    return next(iter(inner)) if isinstance(inner, dict) else inner

local = {i: it for i, it in index.items() if it.get("crate_id") == 0}
declared_by_trait = set()
for it in local.values():
    if kind(it) == "trait" and it["visibility"] == "public":
        declared_by_trait.update(str(x) for x in it["inner"]["trait"]["items"])

# Owners, for the list: the type of an inherent impl, the trait of a trait.
owner = {}
for it in local.values():
    inner = it["inner"]
    if kind(it) == "impl":
        target = inner["impl"].get("for") or {}
        name = (target.get("resolved_path") or {}).get("path", "?")
        owner.update((str(x), name) for x in inner["impl"]["items"])
    elif kind(it) == "trait":
        owner.update((str(x), it.get("name") or "?") for x in inner["trait"]["items"])

def name_of(i, it):
    path = doc["paths"].get(str(i), {}).get("path")
    if path:
        return "::".join(path)
    return f"{owner.get(str(i), '?')}::{it.get('name') or '?'}"

items = []
for i, it in local.items():
    k = counted_kinds.get(kind(it))
    if k and (it["visibility"] == "public" or str(i) in declared_by_trait):
        items.append((k, name_of(i, it)))

if len(sys.argv) > 2 and sys.argv[2] == "--list":
    for k, name in sorted(items):
        print(f"  {k:<9} {name}", file=sys.stderr)
by_kind = {}
for k, _ in items:
    by_kind[k] = by_kind.get(k, 0) + 1
print(len(items), " ".join(f"{k}={n}" for k, n in sorted(by_kind.items())))
PY
}

start=$SECONDS
cargo +nightly rustdoc -q -p pmem2 --lib -- -Z unstable-options --output-format json
json=${CARGO_TARGET_DIR:-target}/doc/pmem2.json
read -r count detail < <(count_items "$json" ${PUBLIC_ITEMS_LIST:+--list})
echo "pmem2: $count public items ($detail), limit $limit ($((SECONDS - start))s)"

if $memmap2; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  mkdir -p "$scratch/src"
  printf '[package]\nname = "count"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nmemmap2 = "0.9"\n[workspace]\n' \
    >"$scratch/Cargo.toml"
  : >"$scratch/src/lib.rs"
  (cd "$scratch" && cargo +nightly rustdoc -q -p memmap2 -- -Z unstable-options --output-format json)
  m_json=$scratch/target/doc/memmap2.json
  m_version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["crate_version"])' "$m_json")
  read -r m_count m_detail < <(count_items "$m_json")
  echo "memmap2 $m_version: $m_count public items ($m_detail), counted the same way"
fi

if [ "$count" -gt "$limit" ]; then
  echo "ci/public-items.sh: pmem2 has $count public items, more than $limit" \
    "(PUBLIC_ITEMS_LIST=1 lists them)" >&2
  exit 1
fi
