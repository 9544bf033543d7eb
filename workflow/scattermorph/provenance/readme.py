"""Generated blocks of the README and the docs: numbers copied from files the rules write.

As in showyourwork, numbers quoted in the text are never typed by hand. A block

.. code-block:: text

    <!-- BEGIN GENERATED from results/default/learning/summary.md sha256=<hex> -->
    ...the file's text, verbatim but for its headings (demoted two levels)...
    <!-- END GENERATED -->

holds the current text of the named file (a path relative to the repository
root, whichever Markdown file holds the block) and the sha256 of the body as
it was written. :func:`sync` replaces the body of every block whose file
exists with the file's text and records the new hash; :func:`check` finds
blocks whose body no longer matches its recorded hash (edited by hand) or,
when the file exists, differs from it (stale: the study was rerun but the
page not synced). A block whose file does not exist (a checkout without
results, e.g. CI) is reported as not checked and left unchanged.

The blocks may sit in any of the :func:`documents`: ``README.md`` and every
``docs/*.md`` (the study's numbers are in ``docs/results.md``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from scattermorph.errors import InputFileError

__all__ = ["Block", "DOCUMENTS", "documents", "body_hash", "as_body", "demote_headings", "parse_blocks", "check",
           "sync", "render_block"]

_BEGIN = re.compile(r"^<!-- BEGIN GENERATED from (?P<source>\S+) sha256=(?P<sha>[0-9a-f]{64}) -->[ \t]*$")
_END = "<!-- END GENERATED -->"
_ANY_BEGIN = re.compile(r"^<!-- BEGIN GENERATED\b")

#: what check() reports per block; the first two make it fail
HAND_EDITED, STALE, OK, NOT_CHECKED = "hand-edited", "stale", "ok", "not checked"

#: the Markdown files that may hold generated blocks, relative to the
#: repository root: the README (which must exist) and every page of docs/
DOCUMENTS = ("README.md", "docs/*.md")


def documents(base=".") -> list[Path]:
    """The Markdown files of :data:`DOCUMENTS` under ``base``: ``README.md``
    first, then every ``docs/*.md`` in name order (paths joined to ``base``).

    Raises
    ------
    InputFileError
        ``base`` has no ``README.md`` (not the repository root).
    """
    base = Path(base)
    readme = base / DOCUMENTS[0]
    if not readme.is_file():
        raise InputFileError(f"{readme}: no such file (run from the repository root, or name the Markdown "
                             "files with --readme)")
    return [readme, *sorted(p for p in base.glob(DOCUMENTS[1]) if p.is_file())]


@dataclass(frozen=True)
class Block:
    """One generated block: ``source`` (path as written), the ``sha256``
    recorded in its BEGIN line, its ``body`` and the 0-based line numbers of
    its BEGIN and END lines."""

    source: str
    sha256: str
    body: str
    begin: int
    end: int


def body_hash(body: str) -> str:
    """sha256 (hex) of a block body, UTF-8 encoded."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


#: levels by which the headings of a copied page are demoted, so that a
#: summary page's ``#`` title nests under a ``##`` section of the page
#: holding the block
HEADING_SHIFT = 2


def demote_headings(text: str, levels: int = HEADING_SHIFT) -> str:
    """Markdown ATX headings (``#`` to ``######``) of ``text`` moved down by
    ``levels`` (at most to level 6); lines inside fenced code blocks are left
    alone."""
    out, fence = [], None
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            mark = stripped[:3]
            fence = None if fence == mark else (fence or mark)
        elif fence is None:
            m = re.match(r"^(#{1,6})(\s)", line)
            if m:
                line = "#" * min(6, len(m[1]) + levels) + line[len(m[1]):]
        out.append(line)
    return "".join(out)


def as_body(text: str) -> str:
    """A file's text as a block body: verbatim but for its headings, demoted
    by :data:`HEADING_SHIFT` levels (:func:`demote_headings`), with a final
    newline added if it lacks one (the END line must start a line)."""
    text = demote_headings(text)
    return text if text.endswith("\n") or not text else text + "\n"


def render_block(source: str, body: str) -> str:
    """The text of a block for ``source`` holding ``body`` (with its hash)."""
    body = as_body(body)
    return f"<!-- BEGIN GENERATED from {source} sha256={body_hash(body)} -->\n{body}{_END}\n"


def parse_blocks(text: str, *, name: str = "README") -> list[Block]:
    """The generated blocks of a Markdown text, in order.

    Raises
    ------
    InputFileError
        A BEGIN line that does not parse, a block without END, nested
        blocks, or an END without BEGIN (naming the line).
    """
    lines = text.splitlines(keepends=True)
    blocks, i = [], 0
    while i < len(lines):
        line = lines[i].rstrip("\r\n")
        if line.strip() == _END:
            raise InputFileError(f"{name}, line {i + 1}: END GENERATED without a BEGIN GENERATED line above it")
        if _ANY_BEGIN.match(line):
            m = _BEGIN.match(line)
            if not m:
                raise InputFileError(f"{name}, line {i + 1}: malformed generated-block marker {line!r}; write "
                                     "'<!-- BEGIN GENERATED from <path> sha256=<64 hex digits> -->'")
            j = i + 1
            while j < len(lines) and lines[j].rstrip("\r\n").strip() != _END:
                if _ANY_BEGIN.match(lines[j]):
                    raise InputFileError(f"{name}, line {j + 1}: BEGIN GENERATED inside the block opened on "
                                         f"line {i + 1}; close it with '{_END}' first")
                j += 1
            if j == len(lines):
                raise InputFileError(f"{name}, line {i + 1}: block for {m['source']} has no '{_END}' line")
            blocks.append(Block(m["source"], m["sha"], "".join(lines[i + 1:j]), i, j))
            i = j
        i += 1
    return blocks


def _read_source(root: Path, source: str) -> str | None:
    path = root / source
    return path.read_text(encoding="utf-8") if path.is_file() else None


def check(text: str, root, *, name: str = "README") -> list[tuple[Block, str, str]]:
    """Status of every generated block of ``text``.

    Returns
    -------
    list of (block, status, reason)
        ``status`` is ``hand-edited`` (body does not match its recorded
        sha256), ``stale`` (the file exists and differs from the body),
        ``ok`` or ``not checked`` (the file does not exist under ``root``).
    """
    root = Path(root)
    out = []
    for b in parse_blocks(text, name=name):
        current = _read_source(root, b.source)
        if body_hash(b.body) != b.sha256:
            out.append((b, HAND_EDITED, "body does not match its recorded sha256 (edited by hand): "
                                        "run `scattermorph readme` to rewrite it"
                                        + ("" if current is not None else f" once {b.source} exists")))
        elif current is None:
            out.append((b, NOT_CHECKED, f"{b.source} does not exist under {root}"))
        elif as_body(current) != b.body:
            out.append((b, STALE, f"{b.source} changed since the block was written: run `scattermorph readme`"))
        else:
            out.append((b, OK, f"matches {b.source}"))
    return out


def sync(text: str, root, *, name: str = "README") -> tuple[str, list[tuple[Block, str]]]:
    """Replace the body of every block whose file exists with its text.

    Returns
    -------
    new_text : str
    actions : list of (block, action)
        ``updated``, ``unchanged`` or ``not found`` (file missing: block
        left as it was).
    """
    root = Path(root)
    lines = text.splitlines(keepends=True)
    pieces, last, actions = [], 0, []
    for b in parse_blocks(text, name=name):
        current = _read_source(root, b.source)
        if current is None:
            actions.append((b, "not found"))
            continue
        new = render_block(b.source, current)
        old = "".join(lines[b.begin:b.end + 1])
        old = old if old.endswith("\n") else old + "\n"
        actions.append((b, "unchanged" if new == old else "updated"))
        pieces += ["".join(lines[last:b.begin]), new]
        last = b.end + 1
    tail = "".join(lines[last:])
    if last and last == len(lines) and not text.endswith("\n"):
        pieces[-1] = pieces[-1][:-1]  # keep the file's missing final newline
    return "".join(pieces) + tail, actions
