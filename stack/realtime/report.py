"""The short human summaries of `produce` and `consume` (on stderr; `--json` prints data)."""

from __future__ import annotations


def consumed_line(summary: dict) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in summary["reasons"].items())
    line = (
        f"consumed {summary['messages']:,} messages in {summary['seconds']:.1f} s "
        f"({summary['messages_per_s']:,}/s): {summary['valid']:,} valid, "
        f"{summary['dead_lettered']:,} dead-lettered{f' ({reasons})' if reasons else ''}; "
        f"transactions_sink holds {_count(summary['sink_rows'])} rows, transactions_dlq "
        f"{_count(summary['dlq_rows'])} (stopped: {summary['stopped_by']})"
    )
    windows = summary.get("windows")
    if windows and "window_updates" in windows:
        line += (
            f"\nwindow totals: {windows['messages']:,} messages, "
            f"{windows['window_updates']:,} row updates, {windows['late_events']} late events"
        )
    return line


def _count(rows: int | None) -> str:
    return "?" if rows is None else f"{rows:,}"


def produced_line(summary: dict) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in summary["malformed_kinds"].items())
    return (
        f"produced {summary['events']:,} events in {summary['seconds']:.1f} s "
        f"({summary['events_per_s']:,}/s) to {summary['topic']} "
        f"({summary['partitions']} partitions): {summary['unique_transactions']:,} new "
        f"transactions, {summary['updates']:,} updates, {summary['malformed']:,} malformed"
        f"{f' ({kinds})' if kinds else ''}; seed {summary['seed']}"
        f"{' (interrupted)' if summary['interrupted'] else ''}"
    )
