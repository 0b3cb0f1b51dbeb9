"""Confine a grading kernel with Landlock (Linux 5.13 and later): the disk, /proc, TCP and signals.

``bpcourse grade`` starts each kernel through a launcher that calls :func:`apply` just before it execs the
kernel. From then on the kernel (and anything it starts) is held to what :func:`coverage` lists for this
system's Landlock ABI:

* disk (ABI 1): it reads only what running Python needs — the Python installation, system libraries, the
  course packages, its own connection file, MNIST, a few harmless devices — and writes only in its
  submission's folder, a private temporary folder and ``/dev/null``. The course root (``solutions/``,
  ``source/``, the gradebook), other students' submissions, the instructor's home, ``/tmp``, ``/dev/shm`` and
  terminals are neither readable nor writable, whatever path or symlink the code uses: Landlock checks the
  real file.
* /proc (ABI 1, the same filesystem rules): of ``/proc`` it reads only some of its own ``/proc/<pid>``
  (:func:`own_proc`) and the few system-wide files in :data:`PROC`, so it cannot list processes or read
  their command lines or environments. A rule on a /proc entry names an inode that procfs replaces when its
  cache evicts it, so :func:`apply` keeps the allowed /proc entries open.
* network (ABI 4): it may bind only the TCP ports it is given (its own messaging ports) and connect to no
  TCP port at all, on any address: not to classmates' kernels, not to the grader, not out. Landlock has no
  rules for UDP, raw or other socket families.
* signals (ABI 6): it may signal only processes in its own Landlock domain (itself and what it starts),
  not classmates' kernels, its grading worker or the grader; and it may not connect to abstract Unix
  sockets made outside that domain.

Unprivileged, and undone only by the process ending.
"""

from __future__ import annotations

import ctypes
import os
import sys

# Syscall numbers: the same on x86_64 and aarch64 (added to the common table in 5.13).
_CREATE, _ADD_RULE, _RESTRICT = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_PR_SET_NO_NEW_PRIVS = 38
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | (1 << 14)  # the rights a rule on a single file may carry
READ = EXECUTE | READ_FILE | READ_DIR
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1                  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1       # ABI 6


def _handled(abi: int) -> int:
    rights = (1 << 13) - 1        # ABI 1: execute, write, read, read dir, remove, make (bits 0-12)
    if abi >= 2:
        rights |= 1 << 13         # refer: rename or link into another folder
    if abi >= 3:
        rights |= 1 << 14         # truncate
    return rights


class _RulesetAttr(ctypes.Structure):
    """struct landlock_ruleset_attr; the kernel is passed only the fields its ABI knows (:func:`_attr_size`)."""

    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


