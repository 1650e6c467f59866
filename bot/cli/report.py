"""`mitreden report --year 2026 [--format md|html|pdf|csv|xlsx] [--output PATH] [--language LANG]`.

Writes the year report (the appendix to the integration report for the city council) to a
file, by default `mitreden-report-YEAR.FORMAT` in the current directory; `--output -` writes
it to standard output. Markdown brings its charts as PNG files beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.app import App
from bot.cli.groups import WithApp
from bot.cli.helptext import examples
from bot.report import FORMATS, PdfUnavailable, build_report


def add_parsers(commands: argparse._SubParsersAction, with_app: WithApp) -> None:
    parser = commands.add_parser(
        "report",
        help="the year report for the city council",
        description="Write the year report (the appendix to the integration report for the "
        "city council) from the database. Markdown brings its charts as PNG files beside it.",
        epilog=examples(
            "mitreden report --year 2026",
            "mitreden report --year 2026 --format pdf --language en --output report-en.pdf",
            "mitreden report --year 2026 --format csv --output - > items-2026.csv",
            "mitreden report --year 2026 --format xlsx",
        ),
    )
    parser.add_argument("--year", type=int, required=True, help="the calendar year, e.g. 2026")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="md",
        help="md (Markdown), html, pdf (accessible, PDF/UA-1), csv (one row per item) or "
        "xlsx (a spreadsheet: one sheet per section, typed columns); default: md",
    )
    parser.add_argument(
        "--output",
        help="file to write, or - for standard output (default: mitreden-report-YEAR.FORMAT)",
    )
    parser.add_argument("--language", help="the report's language (default: bot.language)")
    marking = parser.add_mutually_exclusive_group()
    marking.add_argument(
        "--draft",
        action="store_true",
        default=None,
        help="mark it a draft (default: while the year is not over)",
    )
    marking.add_argument(
        "--final", dest="draft", action="store_false", help="do not mark it a draft"
    )
    parser.set_defaults(action=with_app(run_report))


async def run_report(app: App, args: argparse.Namespace) -> int:
    deps = app.deps
    assert deps is not None
    language = args.language
    if language is not None and language not in deps.catalogues.languages:
        known = ", ".join(deps.catalogues.languages)
        print(f"mitreden: unknown language {language!r} (known: {known})", file=sys.stderr)
        return 2
    to_stdout = args.output == "-"
    output = None if to_stdout or args.output is None else Path(args.output)
    stem = output.stem if output is not None else None
    try:
        report = await build_report(
            deps, args.year, args.format, language=language, draft=args.draft, stem=stem
        )
    except PdfUnavailable as error:
        print(
            f"mitreden: PDF needs WeasyPrint and Pango ({error}); see README, 'Year report'",
            file=sys.stderr,
        )
        return 1
    if to_stdout:
        sys.stdout.buffer.write(report.data)
        sys.stdout.flush()
        return 0
    target = output or Path(report.file_name)
    target.write_bytes(report.data)
    for name, data in {**report.images, **report.appendix}.items():
        (target.parent / name).write_bytes(data)
    extra = f" and {len(report.images)} chart(s)" if report.images else ""
    if report.appendix:
        extra += f", appendix {' and '.join(report.appendix)}"
    print(f"wrote {target}{extra}")
    return 0
