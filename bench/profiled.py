"""Run an `omnihook` command under pyinstrument: `python -m bench.profiled OUT -- serve --port 3000`.

The profile (text, and HTML beside it) is written when the command returns, e.g. when `serve` gets SIGTERM.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from pyinstrument import Profiler


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    args = argv[argv.index("--") + 1 :] if "--" in argv else argv[1:]
    from omnihook.cli import app

    # uvicorn re-raises the SIGTERM it caught once it has shut down: end with SystemExit, so the profile is written
    signal.signal(signal.SIGTERM, _exit)
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        app(args, standalone_mode=False)
    except SystemExit:
        pass
    finally:
        profiler.stop()
        out.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        out.with_suffix(".html").write_text(profiler.output_html())
        if profiler.last_session is not None:
            profiler.last_session.save(str(out.with_suffix(".pyisession")))


def _exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    main(sys.argv[1:])
