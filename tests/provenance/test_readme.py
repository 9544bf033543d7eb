"""Generated blocks of README.md and docs/*.md (scattermorph.provenance.readme,
`scattermorph readme`): replacement, detection of hand edits and stale
blocks, missing sources, the files synced by default, and the committed
pages' own blocks."""

import importlib
import re
from pathlib import Path

import pytest

from scattermorph.cli import main
from scattermorph.errors import InputFileError
from scattermorph.provenance import readme as R

ROOT = Path(__file__).resolve().parents[2]


def _doc(*blocks):
    return "# Title\n\nSome text.\n\n" + "\ntext between\n\n".join(blocks) + "\nThe end.\n"


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results/a.md").write_text("| x | 1 |\n")
    (tmp_path / "results/b.md").write_text("no final newline")
    return tmp_path


def test_render_then_parse_round_trip():
    text = _doc(R.render_block("results/a.md", "hello\n"), R.render_block("results/b.md", "x"))
    blocks = R.parse_blocks(text)
    assert [b.source for b in blocks] == ["results/a.md", "results/b.md"]
    assert blocks[0].body == "hello\n" and blocks[1].body == "x\n"
    assert all(R.body_hash(b.body) == b.sha256 for b in blocks)


def test_sync_replaces_bodies_and_keeps_the_rest(tree):
    text = _doc(R.render_block("results/a.md", "old\n"), R.render_block("results/b.md", "old\n"),
                R.render_block("results/missing.md", "placeholder\n"))
    new, actions = R.sync(text, tree)
    assert [a for _, a in actions] == ["updated", "updated", "not found"]
    blocks = R.parse_blocks(new)
    assert blocks[0].body == "| x | 1 |\n"
    assert blocks[1].body == "no final newline\n"
    assert blocks[2].body == "placeholder\n"
    # text outside the blocks is untouched
    assert new.startswith("# Title\n\nSome text.\n\n") and new.endswith("\nThe end.\n")
    assert new.count("text between") == 2
    assert [s for _, s, _ in R.check(new, tree)] == [R.OK, R.OK, R.NOT_CHECKED]
    again, actions = R.sync(new, tree)
    assert again == new and [a for _, a in actions] == ["unchanged", "unchanged", "not found"]


def test_check_detects_hand_edit(tree):
    text = _doc(R.render_block("results/a.md", "| x | 1 |\n"))
    edited = text.replace("| x | 1 |", "| x | 2 |")
    (status, reason), = [(s, r) for _, s, r in R.check(edited, tree)]
    assert status == R.HAND_EDITED and "sha256" in reason
    # also without the source file (CI): a hand edit is still caught
    (status, _), = [(s, r) for _, s, r in R.check(edited, tree / "nowhere")]
    assert status == R.HAND_EDITED


def test_check_detects_stale_block(tree):
    text = _doc(R.render_block("results/a.md", "| x | 1 |\n"))
    assert [s for _, s, _ in R.check(text, tree)] == [R.OK]
    (tree / "results/a.md").write_text("| x | 3 |\n")
    (status, reason), = [(s, r) for _, s, r in R.check(text, tree)]
    assert status == R.STALE and "results/a.md" in reason


def test_missing_source_is_not_checked(tree):
    text = _doc(R.render_block("results/none.md", "(run the study)\n"))
    (status, reason), = [(s, r) for _, s, r in R.check(text, tree)]
    assert status == R.NOT_CHECKED and "does not exist" in reason


@pytest.mark.parametrize("bad, match", [
    ("<!-- BEGIN GENERATED from x.md sha256=abc -->\nbody\n<!-- END GENERATED -->\n", "malformed"),
    (R.render_block("x.md", "b\n").replace("<!-- END GENERATED -->\n", ""), "no '<!-- END GENERATED -->'"),
    ("text\n<!-- END GENERATED -->\n", "without a BEGIN"),
    (R.render_block("x.md", R.render_block("y.md", "b\n")), "inside the block"),
])
def test_malformed_markers_are_refused_with_the_line(bad, match):
    with pytest.raises(InputFileError, match=match):
        R.parse_blocks("intro\n" + bad, name="README.md")


