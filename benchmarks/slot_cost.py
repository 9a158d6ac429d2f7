"""Constraints of one trading slot of the batch circuit, by component, at each accounts depth.

    python -m benchmarks slot-cost --depths 16,24 [--json results/slot-cost.json]

Per depth, ``build_batch_circuit(2, depth, l1_slots=1)`` and ``(1, depth, l1_slots=1)`` are
built without values; slot 1 is the trading (non-L1) slot. Its final constraints
(``component_counts``) are grouped by what they pay for (``GROUPS``: path prefixes under the
slot, both accounts summed), and its share of the public-input SHA-256 (the 59-byte state-diff
chunk) is the difference of the two circuits' ``public_input`` components. Records: depth,
slot (the slot's own constraints), sha_share, per_slot (slot + sha_share), groups {name:
constraints}, components {path: constraints} (the slot's two top levels), seconds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

# what a trading slot pays for: component paths under the slot ("*" = account_a and account_b)
GROUPS = {
    "accounts Merkle paths (old + new leaf)": ["*/merkle_update"],
    "order trees (old + new order leaf)": ["*/order_tree"],
    "account leaf hashes (old + new, incl. positions)": ["*/leaf_old", "*/leaf_new"],
    "positions opened (lookups, value, X's slot)": ["*/positions"],
    "scenario margin (requirement bounds)": ["*/scenario"],
    "margin rules (healthy, trade allowed, liquidation)": ["margin", "*/margin"],
    "apply (new balances, funding, collateral range)": ["*/apply"],
    "signatures (2 EdDSA-Poseidon + message hashes)": ["signature"],
    "public data (state-diff chunk bits)": ["public_data"],
    "request decoding (type flags, ranges, asset lookup)": ["type", "ranges", "asset"],
    "type rules (prices, fees, liquidation, expiry, scenario stage)": ["rules"],
    "oracle table writes": ["oracle"],
}


def _expand(pattern: str) -> list[str]:
    if pattern.startswith("*/"):
        return [f"account_{s}/{pattern[2:]}" for s in "ab"]
    return [pattern]


def breakdown(counts: dict[str, int], slot: str) -> tuple[dict[str, int], int]:
    """(constraints per group, the rest) of component `slot` in `counts`."""
    groups = {name: sum(counts.get(f"{slot}/{p}", 0) for pat in pats for p in _expand(pat))
              for name, pats in GROUPS.items()}
    return groups, counts[slot] - sum(groups.values())


def measure(depth: int) -> dict:
    from circuits.batch import build_batch_circuit

    t = time.perf_counter()
    two = build_batch_circuit(2, depth, l1_slots=1).component_counts()
    one = build_batch_circuit(1, depth, l1_slots=1).component_counts()
    groups, rest = breakdown(two, "slot1")
    groups["other"] = rest
    sha = two["public_input"] - one["public_input"]
    comps = {k[len("slot1/"):]: v for k, v in two.items()
             if k.startswith("slot1/") and k.count("/") <= 2}
    return {"op": "slot_cost", "depth": depth, "slot": two["slot1"], "sha_share": sha,
            "per_slot": two["slot1"] + sha, "batch_delta": two[""] - one[""],
            "groups": groups, "components": comps,
            "seconds": round(time.perf_counter() - t, 1)}


def table(records: list[dict]) -> str:
    """The markdown table of docs/circuits.md: one row per group, one column per depth."""
    head = "| component | " + " | ".join(f"depth {r['depth']}" for r in records) + " |"
    rows = [head, "| --- |" + " --- |" * len(records)]
    for name in records[0]["groups"]:
        rows.append(f"| {name} | " + " | ".join(f"{r['groups'][name]:,}" for r in records)
                    + " |")
    for key, name in (("slot", "**trading slot**"), ("sha_share", "its public-input SHA share"),
                      ("per_slot", "**per trading slot**")):
        rows.append(f"| {name} | " + " | ".join(f"{r[key]:,}" for r in records) + " |")
    return "\n".join(rows)


def main(depths: list[int], json_path: str | None) -> list[dict]:
    out = []
    for d in depths:
        rec = measure(d)
        print(json.dumps(rec), flush=True)
        out.append(rec)
    print(table(out))
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2) + "\n")
    return out
