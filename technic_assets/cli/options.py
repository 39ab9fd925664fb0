"""The screen options several commands take, defined once: --screen (top, why, backtest, watch) and the
settings of `scan` (a one-off screen), `backtest` (the stored days re-screened) and `watch` (the live
screen the server streams), read the same way everywhere;
ScanSettings checks them wherever they end up (the CLI, or the server's HTTP parser)."""

from __future__ import annotations


def add_screen_option(parser, what: str, unset: str = "\"default\", or the saved screens' first") -> None:
    parser.add_argument("--screen", help=f"{what} (default: {unset})")


def add_screen_settings(parser, purpose: str, unset: str = "") -> None:
    """--top, --style, --sector (repeatable); `purpose` says what they make ("a one-off screen"), `unset`
    what an option not given means (default: the scan's defaults)."""
    parser.add_argument("--top", type=int, help=f"{purpose}: how many picks (default {unset or '25'})")
    parser.add_argument("--style", help=f"{purpose}: swing, medium or position (default {unset or 'medium'})")
    parser.add_argument("--sector", action="append", default=[],
                        help=f"{purpose}: keep only this sector (repeatable): a GICS name, a unique start of one "
                             "(util), a common name (tech, health, financials) or Unknown")