def test_cli_sync_and_check(tree, capsys):
    readme = tree / "README.md"
    readme.write_text(_doc(R.render_block("results/a.md", "old\n"), R.render_block("results/gone.md", "p\n")))
    args = ["--readme", str(readme), "--root", str(tree)]
    assert main(["readme", "--check", *args]) == 1
    assert "results/a.md: STALE" in capsys.readouterr().out
    assert main(["readme", *args]) == 0
    assert "results/a.md: updated" in capsys.readouterr().out
    assert main(["readme", "--check", *args]) == 0
    out = capsys.readouterr().out
    assert "results/a.md: OK" in out and "results/gone.md: NOT CHECKED" in out
    readme.write_text(readme.read_text().replace("| x | 1 |", "| x | 9 |"))
    assert main(["readme", "--check", *args]) == 1
    assert "HAND-EDITED" in capsys.readouterr().out
    assert main(["readme", "--readme", str(tree / "nope.md")]) == 2


@pytest.fixture
def repo(tree, monkeypatch):
    """A checkout-like tree: README.md without blocks, docs/results.md with a
    current and a stale block, docs/other.md with a stale one, docs/notes.txt
    (not Markdown) with a stale one; the current directory is its root."""
    (tree / "README.md").write_text("# Front door\n\nSee [results](docs/results.md).\n")
    docs = tree / "docs"
    docs.mkdir()
    (docs / "results.md").write_text(_doc(R.render_block("results/b.md", "no final newline"),
                                          R.render_block("results/a.md", "| x | 0 |\n")))
    (docs / "other.md").write_text(_doc(R.render_block("results/a.md", "old\n")))
    (docs / "notes.txt").write_text(_doc(R.render_block("results/a.md", "old\n")))
    monkeypatch.chdir(tree)
    return tree


def test_documents_are_the_readme_then_the_docs_pages(repo):
    assert R.documents() == [Path("README.md"), Path("docs/other.md"), Path("docs/results.md")]
    assert R.documents(repo) == [repo / "README.md", repo / "docs/other.md", repo / "docs/results.md"]
    with pytest.raises(InputFileError, match="README.md: no such file"):
        R.documents(repo / "docs")


def test_cli_checks_and_syncs_the_docs_pages_by_default(repo, capsys):
    """Without --readme, a stale block of docs/results.md (and of any other
    docs page) fails the check, naming the file and line; the sync rewrites
    it from its source, leaves the rest of the page as it was, and then the
    check passes; a hand edit in docs/results.md is caught."""
    before = (repo / "docs/results.md").read_text()
    assert main(["readme", "--check"]) == 1
    captured = capsys.readouterr()
    line = before.splitlines().index(next(x for x in before.splitlines() if "from results/a.md" in x)) + 1
    assert f"docs/results.md:{line}: results/a.md: STALE" in captured.out
    assert "docs/results.md" in captured.out and "results/b.md: OK" in captured.out
    assert "docs/other.md:5: results/a.md: STALE" in captured.out
    assert "notes.txt" not in captured.out  # only Markdown pages
    assert "2 block(s) hand-edited or stale" in captured.err
    assert (repo / "docs/results.md").read_text() == before  # --check writes nothing

    assert main(["readme"]) == 0
    out = capsys.readouterr().out
    assert f"docs/results.md:{line}: results/a.md: updated" in out and "docs/other.md:5: results/a.md: updated" in out
    after = (repo / "docs/results.md").read_text()
    blocks = R.parse_blocks(after)
    assert [b.body for b in blocks] == ["no final newline\n", "| x | 1 |\n"]
    assert after.startswith("# Title\n\nSome text.\n\n") and after.endswith("\nThe end.\n")
    assert R.parse_blocks((repo / "docs/notes.txt").read_text())[0].body == "old\n"  # not touched
    assert (repo / "README.md").read_text() == "# Front door\n\nSee [results](docs/results.md).\n"
    assert main(["readme", "--check"]) == 0
    assert "0 block(s) hand-edited or stale" in capsys.readouterr().err

    (repo / "docs/results.md").write_text(after.replace("| x | 1 |", "| x | 5 |"))
    assert main(["readme", "--check"]) == 1
    assert f"docs/results.md:{line}: results/a.md: HAND-EDITED" in capsys.readouterr().out


