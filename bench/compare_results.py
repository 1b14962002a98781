"""Two results folders of the demo, file by file: tables and figures byte for byte, result JSONs without the keys
that name the run rather than its numbers (by default ``created``; add ``config_hash`` when the configs differ only
in keys that add runs).

    .venv/bin/python bench/compare_results.py before/results after/results --ignore created,config_hash
"""

import json
from pathlib import Path

from _bench import parser


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--ignore", default="created", help="JSON keys left out of the comparison, comma-separated")
    args = ap.parse_args()
    ignore = set(args.ignore.split(","))
    files = [{p.relative_to(root) for p in root.rglob("*") if p.is_file()} for root in (args.a, args.b)]
    differ = []
    for rel in sorted(files[0] & files[1]):
        x, y = args.a / rel, args.b / rel
        if rel.suffix == ".json":
            jx, jy = ({k: v for k, v in json.loads(p.read_text()).items() if k not in ignore} for p in (x, y))
            same = jx == jy
        else:
            same = x.read_bytes() == y.read_bytes()
        if not same:
            differ.append(str(rel))
    common = len(files[0] & files[1])
    print(f"{common} files in both: {common - len(differ)} identical, {len(differ)} differ")
    for rel in differ:
        print(f"  differ: {rel}")
    for root, only in ((args.a, files[0] - files[1]), (args.b, files[1] - files[0])):
        print(f"only in {root}: {', '.join(sorted(map(str, only))) or '-'}")


if __name__ == "__main__":
    main()
