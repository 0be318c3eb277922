"""Markdown for benchmark sections: {"title", "header", "rows", "notes"}."""

from __future__ import annotations

from typing import Any


def markdown_section(section: dict[str, Any], measured: str = "") -> str:
    """A section as markdown; ``measured`` (when and how) goes under the title."""
    lines = [f"## {section['title']}", ""]
    if measured:
        lines += [f"Measured {measured}.", ""]
    lines.append("| " + " | ".join(section["header"]) + " |")
    lines.append("|" + " --- |" * len(section["header"]))
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in section["rows"]]
    if section.get("notes"):
        lines += ["", section["notes"]]
    return "\n".join(lines) + "\n"
