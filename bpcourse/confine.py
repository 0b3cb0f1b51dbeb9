"""Confine a grading kernel's view of the disk with Landlock (Linux 5.13 and later).

``bpcourse grade`` starts each kernel through a launcher that calls :func:`apply` just before it
execs the kernel. From then on the kernel (and anything it starts) can read only what running Python
needs — the Python installation, system libraries, the course packages, the kernel's own connection
file, MNIST, a few harmless devices — and write only in its submission's folder, a private temporary
folder and ``/dev/null``. The course root (``solutions/``, ``source/``, the gradebook), other students'
submissions, the instructor's home, ``/tmp`` and ``/dev/shm`` are neither readable nor writable, whatever
path or symlink the code uses: Landlock checks the real file. Unprivileged, and undone only by the process
ending.
"""

from __future__ import annotations

import ctypes
import os
import sys

# Syscall numbers: the same on x86_64 and aarch64 (added to the common table in 5.13).
_CREATE, _ADD_RULE, _RESTRICT = 444, 445, 446
_PR_SET_NO_NEW_PRIVS = 38
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | (1 << 14)  # the rights a rule on a single file may carry
READ = EXECUTE | READ_FILE | READ_DIR


def _handled(abi: int) -> int:
    rights = (1 << 13) - 1        # ABI 1: execute, write, read, read dir, remove, make (bits 0-12)
    if abi >= 2:
        rights |= 1 << 13         # refer: rename or link into another folder
    if abi >= 3:
        rights |= 1 << 14         # truncate
    return rights


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi() -> int:
    """The Landlock ABI version this system offers, 0 if none (not Linux, too old, or disabled)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def apply(read: list[str], write: list[str]) -> None:
    """Restrict this process to reading ``read`` and reading and writing ``write`` (folders or files).

    Paths that do not exist are skipped. Raises OSError if Landlock refuses.
    """
    version = abi()
    if version < 1:
        raise OSError("Landlock is not available on this system")
    libc = _libc()
    handled = _handled(version)
    attr = ctypes.c_uint64(handled)  # struct landlock_ruleset_attr, first field only (the kernel accepts that)
    fd = libc.syscall(_CREATE, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for paths, rights in ((read, READ), (write, handled)):
            for path in paths:
                _allow(libc, fd, path, rights)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_RESTRICT, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(fd)


def _allow(libc, ruleset: int, path: str, rights: int) -> None:
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # nothing there: nothing to allow
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights, target)
        if libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                        ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(target)


# What any Python kernel needs to read on a Linux system, beside the Python installation itself.
SYSTEM = ["/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys"]
DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]


def kernel_paths(course_root: str) -> tuple[list[str], list[str], list[str]]:
    """(read, write, exposed) for grading kernels: what they may read, what they may write besides their
    own folder and temporary folder, and any allowed path that contains the course root (which would
    let them read it: the summary warns about those)."""
    import site
    import sysconfig

    import bpcourse
    import grader_tests

    read = list(SYSTEM)
    read += {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    read += [p for p in sysconfig.get_paths().values()]
    read += [*site.getsitepackages(), site.getusersitepackages()]
    read += [*bpcourse.__path__, *grader_tests.__path__]
    read.append(os.path.dirname(os.path.realpath(sys.executable)))
    try:  # the kernel's own interpreter, if the python3 kernelspec names another installation
        import shutil

        from jupyter_client.kernelspec import KernelSpecManager
        found = shutil.which(KernelSpecManager().get_kernel_spec("python3").argv[0])
        if found:
            kernel_python = os.path.realpath(found)
            read += [os.path.dirname(kernel_python), os.path.dirname(os.path.dirname(kernel_python))]
    except Exception:  # noqa: BLE001 - no such spec: the native kernel is this Python
        pass
    # Devices: only the harmless ones. Not /dev/shm (memory outside the kernel's cap, shared by every kernel
    # and kept after it ends), not terminals, not disks.
    read += DEVICES
    write = ["/dev/null"]
    # matplotlib's font list and MNIST are read, never written: each kernel gets its own matplotlib folder
    # (MPLCONFIGDIR in its temporary folder, seeded with the grader's font list by bpcourse.execute), and
    # MNIST is read from BPCOURSE_DATA_DIR or the per-user cache (filled beforehand, not by a kernel).
    data = os.environ.get("BPCOURSE_DATA_DIR")
    if data:
        read.append(data)
    else:
        from .data import default_cache_dir
        read.append(str(default_cache_dir()))
    root = os.path.realpath(course_root)

    def contains_root(p: str) -> bool:
        p = os.path.realpath(p)
        return root == p or root.startswith(p.rstrip(os.sep) + os.sep)

    exposed = sorted({os.path.realpath(p) for p in read + write if p and contains_root(p)})
    return [p for p in sorted(set(read)) if p], write, exposed