def _attr_size(abi: int) -> int:
    return 8 if abi < 4 else 16 if abi < 6 else 24


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPort(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi() -> int:
    """The Landlock ABI version this system offers, 0 if none (not Linux, too old, or disabled)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def coverage(version: int | None = None) -> dict[str, bool]:
    """What :func:`apply` confines under Landlock ABI ``version`` (default: this system's):
    ``{"disk": ..., "/proc": ..., "network": ..., "signals": ...}``. "network" means TCP only."""
    version = abi() if version is None else version
    return {"disk": version >= 1, "/proc": version >= 1, "network": version >= 4, "signals": version >= 6}


def apply(read: list[str], write: list[str], bind_ports: list[int] = ()) -> list[int]:
    """Restrict this process to reading ``read`` and reading and writing ``write`` (folders or files); on
    ABI 4 and later to binding only the TCP ``bind_ports`` and connecting to no TCP port; on ABI 6 and later
    to signalling, and connecting to abstract Unix sockets of, only its own Landlock domain.

    Paths that do not exist are skipped. Allowed paths under ``/proc`` stay open (O_PATH, inherited through
    exec): a rule names an inode, and procfs makes a new inode for an entry each time its cached one is
    evicted, which would silently take the right away. Returns those descriptors. Raises OSError if
    Landlock refuses anything; nothing is restricted then.
    """
    version = abi()
    if version < 1:
        raise OSError("Landlock is not available on this system")
    libc = _libc()
    handled = _handled(version)
    attr = _RulesetAttr(handled, NET_BIND_TCP | NET_CONNECT_TCP if version >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if version >= 6 else 0)
    fd = libc.syscall(_CREATE, ctypes.byref(attr), ctypes.c_size_t(_attr_size(version)), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    pinned = []
    try:
        for paths, rights in ((read, READ), (write, handled)):
            for path in paths:
                pinned += _allow(libc, fd, path, rights)
        if version >= 4:
            for port in sorted(set(bind_ports)):
                _allow_port(libc, fd, port)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_RESTRICT, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    except BaseException:
        for kept in pinned:
            os.close(kept)
        raise
    finally:
        os.close(fd)
    return pinned


def _allow(libc, ruleset: int, path: str, rights: int) -> list[int]:
    """Add a rule for ``path``; returns its descriptor, kept open, if it lies in /proc, else []."""
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return []  # nothing there: nothing to allow
    keep = os.path.realpath(path).startswith("/proc/")
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights, target)
        if libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                        ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    except BaseException:
        os.close(target)
        raise
    if not keep:
        os.close(target)
        return []
    os.set_inheritable(target, True)
    return [target]


def _allow_port(libc, ruleset: int, port: int) -> None:
    if not 0 < port < 65536:  # port 0 would let it bind any port the system picks
        raise OSError(f"refusing a bind rule for TCP port {port}")
    rule = _NetPort(NET_BIND_TCP, port)
    if libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_NET_PORT),
                    ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
        raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for TCP port {port}")


# What any Python kernel needs to read on a Linux system, beside the Python installation itself. Not /proc:
# see PROC and the kernel's own /proc/<pid>, which the launcher adds.
SYSTEM = ["/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/sys"]
# The system-wide /proc files a kernel may read (glibc, OpenBLAS and psutil read these): nothing about other
# processes. Found by tracing the course's notebooks: of /proc they open only /proc/stat.
PROC = ["/proc/stat", "/proc/meminfo", "/proc/cpuinfo"]
# Of its own /proc/<pid>, the entries about its own state. Not net/ (every socket of the network namespace:
# the ports classmates' kernels listen on) nor the mount tables.
OWN_PROC = ["stat", "statm", "status", "cmdline", "comm", "environ", "limits", "io", "auxv", "maps", "smaps",
            "smaps_rollup", "fd", "fdinfo", "task", "cgroup"]
DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]


def own_proc(pid: int) -> list[str]:
    """The entries of ``/proc/<pid>`` a process confined by :func:`apply` may read about itself (its children
    have other pids: they may read these entries of their parent's, and none of their own)."""
    return [f"/proc/{pid}/{entry}" for entry in OWN_PROC]


def kernel_paths(course_root: str) -> tuple[list[str], list[str], list[str]]:
    """(read, write, exposed) for grading kernels: what they may read, what they may write besides their
    own folder and temporary folder, and any allowed path that contains the course root (which would
    let them read it: the summary warns about those)."""
    import site
    import sysconfig

    import bpcourse
    import bpcourse_instructor
    import grader_tests

    read = list(SYSTEM) + list(PROC)
    read += {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    read += [p for p in sysconfig.get_paths().values()]
    read += [*site.getsitepackages(), site.getusersitepackages()]
    read += [*bpcourse.__path__, *bpcourse_instructor.__path__, *grader_tests.__path__]
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
    # (MPLCONFIGDIR in its temporary folder, seeded with the grader's font list by bpcourse_instructor.kernel),
    # and MNIST is read from BPCOURSE_DATA_DIR or the per-user cache (filled beforehand, not by a kernel).
    read.append(mnist_dir())
    root = os.path.realpath(course_root)

    def contains_root(p: str) -> bool:
        p = os.path.realpath(p)
        return root == p or root.startswith(p.rstrip(os.sep) + os.sep)

    exposed = sorted({os.path.realpath(p) for p in read + write if p and contains_root(p)})
    return [p for p in sorted(set(read)) if p], write, exposed


def mnist_dir() -> str:
    """Where kernels read MNIST: BPCOURSE_DATA_DIR, or the grader's per-user cache (kernels get their own
    HOME, so the launcher names this folder to them as BPCOURSE_DATA_DIR)."""
    data = os.environ.get("BPCOURSE_DATA_DIR")
    if data:
        return data
    from bpcourse.data import default_cache_dir
    return str(default_cache_dir())
