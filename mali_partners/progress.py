"""Progress bars of long runs: on an interactive terminal only, unless asked (issue 9).

Used by the corpus reader (files), the per-article step (articles) and the table jobs.
"""

from __future__ import annotations

import os
import sys


def progress_enabled(progress: bool | None = None, stream=None) -> bool:
    """Show a progress bar? ``progress`` True/False forces it; None: only on an interactive terminal.

    Off when the stream is not a TTY, when ``CI`` is set, and inside Jupyter.
    """
    if progress is not None:
        return bool(progress)
    stream = sys.stderr if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty or os.environ.get("CI"):
        return False
    return "ipykernel" not in sys.modules


class Progress:
    """A tqdm bar on standard error (over files, articles or table jobs), or nothing when not enabled."""

    def __init__(
        self, total: int, enabled: bool, desc: str = "articles", unit: str = "art", every: bool = False
    ) -> None:
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            # ``every`` step drawn (a few slow steps), else at most ten times a second
            self.bar = tqdm(
                total=total,
                desc=desc,
                unit=unit,
                file=sys.stderr,
                smoothing=0.1,
                mininterval=0 if every else 0.1,
                miniters=1 if every else None,
            )

    def update(self, n: int) -> None:
        """Count ``n`` more steps done."""
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        """End the bar (it stays on the screen, complete or not)."""
        if self.bar is not None:
            self.bar.close()