def test_cli_readme_option_picks_the_files(repo, capsys):
    """--readme (repeatable) replaces the default list: only the named files
    are checked and synced."""
    assert main(["readme", "--check", "--readme", "README.md"]) == 0
    assert main(["readme", "--readme", "docs/other.md"]) == 0
    assert "docs/other.md:5: results/a.md: updated" in capsys.readouterr().out
    assert R.check((repo / "docs/results.md").read_text(), repo)[1][1] == R.STALE  # not named: left stale
    assert main(["readme", "--check", "--readme", "README.md", "--readme", "docs/other.md"]) == 0


def test_cli_malformed_block_in_a_docs_page_writes_nothing(repo, capsys):
    """A malformed block in one page stops the sync before any file is
    written (exit 2, the message names the page and line)."""
    (repo / "docs/zz.md").write_text("intro\n<!-- BEGIN GENERATED from x.md sha256=abc -->\nbody\n")
    pages = {p: p.read_text() for p in (repo / "docs").iterdir()}
    assert main(["readme"]) == 2
    err = capsys.readouterr().err
    assert "docs/zz.md, line 2: malformed" in err
    assert {p: p.read_text() for p in (repo / "docs").iterdir()} == pages
    assert main(["readme", "--check"]) == 2


def test_cli_without_a_readme_in_the_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["readme", "--check"]) == 2
    assert "README.md: no such file" in capsys.readouterr().err


def test_committed_blocks_are_hash_consistent_and_in_docs_results():
    """Every generated block of README.md and docs/*.md is as `scattermorph
    readme` wrote it (no hand edits); docs/results.md holds one block per
    stage summary and the cluster-cost estimate; the README holds none (its
    numbers are copied from them, see test_readme_numbers_are_copied_from_the_blocks)."""
    pages = R.documents(ROOT)
    assert ROOT / "docs/results.md" in pages
    blocks = {page: R.parse_blocks(page.read_text(), name=str(page)) for page in pages}
    hand = [(page.name, b.source) for page, bs in blocks.items() for b in bs if R.body_hash(b.body) != b.sha256]
    assert not hand, f"hand-edited generated blocks: {hand} (run `scattermorph readme`)"
    assert not blocks[ROOT / "README.md"]
    sources = [b.source for b in blocks[ROOT / "docs/results.md"]]
    assert sources == [f"results/default/{stage}/summary.md" for stage in
                       ("dataset", "learning", "classification", "foundations", "emulator", "inference",
                        "dynamics", "transfer")] + [
        "benchmarks/results/job_cost.md"]
    assert sum(len(bs) for bs in blocks.values()) == len(sources)  # no block elsewhere


def test_readme_is_a_front_door():
    """README.md stays short and reaches the user's own data early."""
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    assert lines.index("## Use it on your own data") < 60
    for command in ("bin/study --cores 2", "bin/test", ".venv/bin/scattermorph characterise",
                    ".venv/bin/scattermorph predict", ".venv/bin/scattermorph infer", ".venv/bin/scattermorph train"):
        assert command in "\n".join(lines), command


