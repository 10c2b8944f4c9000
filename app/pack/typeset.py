"""Typeset one board pack in a process of its own: the pack's JSON on standard input, the PDF on output.

    python app/pack/typeset.py TEMPLATE UNIX_SECONDS < pack.json > pack.pdf

The service runs this file (not the package) for every pack, so each compile starts clean and its memory
goes back to the system when it ends: within one long-lived process the compiler keeps about 100 MiB of
caches per 300-proposal pack, and a server would grow with every download. Only the fonts embedded in
the typst package are used, whatever the machine has; nothing is fetched.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path


def main() -> int:
    import typst

    template, stamp = Path(sys.argv[1]), int(sys.argv[2])
    pack = sys.stdin.buffer.read().decode("utf-8")
    try:
        pdf = typst.Compiler(ignore_system_fonts=True).compile(
            input=template.read_bytes(),
            format="pdf",
            sys_inputs={"pack": pack},
            timestamp=datetime.fromtimestamp(stamp, UTC),
        )
    except typst.TypstError as exc:
        print(f"typst: {exc.message}\n{exc.diagnostic}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(pdf)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
