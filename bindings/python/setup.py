"""Build hook of the llmdb package: puts libllmdb.so into it.

The library comes from $LLMDB_LIBRARY if set, else from <repo>/.build/c-abi/lib/libllmdb.so
if built, else `bash <repo>/scripts/build-lib.sh release` builds it (a few minutes). The
repository is $LLMDB_SOURCE_DIR, or the one this file sits in (bindings/python): pip
builds a local directory in place, so the path resolves to the checkout. A tool that copies
the tree first (an sdist build) is covered by $PWD, where pip was started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def say(message: str) -> None:
    print(f"llmdb setup: {message}", file=sys.stderr, flush=True)


def is_repository(root: Path) -> bool:
    return (root / "scripts" / "build-lib.sh").is_file() and (root / "include" / "llmdb.h").is_file()


def repository() -> Path:
    """$LLMDB_SOURCE_DIR; else the checkout this file is in; else, when a build tool copied
    the package elsewhere, the directory pip was started from ($PWD) or one above it."""
    env = os.environ.get("LLMDB_SOURCE_DIR")
    if env:
        if is_repository(Path(env)):
            return Path(env).resolve()
        raise SystemExit(
            f"llmdb setup: LLMDB_SOURCE_DIR={env} is not the LLMDB repository (no scripts/build-lib.sh "
            "and include/llmdb.h)"
        )
    if is_repository(HERE.parents[1]):
        return HERE.parents[1]
    pwd = os.environ.get("PWD")
    if pwd:
        for root in (Path(pwd), *Path(pwd).parents):
            if is_repository(root) and (root / "bindings" / "python" / "setup.py").is_file():
                return root
    raise SystemExit(
        f"llmdb setup: cannot find the LLMDB repository (setup.py is in {HERE}, a copy): set "
        "LLMDB_SOURCE_DIR to the repository, or LLMDB_LIBRARY to a built libllmdb.so"
    )


def library() -> Path:
    env = os.environ.get("LLMDB_LIBRARY")
    if env:
        path = Path(env)
        if not path.is_file():
            raise SystemExit(f"llmdb setup: LLMDB_LIBRARY={env} is not a file")
        say(f"using the library {path} (LLMDB_LIBRARY)")
        return path
    root = repository()
    built = root / ".build" / "c-abi" / "lib" / "libllmdb.so"
    if built.is_file():
        say(f"using the library {built}")
        return built
    say(f"{built} is missing: building it with scripts/build-lib.sh release (a few minutes)")
    result = subprocess.run(
        ["bash", str(root / "scripts" / "build-lib.sh"), "release"], stdout=subprocess.PIPE, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"llmdb setup: scripts/build-lib.sh release failed ({result.returncode})")
    return Path(result.stdout.strip().splitlines()[-1])


def header(source: Path) -> Optional[Path]:
    """The folder with llmdb.h: the repository's include/, or include/ beside lib/."""
    for folder in (source.resolve().parent.parent / "include", HERE.parents[1] / "include"):
        if (folder / "llmdb.h").is_file():
            return folder
    try:
        return repository() / "include"
    except SystemExit:
        return None


def build_fast(package: Path, source: Path, temp: Path) -> None:
    """Compiles llmdb/_fastc, the cffi extension of the hot calls (see llmdb/_fast.py),
    linked to the package's libllmdb.so. Without cffi or a C compiler the package still
    works, through cffi's ABI mode or ctypes, only slower: say so and go on."""
    try:
        from cffi import FFI
    except ImportError:
        say("cffi is not installed: get and put will go through ctypes (slower)")
        return
    include = header(source)
    if include is None:
        say("llmdb.h not found: get and put will go through cffi's ABI mode (slower)")
        return
    spec = {}
    exec((HERE / "llmdb" / "_fastdef.py").read_text(), spec)
    builder = FFI()
    builder.cdef(spec["CDEF"])
    builder.set_source(
        "llmdb._fastc",
        spec["SOURCE"],
        include_dirs=[str(include)],
        extra_link_args=[str((package / "libllmdb.so").resolve()), "-Wl,-rpath,$ORIGIN"],
    )
    temp.mkdir(parents=True, exist_ok=True)
    try:
        built = Path(builder.compile(tmpdir=str(temp)))
    except Exception as e:  # a missing compiler, headers or the like
        say(f"could not compile llmdb._fastc ({e}): get and put will go through cffi's ABI mode (slower)")
        return
    shutil.copyfile(built, package / built.name)
    say(f"compiled {built.name} (the fast path of get and put)")


class BuildPy(build_py):
    """build_py, then the library copied into the package as llmdb/libllmdb.so, and the
    extension of the hot calls compiled against it."""

    def run(self) -> None:
        super().run()
        source = library()
        # An editable install imports the package from the source tree.
        package = HERE / "llmdb" if getattr(self, "editable_mode", False) else Path(self.build_lib) / "llmdb"
        package.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, package / "libllmdb.so")
        build_fast(package, source, (Path(self.build_lib).parent / "fastc").resolve())


class BinaryDistribution(Distribution):
    """The package holds a shared library: a platform wheel, installed in platlib."""

    def has_ext_modules(self) -> bool:
        return True


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildPy})
