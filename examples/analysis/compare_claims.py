"""Side by side: the claim checks of two RESULTS files written by results_small.py.

    python examples/analysis/compare_claims.py docs/RESULTS_v1.md docs/RESULTS.md \
        [--names "synth v1" "synth v2"]

Every claim row (``| claim | metric | margin | SEs | verdict |``) of either file becomes one row
with both verdicts (holds / reversed / not separated, and the z value), grouped by the section
it is in, plus a line counting how the verdicts moved. A claim found in one file only shows
"—" for the other. Markdown on stdout.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

CLAIM = re.compile(
    r"^\| (?P<claim>[^|]+?) \| (?P<metric>[a-z_]+) \| (?P<margin>[-+][\d.]+) "
    r"\| (?P<z>[-+][\d.]+|[-+]?inf) \((?:paired|unpaired)\) \| (?P<verdict>[^|]+) \|$"
)


def verdict(text: str) -> str:
    """'holds', 'reversed' or 'not separated', from a results_small.py verdict cell."""
    if "within 2 SE" in text:
        return "not separated"
    return "reversed" if "does not hold" in text else "holds"


def claims(path: Path) -> dict[tuple[str, str, str], tuple[str, float]]:
    """(section, claim, metric) -> (verdict, z) for every claim row of a RESULTS file."""
    out: dict[tuple[str, str, str], tuple[str, float]] = {}
    section = ""
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].split(":")[0].strip()
            continue
        m = CLAIM.match(line.strip())
        if m:
            key = (section, m["claim"], m["metric"])
            out[key] = (verdict(m["verdict"]), float(m["z"]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--names", nargs=2, default=("old", "new"))
    a = ap.parse_args(argv)
    for p in (a.old, a.new):
        if not p.is_file():
            print(f"{p}: no such file", file=sys.stderr)
            return 2
    old, new = claims(a.old), claims(a.new)
    if not old or not new:
        print(f"{a.old if not old else a.new}: no claim rows found", file=sys.stderr)
        return 2
    keys = list(old) + [k for k in new if k not in old]
    n1, n2 = a.names
    print(f"| section | claim | metric | {n1} | {n2} |")
    print("| --- | --- | --- | --- | --- |")
    moves: dict[str, int] = {}
    for key in keys:
        cells = []
        for table in (old, new):
            v = table.get(key)
            cells.append(f"{v[0]} (z {v[1]:+.1f})" if v else "—")
        if key in old and key in new:
            move = f"{old[key][0]} -> {new[key][0]}"
            moves[move] = moves.get(move, 0) + 1
        print(f"| {key[0]} | {key[1]} | {key[2]} | {cells[0]} | {cells[1]} |")
    print()
    both = sum(moves.values())
    print(
        f"Claims in both files: {both}; " + "; ".join(f"{k}: {v}" for k, v in sorted(moves.items()))
    )
    only_new = sum(k not in old for k in new)
    if only_new:
        print(f"\nClaims only in {n2}: {only_new}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
