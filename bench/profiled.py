"""Run an `omnihook` command under pyinstrument: `python -m bench.profiled OUT -- serve --port 3000`.

The profile (text, and HTML beside it) is written when the command returns, e.g. when `serve` gets SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyinstrument import Profiler


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    args = argv[argv.index("--") + 1 :] if "--" in argv else argv[1:]
    from omnihook.cli import app

    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        app(args, standalone_mode=False)
    finally:
        profiler.stop()
        out.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        out.with_suffix(".html").write_text(profiler.output_html())


if __name__ == "__main__":
    main(sys.argv[1:])
