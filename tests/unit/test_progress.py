"""Progress bars without a node: when they show (a terminal by default, never with False, always with
True), what they count, and `server install` following Maven's downloads (a stand-in `mvn` script on
PATH prints Maven's lines; Ignite itself is not involved)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import textwrap
from collections.abc import Iterator

import pytest

from ignite_fast import server
from ignite_fast._progress import bytes_bar, rows_bar
from ignite_fast.errors import InvalidArgumentError


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal, as a console's stderr does."""

    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def stderr(terminal: bool) -> Iterator[io.StringIO]:
    """sys.stderr as a terminal or as a log file (CI), for the body of a test. (A fixture cannot
    do it: pytest puts its own capturing stream back between a fixture's set-up and the test.)"""
    stream = FakeTerminal() if terminal else io.StringIO()
    saved, sys.stderr = sys.stderr, stream
    try:
        yield stream
    finally:
        sys.stderr = saved


def count_to_ten(progress: bool | None) -> None:
    with rows_bar(progress, "writing digits", total=10) as bar:
        for _ in range(5):
            bar.update(2)


def test_a_bar_shows_on_a_terminal_by_default():
    with stderr(terminal=True) as shown:
        count_to_ten(None)
    assert "writing digits" in shown.getvalue()
    assert "10/10" in shown.getvalue()
    assert "rows" in shown.getvalue()


def test_no_bar_by_default_when_stderr_is_not_a_terminal():
    with stderr(terminal=False) as shown:
        count_to_ten(None)
    assert shown.getvalue() == ""


def test_false_hides_the_bar_even_on_a_terminal():
    with stderr(terminal=True) as shown:
        count_to_ten(False)
    assert shown.getvalue() == ""


def test_true_shows_the_bar_in_a_log_too():
    with stderr(terminal=False) as shown:
        count_to_ten(True)
    assert "writing digits" in shown.getvalue()
    assert "10/10" in shown.getvalue()


def test_a_bytes_bar_counts_in_binary_units():
    with stderr(terminal=True) as shown, bytes_bar(None, "put", total=3 << 20) as bar:
        bar.update(3 << 20)
    assert "put" in shown.getvalue()
    assert "3.00M/3.00M" in shown.getvalue()


@pytest.mark.parametrize("progress", ["yes", 1, 0.5])
def test_progress_is_none_true_or_false(progress):
    with pytest.raises(InvalidArgumentError, match="progress"):
        rows_bar(progress, "x")


@pytest.mark.parametrize(
    ("line", "fetched"),
    [
        (
            "Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/ignite/ignite-core/2.17.0/"
            "ignite-core-2.17.0.jar (9.3 MB at 12 MB/s)",
            ("ignite-core-2.17.0.jar", 9_300_000),
        ),
        (
            "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/javax/cache/cache-api/1.0.0/"
            "cache-api-1.0.0.pom (812 B at 4.1 kB/s)",
            ("cache-api-1.0.0.pom", 812),
        ),
        ("Downloaded from central: https://x/y/h2-1.4.197.jar (2.0 kB at 1 MB/s)", ("h2-1.4.197.jar", 2000)),
        ("Downloading from central: https://x/y/ignite-core-2.17.0.jar", None),
        ("[INFO] BUILD SUCCESS", None),
    ],
)
def test_maven_download_lines_are_read(line, fetched):
    assert server.maven_download(line) == fetched


FAKE_MAVEN = """\
    #!{python}
    # Stands in for Maven: reports two downloads as Maven 3 does, then copies "jars".
    import pathlib, sys
    out = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-DoutputDirectory="))
    print("[INFO] Downloading from central: https://repo/x/ignite-core-2.99.0.pom", flush=True)
    print("[INFO] Downloaded from central: https://repo/x/ignite-core-2.99.0.pom (6.0 kB at 30 kB/s)", flush=True)
    print("[INFO] Downloaded from central: https://repo/x/ignite-core-2.99.0.jar (14 MB at 20 MB/s)", flush=True)
    pathlib.Path(out).mkdir(parents=True)
    (pathlib.Path(out) / "ignite-core-2.99.0.jar").write_bytes(b"jar")
    print("[INFO] BUILD SUCCESS")
"""


@pytest.fixture
def fake_maven(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text(textwrap.dedent(FAKE_MAVEN).format(python=sys.executable))
    mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("IGNITE_FAST_HOME", str(tmp_path / "home"))


def test_install_shows_the_bytes_maven_fetches_on_a_terminal(fake_maven):
    with stderr(terminal=True) as stream:
        libs = server.install("2.99.0", quiet=True)
    assert (libs / "ignite-core-2.99.0.jar").read_bytes() == b"jar"
    shown = stream.getvalue()
    assert "Maven" in shown
    assert "ignite-core-2.99.0.jar" in shown
    assert "13.4MB" in shown  # 6.0 kB + 14 MB as Maven counts them (powers of ten), shown in MiB


def test_install_is_silent_when_told_so(fake_maven):
    with stderr(terminal=True) as shown:
        server.install("2.99.0", quiet=True, progress=False)
    assert shown.getvalue() == ""
