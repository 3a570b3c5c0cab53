"""Gazetteer: the human-edited list of actors and their aliases, loaded and checked.

The YAML file (``data/gazetteer.yaml`` by default) is parsed into nodes so that every
problem can name its line: a duplicate alias across two actors, an empty alias, an
unknown parent, a cycle of parents, an unknown kind, invalid YAML. All problems are
reported at once and nothing is analysed with a broken gazetteer.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .errors import InputError, Problem, utf8_problem

KINDS = (
    "country",
    "bloc",
    "international organisation",
    "mission",
    "military operation",
    "armed group",
    "company",
    "person",
)
ACTOR_KEYS = {"name", "kind", "parent", "focal", "aliases", "not_followed_by", "not_preceded_by", "note"}
ALIAS_KEYS = {"alias", "note", "office", "from", "to"}


@dataclass(frozen=True)
class Alias:
    """One surface form of an actor, with the office and term where it names an office holder."""

    alias: str
    actor: str
    line: int
    note: str = ""
    office: str = ""
    start: str = ""
    end: str = ""


@dataclass
class Actor:
    """One actor: canonical name, kind, parent, aliases and context exclusions."""

    name: str
    kind: str
    line: int
    parent: str | None = None
    focal: bool = False
    aliases: list[Alias] = field(default_factory=list)
    not_followed_by: re.Pattern[str] | None = None
    not_preceded_by: re.Pattern[str] | None = None


@dataclass
class Gazetteer:
    """The loaded gazetteer: actors by name, the focal actor, a version and a content hash."""

    actors: dict[str, Actor]
    focal: str
    version: str
    sha: str
    path: str

    def ancestors(self, name: str) -> list[str]:
        """Parents of an actor, nearest first (Wagner -> [Russia])."""
        out, cur = [], self.actors[name].parent
        while cur:
            out.append(cur)
            cur = self.actors[cur].parent
        return out

    def descendants(self, name: str) -> list[str]:
        """Every actor whose chain of parents reaches ``name``."""
        return [a for a in self.actors if name in self.ancestors(a)]

    def root(self, name: str) -> str:
        """The top of an actor's parent chain (itself when it has no parent)."""
        anc = self.ancestors(name)
        return anc[-1] if anc else name

    def frame(self) -> pd.DataFrame:
        """One row per alias: actor, kind, parent, focal, alias, note, office, from, to."""
        rows = [
            {
                "actor": a.name,
                "kind": a.kind,
                "parent": a.parent or "",
                "focal": a.focal,
                "alias": al.alias,
                "note": al.note,
                "office": al.office,
                "from": al.start,
                "to": al.end,
            }
            for a in self.actors.values()
            for al in a.aliases
        ]
        return pd.DataFrame(rows)

    def check_actor(self, name: str) -> str:
        """Return ``name`` if it is an actor, else raise an error listing close names."""
        if name in self.actors:
            return name
        import difflib

        close = difflib.get_close_matches(name, list(self.actors), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known actors: {', '.join(self.actors)}"
        raise InputError([Problem(self.path, f"{name!r} is not an actor of the gazetteer", hint)], "request")


_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster than the pure-Python parser


def yaml_parse(text: str) -> Any:
    """The node tree of the YAML document in ``text`` (nodes keep their line numbers), None when it is empty.

    Parsed with libyaml when PyYAML has it; a document libyaml rejects is parsed again by the
    pure-Python parser, whose error (with the context mark :func:`yaml_problem` uses) is raised.
    """
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
    return yaml.compose(text, Loader=yaml.SafeLoader)


def yaml_value(root: Any) -> Any:
    """The Python value of a node tree from :func:`yaml_parse`: what ``yaml.safe_load`` gives, without parsing again."""
    return None if root is None else yaml.constructor.SafeConstructor().construct_document(root)


def yaml_problem(name: str, exc: yaml.YAMLError, fix: str) -> Problem:
    """A YAML syntax error as a Problem, placed where the faulty construct starts (an
    unclosed quote is reported at its opening line, not where the parser gave up)."""
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    near = context is not None and problem is not None and 0 < problem.line - context.line <= 2
    mark = context if near else problem or context
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    if near:
        where += f" (the parser stopped at line {problem.line + 1})"
    msg = getattr(exc, "problem", None) or str(exc)
    if getattr(exc, "context", None):
        msg = f"{msg} ({exc.context})"
    return Problem(name, f"invalid YAML: {msg}", fix, where)


def default_path() -> str:
    """Path of the packaged gazetteer."""
    return str(resources.files("mali_partners").joinpath("data", "gazetteer.yaml"))


def _scalar(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.ScalarNode):
        return "" if node.value is None else str(node.value)
    return None


def _mapping(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    return {str(k.value): v for k, v in node.value}


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def fold_key(alias: str) -> str:
    """The folded form an alias is matched in (accents and apostrophes folded, case kept)."""
    from .text import fold

    return fold(alias).replace("’", "'")


def clash_key(alias: str) -> str:
    """The key under which two aliases would match the same text: the folded form, lower-cased
    unless it is an acronym (acronyms match their exact capitals only)."""
    key = fold_key(alias)
    letters = [c for c in key if c.isalpha()]
    acronym = bool(letters) and all(c.isupper() for c in letters) and " " not in key.strip()
    return key if acronym else key.lower()


def gazetteer_load(path: str | os.PathLike[str] | None = None) -> Gazetteer:
    """Load and check a gazetteer YAML file; raise :class:`InputError` listing every problem."""
    path = str(path or default_path())
    name = path
    p = Path(path)
    if not p.is_file():
        raise InputError(
            [Problem(name, "the gazetteer file does not exist", "give the path of a gazetteer YAML file")], "gazetteer"
        )
    data = p.read_bytes()
    try:
        root = yaml_parse(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError([utf8_problem(name, data, exc.start)], "gazetteer") from None
    except yaml.YAMLError as exc:
        raise InputError(
            [yaml_problem(name, exc, "fix the indentation or quoting there (quote aliases with ':' or '#')")],
            "gazetteer",
        ) from None
    problems: list[Problem] = []
    if not isinstance(root, yaml.MappingNode):
        raise InputError(
            [Problem(name, "the file is not a mapping with `actors:`", "start from the packaged gazetteer.yaml")],
            "gazetteer",
        )
    top = _mapping(root)
    focal = _scalar(top["focal"]) if "focal" in top else None
    version = _scalar(top["version"]) if "version" in top else None
    if "actors" not in top or not isinstance(top["actors"], yaml.SequenceNode):
        raise InputError(
            [Problem(name, "no `actors:` list", "add `actors:` with one entry per actor", f"line {_line(root)}")],
            "gazetteer",
        )
    actors: dict[str, Actor] = {}
    alias_owner: dict[str, tuple[str, int]] = {}
    for node in top["actors"].value:
        line = _line(node)
        if not isinstance(node, yaml.MappingNode):
            problems.append(
                Problem(
                    name,
                    "an actor entry must be a mapping with name, kind and aliases",
                    "write `- name: ...`",
                    f"line {line}",
                )
            )
            continue
        m = _mapping(node)
        aname = _scalar(m["name"]) if "name" in m else None
        where = f"line {line}" + (f" (actor {aname})" if aname else "")
        for key in m:
            if key not in ACTOR_KEYS:
                problems.append(
                    Problem(
                        name,
                        f"unknown field {key!r}",
                        f"allowed: {', '.join(sorted(ACTOR_KEYS))}",
                        f"line {_line(m[key])} (actor {aname})",
                    )
                )
        if not aname:
            problems.append(Problem(name, "an actor has no name", "add `name:`", where))
            continue
        if aname in actors:
            problems.append(
                Problem(
                    name,
                    f"actor {aname!r} is defined twice (also on line {actors[aname].line})",
                    "merge the two entries",
                    where,
                )
            )
            continue
        kind = _scalar(m["kind"]) if "kind" in m else None
        if kind not in KINDS:
            problems.append(Problem(name, f"kind {kind!r} is not allowed", f"use one of: {', '.join(KINDS)}", where))
        parent = _scalar(m["parent"]) if "parent" in m else None
        focal_flag = (_scalar(m["focal"]) or "").lower() == "true" if "focal" in m else False
        actor = Actor(aname, kind or "", line, parent or None, focal_flag)
        for key in ("not_followed_by", "not_preceded_by"):
            if key in m:
                pattern = _scalar(m[key]) or ""
                try:
                    setattr(actor, key, re.compile(pattern, re.IGNORECASE))
                except re.error as exc:
                    problems.append(
                        Problem(
                            name,
                            f"{key} is not a valid regular expression: {exc}",
                            "fix the pattern",
                            f"line {_line(m[key])} (actor {aname})",
                        )
                    )
        anode = m.get("aliases")
        if not isinstance(anode, yaml.SequenceNode) or not anode.value:
            problems.append(
                Problem(name, f"actor {aname!r} has no aliases", "add `aliases:` with at least its name", where)
            )
            anode_items: list[yaml.Node] = []
        else:
            anode_items = anode.value
        for an in anode_items:
            aline = _line(an)
            fields: dict[str, str] = {}
            if isinstance(an, yaml.ScalarNode):
                fields["alias"] = _scalar(an) or ""
            elif isinstance(an, yaml.MappingNode):
                am = _mapping(an)
                for k, v in am.items():
                    if k not in ALIAS_KEYS:
                        problems.append(
                            Problem(
                                name,
                                f"unknown alias field {k!r}",
                                f"allowed: {', '.join(sorted(ALIAS_KEYS))}",
                                f"line {aline} (actor {aname})",
                            )
                        )
                    fields[k] = _scalar(v) or ""
            else:
                problems.append(
                    Problem(
                        name,
                        "an alias must be a string or a mapping with `alias:`",
                        "write the alias as a string",
                        f"line {aline} (actor {aname})",
                    )
                )
                continue
            text = fields.get("alias", "").strip()
            if not text:
                problems.append(
                    Problem(
                        name,
                        f"an alias of {aname!r} is empty",
                        "remove the empty alias or write it out",
                        f"line {aline} (actor {aname})",
                    )
                )
                continue
            key = clash_key(text)
            if key in alias_owner:
                other, oline = alias_owner[key]
                if other == aname:
                    problems.append(
                        Problem(
                            name,
                            f"alias {text!r} is listed twice for {aname!r} (also line {oline})",
                            "remove one",
                            f"line {aline} (actor {aname})",
                        )
                    )
                else:
                    problems.append(
                        Problem(
                            name,
                            f"alias {text!r} belongs to two actors: {other!r} (line {oline}) and {aname!r}",
                            "keep it under one actor only; use `parent` to roll one actor up into another",
                            f"line {aline} (actor {aname})",
                        )
                    )
                continue
            alias_owner[key] = (aname, aline)
            actor.aliases.append(
                Alias(
                    text,
                    aname,
                    aline,
                    fields.get("note", ""),
                    fields.get("office", ""),
                    fields.get("from", ""),
                    fields.get("to", ""),
                )
            )
        actors[aname] = actor
    for actor in actors.values():
        if actor.parent and actor.parent not in actors:
            problems.append(
                Problem(
                    name,
                    f"parent {actor.parent!r} of {actor.name!r} is not an actor",
                    "add that actor or fix the name",
                    f"line {actor.line} (actor {actor.name})",
                )
            )
    reported: set[frozenset[str]] = set()
    for actor in actors.values():
        seen = [actor.name]
        cur = actor.parent
        while cur and cur in actors:
            if cur in seen:
                members = seen[seen.index(cur) :]
                if frozenset(members) in reported:
                    break
                reported.add(frozenset(members))
                cycle = " -> ".join([*members, cur])
                problems.append(
                    Problem(
                        name,
                        f"a cycle of parents: {cycle}",
                        "an actor cannot be its own ancestor; remove one parent",
                        f"line {actor.line} (actor {actor.name})",
                    )
                )
                break
            seen.append(cur)
            cur = actors[cur].parent
    focal_actors = [a.name for a in actors.values() if a.focal]
    if focal and focal not in actors:
        problems.append(Problem(name, f"focal actor {focal!r} is not defined", "define it or fix `focal:`"))
    if len(focal_actors) > 1:
        problems.append(
            Problem(name, f"more than one focal actor: {', '.join(focal_actors)}", "mark only one actor `focal: true`")
        )
    if problems:
        raise InputError(problems, f"gazetteer {name}")
    focal_name = focal or (focal_actors[0] if focal_actors else "")
    if focal_name:
        actors[focal_name].focal = True
    sha = hashlib.sha256(data).hexdigest()[:12]
    return Gazetteer(actors, focal_name, str(version or ""), sha, name)
