"""``python -m mali_partners.build_speedups``: compile the per-article modules (see :mod:`mali_partners.speedups`).

Run by ``make install``. Without Cython or a C compiler it says so in one line and exits 0:
the package then runs as Python, with the same results.
"""

from __future__ import annotations

import sys

from .speedups import build, build_dir


def main(argv: list[str] | None = None) -> int:
    """Compile, or say in one line why the Python modules will be used."""
    if sys.argv[1:] if argv is None else argv:
        print("usage: python -m mali_partners.build_speedups", file=sys.stderr)
        return 2
    try:
        names = build()
    except Exception as exc:  # no compiler, no Cython: the package works as Python, only slower
        print(f"speedups: not built ({exc}); the per-article step runs as Python, with the same results")
        return 0
    print(f"speedups: compiled {', '.join(names)} into {build_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
