"""`synthguard moderation ...`: check a feature library, report coverage, review a text,
and run the refusal/generation evaluation. A Typer sub-app the main CLI mounts."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from synthguard.errors import SynthGuardError
from synthguard.moderation.engine import EngineOptions, ModerationEngine, check_examples
from synthguard.moderation.eval import load_bank, run_eval
from synthguard.moderation.library import Entry, make_release
from synthguard.moderation.library_files import load, starter
from synthguard.moderation.taxonomy import coverage as coverage_of

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Feature library, review engine and refusal evaluation (Art. 10).")
LibraryOption = Annotated[Path | None, typer.Option(
    "--library", "-l", help="Library file (.jsonl or .csv); the starter library if omitted.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _entries(library: Path | None) -> list[Entry]:
    return load(library) if library else starter()


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"synthguard: error: {exc}", err=True)
    return typer.Exit(1)


def _engine(library: Path | None, version: str = "cli") -> ModerationEngine:
    return ModerationEngine(make_release(_entries(library), version), options=EngineOptions())


@app.command()
def check(library: LibraryOption = None, as_json: JsonOption = False) -> None:
    """Validate a library file, build a release of its active entries and run every
    entry's must-match / must-not-match examples. Exit 1 on any problem."""
    try:
        engine = _engine(library)
    except (SynthGuardError, OSError) as exc:
        raise _fail(exc) from None
    problems = check_examples(engine)
    manifest = engine.release.manifest()
    if as_json:
        typer.echo(json.dumps({"release": manifest, "problems": problems,
                               "build_seconds": round(engine.build_seconds, 3)},
                              ensure_ascii=False))
    else:
        typer.echo(f"{manifest['entries']} active entries, sha256 {manifest['sha256']}, "
                   f"built in {engine.build_seconds:.2f} s")
        for p in problems:
            typer.echo(f"  {p}")
        typer.echo("examples: all pass" if not problems else f"{len(problems)} problems")
    if problems:
        raise typer.Exit(1)


@app.command()
def coverage(library: LibraryOption = None, on: Annotated[str | None, typer.Option(
        help="Release date (YYYY-MM-DD); today if omitted.")] = None,
        as_json: JsonOption = False) -> None:
    """Entries per risk against the TC260 keyword minimums."""
    try:
        release = make_release(_entries(library), "cli",
                               on=date.fromisoformat(on) if on else None)
    except (SynthGuardError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    report = coverage_of(release.entries)
    typer.echo(json.dumps(report.as_dict(), ensure_ascii=False) if as_json
               else report.markdown())


@app.command()
def review(text: str, stage: Annotated[str, typer.Option(help="input or output")] = "input",
           library: LibraryOption = None) -> None:
    """Review one text and print the decision and matches as JSON."""
    if stage not in ("input", "output"):
        raise _fail(ValueError("--stage must be input or output"))
    try:
        engine = _engine(library)
    except (SynthGuardError, OSError) as exc:
        raise _fail(exc) from None
    result = engine.review(text, stage="input" if stage == "input" else "output")
    typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))


@app.command("eval")
def evaluate(
        base_url: Annotated[str, typer.Option(
            help="OpenAI-compatible base URL of the service under test (…/v1).")],
        model: Annotated[str, typer.Option(help="Model name to request.")] = "default",
        bank: Annotated[Path | None, typer.Option(
            help="Question bank (.jsonl); the project's small bank if omitted.")] = None,
        library: LibraryOption = None,
        api_key: Annotated[str | None, typer.Option(envvar="SYNTHGUARD_EVAL_API_KEY",
                                                    help="Bearer key.")] = None,
        as_json: JsonOption = False) -> None:
    """Ask the question bank through the service and report refusal and pass rates per
    risk against the TC260 targets. Exit 1 when a target is missed."""
    try:
        engine = _engine(library)
        report = run_eval(base_url, load_bank(bank), engine=engine, model=model,
                          api_key=api_key)
    except (SynthGuardError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    except Exception as exc:  # httpx errors: the service could not be asked
        raise _fail(RuntimeError(f"{base_url}: {exc}")) from None
    typer.echo(json.dumps(report.as_dict(), ensure_ascii=False) if as_json
               else report.markdown())
    if any(report.meets(k) is False for k in ("should_refuse", "should_not_refuse",
                                              "generation")):
        raise typer.Exit(1)
