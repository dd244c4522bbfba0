"""Where post files come from: folders and files on disk, or every version in a git repository's history.

Both yield ``PostVersion`` items, one post file's bytes each, streamed (nothing is read ahead). The git
history is read with the ``git`` program itself: one ``git log`` over all branches, oldest commit first,
listing the post files each commit added or changed, and one ``git cat-file --batch`` process that hands
over their contents as they are needed (docs/import.md says why not a library). See docs/import.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

#: The folders of the site's source that hold posts: ``_posts/`` (published) and ``old_post/`` (rotated
#: out). Read old first, so that a post in both is left as ``_posts/`` has it.
POST_FOLDERS = ("old_post", "_posts")
_READ_SIZE = 1 << 16
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# Blob ids asked of git cat-file at once: 41 bytes each, well within a pipe's buffer, so that writing the
# questions never waits for answers nobody reads yet.
BLOB_BATCH = 256


class SourceRefused(Exception):
    """The input cannot be imported at all (no such path, not a git repository, a shallow clone)."""


@dataclass(frozen=True)
class PostVersion:
    """One post file's content: ``path`` as shown to the user, ``file_name`` and ``folder`` as Jekyll sees
    them, the git ``commit`` and ``blob`` it comes from (None for a file on disk)."""

    path: str
    file_name: str
    folder: str | None
    data: bytes
    commit: str | None = None
    blob: str | None = None


def post_files(paths: Iterable[Path]) -> list[tuple[Path, str | None]]:
    """The post files named by ``paths`` (folders and files), with their folder, in import order.

    A folder is the site's source (its ``old_post/`` then ``_posts/``) or a folder of ``*.md`` files.
    """
    found: list[tuple[Path, str | None]] = []
    for path in paths:
        if path.is_file():
            found.append((path, path.parent.name if path.parent.name in POST_FOLDERS else None))
        elif path.is_dir():
            folders = [path / name for name in POST_FOLDERS if (path / name).is_dir()]
            if folders:
                found.extend((file, folder.name) for folder in folders for file in _files(folder))
            else:
                files = [file for file in _files(path) if file.suffix.lower() in (".md", ".markdown")]
                if not files:
                    raise SourceRefused(f"{path}: no _posts/, old_post/ or *.md files in this folder")
                found.extend((file, path.name if path.name in POST_FOLDERS else None) for file in files)
        else:
            raise SourceRefused(f"{path}: no such file or folder")
    return found


def _files(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if entry.is_file() and not entry.name.startswith("."))


def read_files(files: Iterable[tuple[Path, str | None]]) -> Iterator[PostVersion]:
    for path, folder in files:
        yield PostVersion(str(path), path.name, folder, path.read_bytes())


@dataclass
class Commit:
    """A commit of the history, and the post files it added or changed: (path, blob id) in import order."""

    commit: str
    changes: list[tuple[str, str]]


class GitHistory:
    """Every version of every post file in a git repository's history (all branches), oldest first."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        git = shutil.which("git")
        if git is None:
            raise SourceRefused("git is not installed: --git needs the git program")
        self.git = git
        inside = self._ask("rev-parse", "--is-inside-work-tree", "--is-bare-repository")
        if inside is None:
            raise SourceRefused(f"{repo}: not a git repository")
        if self._ask("rev-parse", "--is-shallow-repository") == "true":
            raise SourceRefused(f"{repo}: a shallow clone holds only part of the history; "
                                "run `git fetch --unshallow` there first")

    def _ask(self, *args: str) -> str | None:
        if not self.repo.is_dir():
            return None
        done = subprocess.run([self.git, "-C", str(self.repo), *args], capture_output=True, text=True,
                              check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    def commits(self, known: Iterable[str] = ()) -> Iterator[Commit]:
        """The commits that touch post files, oldest first, each with its added or changed post files;
        none of ``known`` nor their ancestors (git leaves them out without reading them)."""
        command = [self.git, "-C", str(self.repo), "-c", "core.quotePath=false", "log", "--branches", "--remotes",
                   "--tags", "--stdin", "--reverse", "--date-order", "--no-renames", "--raw", "--no-abbrev", "-z",
                   "--format=%x01%H", "--", *POST_FOLDERS]
        with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL) as log:
            assert log.stdin is not None and log.stdout is not None
            # git reads all of its standard input before it writes anything: no deadlock.
            log.stdin.write(b"".join(b"^" + commit.encode("ascii") + b"\n" for commit in self._present(known)))
            log.stdin.close()
            current: Commit | None = None
            tokens = _nul_separated(log.stdout)
            for token in tokens:
                if token.startswith(b"\x01"):
                    if current is not None:
                        yield _ordered(current)
                    current = Commit(token[1:].decode("ascii"), [])
                    continue
                meta = token.lstrip(b"\n")
                if not meta.startswith(b":") or current is None:
                    continue
                path = next(tokens, b"").decode("utf-8", "surrogateescape")
                # ":<old mode> <new mode> <old blob> <new blob> <status>"
                fields = meta[1:].split(b" ")
                if len(fields) == 5 and fields[4][:1] in (b"A", b"M", b"T") and _is_post_path(path):
                    current.changes.append((path, fields[3].decode("ascii")))
            if current is not None:
                yield _ordered(current)
        if log.returncode not in (0, None):
            raise SourceRefused(f"{self.repo}: git log failed (exit {log.returncode})")

    def _present(self, commits: Iterable[str]) -> list[str]:
        """The ``commits`` this repository holds (the archive may know commits of another history)."""
        asked = b"".join(commit.encode("ascii") + b"\n" for commit in commits if _COMMIT_ID.fullmatch(commit))
        if not asked:
            return []
        done = subprocess.run([self.git, "-C", str(self.repo), "cat-file", "--batch-check"], input=asked,
                              capture_output=True, check=False)
        return [line.split()[0].decode("ascii") for line in done.stdout.splitlines()
                if line.split()[1:2] == [b"commit"]]

    def blobs(self) -> BlobReader:
        return BlobReader(self.git, self.repo)


def _ordered(commit: Commit) -> Commit:
    # old_post/ before _posts/ (as for a folder): a post in both ends as _posts/ has it.
    commit.changes.sort(key=lambda change: (not change[0].startswith("old_post/"), change[0]))
    return commit


def _is_post_path(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return len(parts) == 2 and parts[0] in POST_FOLDERS


def _nul_separated(stream: IO[bytes]) -> Iterator[bytes]:
    rest = b""
    while chunk := stream.read(_READ_SIZE):
        pieces = (rest + chunk).split(b"\0")
        rest = pieces.pop()
        yield from pieces
    if rest:
        yield rest


class BlobReader:
    """Blob contents by id, from one ``git cat-file --batch`` process."""

    def __init__(self, git: str, repo: Path) -> None:
        self.process = subprocess.Popen([git, "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def read_many(self, blobs: list[str]) -> Iterator[bytes]:
        """The contents of ``blobs``, in order: asked for in batches, so that git works while this reads."""
        for start in range(0, len(blobs), BLOB_BATCH):
            batch = blobs[start:start + BLOB_BATCH]
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(b"".join(blob.encode("ascii") + b"\n" for blob in batch))
            self.process.stdin.flush()
            for blob in batch:
                yield self._answer(blob)

    def _answer(self, blob: str) -> bytes:
        assert self.process.stdout is not None
        header = self.process.stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            raise SourceRefused(f"git cat-file could not read blob {blob}")
        data = self.process.stdout.read(int(header[2]))
        self.process.stdout.read(1)  # the line feed after each object
        return data

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process.wait()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
