"""Where the CPU goes, flat: `python -m bench.flat PROFILE.pyisession [--top N] [--under PATH-PART]`.

Sums pyinstrument's samples by function, by self time (the function's own code) and by total time.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

from pyinstrument.frame import Frame
from pyinstrument.session import Session


def walk(
    frame: Frame, stack: tuple[str, ...], own: defaultdict[str, float], total: defaultdict[str, float]
) -> None:
    name = f"{frame.function} {frame.file_path_short}:{frame.line_no}"
    if name not in stack:
        total[name] += frame.time
    self_time = frame.time - sum(child.time for child in frame.children)
    own[name] += self_time
    for child in frame.children:
        walk(child, (*stack, name), own, total)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flat")
    parser.add_argument("session")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--under", default="", help="only functions whose file path contains this")
    args = parser.parse_args(argv)
    root = Session.load(args.session).root_frame()
    assert root is not None
    own: defaultdict[str, float] = defaultdict(float)
    total: defaultdict[str, float] = defaultdict(float)
    walk(root, (), own, total)
    for title, counter in (("self", own), ("total", total)):
        print(f"--- by {title} time (s)")
        shown = [(k, v) for k, v in sorted(counter.items(), key=lambda kv: -kv[1]) if args.under in k][
            : args.top
        ]
        for name, seconds in shown:
            print(f"{seconds:8.3f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
