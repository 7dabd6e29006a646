"""The guide's code blocks, and the markers that say why a block cannot run against the emulator."""
from __future__ import annotations

import re
from dataclasses import dataclass



BLOCK = re.compile(r"(?:<!--\s*(?P<marker>[a-z-]+):\s*(?P<reason>.*?)\s*-->\s*\n)?```(?P<lang>bash|python)\n(?P<code>.*?)```", re.S)


# Markers an HTML comment right above a block may carry: why it is not run against the emulator.
SKIP_MARKERS = {"not-runnable-locally": "not runnable locally: {reason}", "moto-lacks": "moto does not implement {reason}"}


@dataclass(frozen=True)
class CodeBlock:
    index: int
    language: str
    code: str
    heading: str  # the nearest markdown heading above the block
    skip_reason: str | None  # from a SKIP_MARKERS comment right above the block


def code_blocks(markdown: str) -> list[CodeBlock]:
    blocks = []
    for index, match in enumerate(BLOCK.finditer(markdown)):
        prose = re.sub(r"```.*?```", "", markdown[: match.start()], flags=re.S)  # a '# comment' in code is no heading
        headings = re.findall(r"^#+ (.+)$", prose, re.M)
        marker, reason = match.group("marker"), match.group("reason")
        reason = SKIP_MARKERS[marker].format(reason=reason) if marker in SKIP_MARKERS else None
        blocks.append(CodeBlock(index, match.group("lang"), match.group("code"), headings[-1] if headings else "", reason))
    return blocks
