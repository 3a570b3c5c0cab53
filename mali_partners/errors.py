"""Problems found in user input, collected and reported all at once.

A :class:`Problem` names the file, the row or line, what is wrong and the fix;
:class:`InputError` carries every problem of one check so that the command line
can print them together and exit non-zero instead of showing a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, with where it is and how to fix it."""

    file: str
    message: str
    fix: str
    where: str = ""  # e.g. "row 3 (id 002)" or "line 12"

    def __str__(self) -> str:
        place = f"{self.file}: {self.where}: " if self.where else f"{self.file}: "
        return f"{place}{self.message}\n    fix: {self.fix}"


def utf8_problem(file: str, data: bytes, start: int, fix: str = "save the file as UTF-8", what: str = "") -> Problem:
    """The problem of ``data`` not being UTF-8 from byte ``start`` on: its line and column, then the byte.

    One wording for every file read (articles, manifest, gazetteer, lexicon), so each names
    the line, as a problem should. The column counts characters (the line's bytes before
    ``start`` are valid UTF-8); ``what`` prefixes the message ("the manifest is ").
    """
    before = data[:start]
    line = before.count(b"\n") + 1
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", "replace")) + 1
    where = f"line {line}, column {column}"
    return Problem(file, f"{what}not valid UTF-8: byte 0x{data[start]:02x} (byte offset {start})", fix, where)


class InputError(Exception):
    """Raised with every problem of an input at once; never for a bug in the code."""

    def __init__(self, problems: list[Problem], what: str = "input") -> None:
        self.problems = list(problems)
        self.what = what
        super().__init__(self.report())

    def report(self) -> str:
        """Human-readable report: a count, then one block per problem."""
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the {self.what}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])
