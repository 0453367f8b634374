"""fsspec's own conformance suite (``fsspec.tests.abstract``: copy, get, put, open, pipe), the one
s3fs, gcsfs and adlfs run against themselves, run against ``igfs://`` on the session's node.

Each test class gets a file system of its own (its own pair of caches), so a failure in one
leaves nothing behind for the next.
"""

from __future__ import annotations

import uuid

import pytest
from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

from ignite_fast.igfs_fsspec import IgfsFileSystem


class IgfsFixtures(AbstractFixtures):
    @pytest.fixture(scope="class")
    @classmethod
    def fs(cls, cluster):
        host, port = cluster.addresses[0].rsplit(":", 1)
        fs = IgfsFileSystem(host, int(port), name=f"fsspec{uuid.uuid4().hex[:10]}", skip_instance_cache=True)
        yield fs
        fs.igfs.rm("/", recursive=True)

    @pytest.fixture
    def fs_join(self):
        return lambda *parts: "/".join(parts)

    @pytest.fixture
    def fs_path(self):
        return ""  # the suite's trees start at the root of the class's own file system


class TestIgfsCopy(AbstractCopyTests, IgfsFixtures):
    pass


class TestIgfsGet(AbstractGetTests, IgfsFixtures):
    pass


class TestIgfsPut(AbstractPutTests, IgfsFixtures):
    pass


class TestIgfsOpen(AbstractOpenTests, IgfsFixtures):
    pass


class TestIgfsPipe(AbstractPipeTests, IgfsFixtures):
    pass