def test_readme_numbers_are_copied_from_the_blocks():
    """Every number of the README's answer paragraph appears in the generated
    blocks of docs/results.md (none is typed by hand)."""
    import re

    text = (ROOT / "README.md").read_text()
    answer = text[text.index("The answer on the default study"):text.index("## Install and run")]
    numbers = set(re.findall(r"-?\d+\.\d+(?:-\d+\.\d+)?", answer))
    assert len(numbers) >= 10
    generated = "".join(b.body for b in R.parse_blocks((ROOT / "docs/results.md").read_text()))
    missing = [n for n in numbers if not re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", generated)]
    assert not missing, f"README numbers not in docs/results.md's generated blocks: {missing}"


def _commands(text):
    """The `scattermorph` command lines of the ```bash blocks of a page, with
    continuation lines joined and comments dropped."""
    import re
    import shlex

    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith(".venv/bin/scattermorph "):
                out.append(shlex.split(line, comments=True)[1:])
    return out


def test_documented_commands_parse_with_their_options():
    """Every `.venv/bin/scattermorph ...` command shown in README.md and
    docs/*.md is accepted by the command's own parser (no renamed or
    invented option), and the example files it names exist."""
    from scattermorph.cli import build_parser

    parser = build_parser()
    seen = set()
    for page in R.documents(ROOT):
        for argv in _commands(page.read_text()):
            args = parser.parse_args(argv)  # SystemExit on an unknown option or value
            seen.add(args.command)
            for arg in argv:
                if arg.startswith("examples/"):
                    assert (ROOT / arg).is_file(), f"{page.name}: {arg} does not exist"
    assert {"characterise", "predict", "infer", "train", "readme", "audit"} <= seen


def _slug(heading):
    """GitHub's anchor of a Markdown heading."""
    import re

    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_of_the_readme_and_docs_resolve():
    """Every relative link of README.md and docs/*.md points at a file that
    exists, and an #anchor into a Markdown page at one of its headings."""
    import re

    pages = R.documents(ROOT)
    assert len(pages) >= 10
    checked = 0
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.exists(), f"{page.relative_to(ROOT)}: link {target} points nowhere"
            if anchor:
                headings = re.findall(r"^#{1,6} (.+)$", dest.read_text(), re.M)
                assert anchor in {_slug(h) for h in headings}, f"{page.relative_to(ROOT)}: no heading #{anchor}"
            checked += 1
    assert checked >= 30


def _resolves(dotted):
    """Whether ``scattermorph.a.b.attr`` names a module and attributes that exist."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_library_names_in_the_readme_and_docs_exist():
    """A module or function the documentation names by its dotted path exists
    (modules move between subpackages: the docs must follow)."""
    names = {m.group(1) for f in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
             for m in re.finditer(r"(scattermorph(?:\.[A-Za-z_]\w*)+)", f.read_text())}
    assert len(names) > 10  # the docs do name the library's modules
    assert sorted(n for n in names if not _resolves(n)) == []
    assert not _resolves("scattermorph.modelio.fit_models")  # a name that moved


def test_headings_of_a_copied_page_nest_under_the_readme_section():
    page = "# Title\n\n## Part\n\ntext #not a heading\n```\n# code comment\n```\n###### deep\n"
    assert R.demote_headings(page) == (
        "### Title\n\n#### Part\n\ntext #not a heading\n```\n# code comment\n```\n###### deep\n")
    assert R.as_body("# T\nx") == "### T\nx\n"


def test_docs_nxcansas_round_trip_runs(tmp_path, monkeypatch, capsys):
    """The NXcanSAS round trip of docs/predict.md, run as written: the file it
    writes reads back as the curve it was given (q, I, dI, dQ and their
    units), and predict reads it without --model or --q-unit; the text file
    it writes beside it carries the same curve with its dQ column; the README
    points at both."""
    import json
    import re
    import shutil

    import numpy as np

    from scattermorph.sas.curves import read_curve
    from scattermorph.sas.resolution import smear_pinhole

    text = (ROOT / "docs/predict.md").read_text()
    section = text[text.index("**An NXcanSAS round trip.**"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    calls = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    assert ".venv/bin/scattermorph predict measured_curve.h5\n" in calls
    assert ".venv/bin/scattermorph predict measured_curve_dq.dat --q-unit 1/A " in calls
    readme = (ROOT / "README.md").read_text()
    for page in (text, readme):
        assert ".venv/bin/scattermorph predict examples/measured_curve.dat --q-unit 1/A\n" in page  # no --model
    assert ".venv/bin/scattermorph predict measured_curve.h5 " in readme and "docs/predict.md" in readme
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/predict.md", "exec"), {})
    q, i, di = np.loadtxt("examples/measured_curve.dat", skiprows=3, unpack=True)
    c = read_curve("measured_curve.h5")
    assert c.format == "nxcansas" and c.q_unit == "1/A" and c.intensity_unit == "1/cm"
    np.testing.assert_array_equal(c.q, q)
    np.testing.assert_array_equal(c.intensity, smear_pinhole(q, i, 0.1 * q))
    np.testing.assert_array_equal(c.error, di)
    np.testing.assert_array_equal(c.dq, 0.1 * q)
    t = read_curve("measured_curve_dq.dat", q_unit="1/A")
    assert t.format == "text"
    for name in ("q", "intensity", "error", "dq"):
        np.testing.assert_allclose(getattr(t, name), getattr(c, name), rtol=1e-15)
    assert main(["predict", "measured_curve.h5", "--resolution", "0", "--json", "-"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["format"] == "nxcansas" and "(shipped)" in res["model"]
    assert res["resolution"]["dq_over_q_median"] == pytest.approx(0.1, rel=1e-12)
