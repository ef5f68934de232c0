"""The numbers the README and docs/results.md report are what the run files committed in docs/results/ give:
a run's rows synced without its report, or a table cell written by hand and wrong, fails here."""

import json
import re
import shlex
from pathlib import Path

import slac
from slac.cli import build_parser
from slac.run.logging import read_csv
from slac.tools.compare import compare, report, summary_table

ROOT = Path(slac.__file__).parent.parent
RESULTS = ROOT / "docs" / "results"


def compare_command(page: Path) -> tuple[list[str], str, str]:
    """The run directories and the --out and --plot files of the `slac compare` command a page quotes,
    read by the command line's own parser."""
    text = page.read_text().replace("\\\n", " ")
    command = re.search(r"cd docs/results && slac (compare [^`\n]+)", text).group(1)
    args = build_parser().parse_args(shlex.split(command))
    return args.run_dirs, args.out, args.plot


def test_the_committed_comparison_and_the_readme_table_are_what_slac_compare_makes(monkeypatch):
    run_dirs, out, plot = compare_command(ROOT / "README.md")
    assert compare_command(ROOT / "docs" / "results.md") == (run_dirs, out, plot)
    monkeypatch.chdir(RESULTS)
    comparisons = compare(run_dirs)
    assert Path(out).read_text() == report(comparisons, plot=plot), f"{out} is not what the runs' files give"
    assert summary_table(comparisons, 100_000) in (ROOT / "README.md").read_text(), \
        "the README's results table differs from slac compare's summary table"


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Each table of a markdown page as rows of stripped cells, its header first, the rule row dropped."""
    tables, rows = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", " "} for c in cells):
                rows.append(cells)
        elif rows:
            tables.append(rows)
            rows = []
    return tables


def run_files(folder: Path) -> list[Path]:
    """A results folder's runs: the folder itself, or its seeds' subfolders (s0, s1, ...)."""
    if (folder / "eval.csv").exists():
        return [folder]
    return sorted(p.parent for p in folder.glob("s*/eval.csv") if re.fullmatch(r"s\d+", p.parent.name))


def number(text: str) -> int:
    """12,345 -> 12345."""
    return int(text.replace(",", ""))


def check_status(status: str, run: Path) -> None:
    """A status cell against the run's files. Rows are logged every `log_interval` updates and a run
    stops at the step after the signal, so "stopped at X" lies within one log interval of the last row."""
    if status.startswith("in progress"):
        return
    evaluations = {int(r["env_step"]) for r in read_csv(run / "eval.csv")}
    last = read_csv(run / "metrics.csv")[-1]
    config = json.loads((run / "config.json").read_text())
    if match := re.fullmatch(r"reached (100K|[\d,]+ env steps)", status):
        step = 100_000 if match.group(1) == "100K" else number(match.group(1).split()[0])
        assert step in evaluations and int(last["env_step"]) <= step, (run.name, status)
    elif match := re.fullmatch(r"stopped at ([\d,]+)(?: env steps)?", status):
        ahead = number(match.group(1)) - int(last["env_step"])
        assert 0 <= ahead < config["log_interval"] * config["action_repeat"], (run.name, status, last["env_step"])
    elif match := re.fullmatch(r"stopped after ([\d,]+)(?: of [\d,]+)? pretraining updates", status):
        ahead = number(match.group(1)) - int(last["update"])
        assert last["phase"] == "pretrain" and 0 <= ahead < config["log_interval"], (run.name, status, last["update"])
    else:
        raise AssertionError(f"{run.name}: a status this test cannot read: {status!r}")


def test_the_results_page_tables_are_the_runs_files():
    """Every row of docs/results.md that links a run's folder: each evaluation cell (a column headed
    10K, 30K, ...) is the run's stochastic return there to one decimal, blank where it has none; its
    status (reached 100K, stopped at an env step, stopped after N pretraining updates) is its files'."""
    checked = 0
    for table in markdown_tables((ROOT / "docs" / "results.md").read_text()):
        header = table[0]
        steps = {i: int(m.group(1)) * 1000 for i, h in enumerate(header) if (m := re.fullmatch(r"(\d+)K", h))}
        status = next((i for i, h in enumerate(header) if h == "status"), None)
        for row in table[1:]:
            link = re.match(r"\[[^]]+\]\(results/([^)]+)/README\.md\)", row[0])
            if not link or not (runs := run_files(RESULTS / link.group(1))):
                continue
            if status is not None:
                for run in runs:
                    check_status(row[status], run)
            if steps and len(runs) == 1:
                returns = {int(r["env_step"]): float(r["return_stochastic"]) for r in read_csv(runs[0] / "eval.csv")}
                for i, step in steps.items():
                    cell = row[i].strip("*")
                    assert cell == (f"{returns[step]:.1f}" if step in returns else ""), (link.group(1), header[i], cell)
            checked += 1
    assert checked >= 20, checked
