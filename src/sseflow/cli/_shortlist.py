"""The ranked shortlist table that ``sseflow screen`` and ``sseflow resume`` end with.

One row per candidate in funnel rank (:func:`sseflow.store.rank.rank_records`): P_SI,
SOAP selection, BVSE E_a, MLIP and DFT barriers, and the outcome with the reason the
candidate left (or what it waits for). Laid out to stay readable at 80 columns: formula
and id share one column (two lines), numbers are short, the reason wraps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich import box
from rich.table import Table

from sseflow.store.rank import RankedCandidate

#: The command part of a pending reason (shown once under the table instead).
_RUN_LATER = re.compile(r";\s*run it later with: .*$")
_WAITING = re.compile(r"^waiting for \w+: ")


def short_reason(row: RankedCandidate) -> str:
    """Return the outcome of a candidate in a few words: status, tier and reason."""
    status = row.status or "?"
    if status == "passed":
        return f"passed {row.last_tier}" if row.last_tier else "passed"
    reason = _RUN_LATER.sub("", row.reason or "")
    reason = _WAITING.sub("", reason)
    where = f" at {row.last_tier}" if row.last_tier else ""
    if status == "pending":
        where = f" for {row.last_tier}" if row.last_tier else ""
    return f"{status}{where}: {reason}" if reason else f"{status}{where}"


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _selected(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def shortlist_table(rows: Sequence[RankedCandidate], title: str | None = None) -> Table:
    """Return the shortlist as a rich Table (barriers in eV).

    Examples
    --------
    >>> import io
    >>> from rich.console import Console
    >>> row = RankedCandidate(rank=1, candidate_id="sse-85b893ce5c51", formula="Li2S",
    ...     status="passed", last_tier="neb_mlip", p_si=0.31, soap_selected=True,
    ...     bvse_ea_ev=0.342, neb_mlip_barrier_ev=0.225)
    >>> console = Console(width=80, record=True, file=io.StringIO())
    >>> console.print(shortlist_table([row]))
    >>> text = console.export_text()
    >>> "sse-85b893ce5c51" in text and "0.23" in text
    True
    """
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption="barriers in eV; SOAP: selected by clustering; - not computed",
        caption_justify="left",
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("formula / id", no_wrap=True, max_width=18, overflow="ellipsis")
    table.add_column("P_SI", justify="right", no_wrap=True)
    table.add_column("SOAP", no_wrap=True)
    table.add_column("BVSE", justify="right", no_wrap=True)
    table.add_column("MLIP", justify="right", no_wrap=True)
    table.add_column("DFT", justify="right", no_wrap=True)
    table.add_column("outcome", overflow="fold", ratio=1, min_width=16)
    for row in rows:
        table.add_row(
            "-" if row.rank is None else str(row.rank),
            f"{row.formula or '?'}\n[dim]{row.candidate_id}[/]",
            _number(row.p_si),
            _selected(row.soap_selected),
            _number(row.bvse_ea_ev),
            _number(row.neb_mlip_barrier_ev),
            _number(row.neb_dft_barrier_ev),
            short_reason(row),
        )
    return table


def resume_commands(rows: Sequence[RankedCandidate]) -> list[str]:
    """Return the distinct commands recorded by candidates that wait (pending)."""
    found: list[str] = []
    for row in rows:
        if row.status != "pending" or not row.reason:
            continue
        match = re.search(r"run it later with: (.*)$", row.reason)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found
