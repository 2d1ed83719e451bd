"""Find the kernel headers, compile the probe (probe/*.bpf.c, joined) with BCC, fill its shapes, attach it.

Every way this can fail on a real host (not root, no headers, no tracefs, BPF refused, a compile
error) becomes one EnvironmentProblem line saying what to install, mount or grant.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiercel.common.errors import EnvironmentProblem
from tiercel.events.syscalls import SHAPE_EXEC, SHAPE_EXIT, SyscallTable
from tiercel.probe import btf, filtermaps
from tiercel.state.memory import trim_heap

TRACEFS_DIRS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))


# The probe's fragments, in the order they are joined into the one source BCC compiles (why one
# source: probe/core.bpf.c); each uses only what the ones before it define. The order lives here,
# beside the code that joins it, rather than in a list file in probe/: nothing else reads it, and
# the tests import it to check that the wheel and the binary ship every fragment.
FRAGMENTS = (
    "core.bpf.c",               # ring buffer and its accounting, shapes, inflight, scratch
    "syscall_args.bpf.c",       # arguments from the saved registers or the enter record
    "fdtable.bpf.c",            # the task's file table: an fd's file, an fd described
    "kfilter.bpf.c",            # the kernel filter's tables and kf_decide
    "kfilter_path.bpf.c",       # its path tests
    "kfilter_file.bpf.c",       # the opened file, resolved by inode
    "kfilter_repeat.bpf.c",     # the memo of its last decision
    "coalesce.bpf.c",           # a flood of identical records as one, counted
    "lifecycle.bpf.c",          # exec's record; sched fork/exec/exit
    "dispatch.bpf.c",           # sys_enter, sys_exit, exit_emit
    "kfilter_exit.bpf.c",       # the filter's tail-called programs
)


def probe_dir() -> Path:
    """Where the probe's fragments and events.h live: $TIERCEL_PROBE_DIR, the wheel's copy, or the repo."""
    env = os.environ.get("TIERCEL_PROBE_DIR")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [here.parent / "bpf", here.parents[3] / "probe"]
    for c in candidates:
        if all((c / name).is_file() for name in FRAGMENTS):
            return c
    raise EnvironmentProblem("probe source (probe/*.bpf.c) not found (set TIERCEL_PROBE_DIR)")


def probe_source(src: Path) -> str:
    """The fragments joined in FRAGMENTS order. A #line directive before each makes the compiler's
    messages name the fragment and its own line, not a place in the joined text."""
    parts = []
    for name in FRAGMENTS:
        path = str(src / name).replace("\\", "\\\\").replace('"', '\\"')   # a C string literal
        text = (src / name).read_text()
        parts.append(f'#line 1 "{path}"\n{text}' + ("" if text.endswith("\n") else "\n"))
    return "".join(parts)


def find_headers(explicit: str | None) -> Path:
    """The kernel build tree BCC compiles against: --kernel-headers, $TIERCEL_KERNEL_HEADERS, or
    /lib/modules/$(uname -r)/build."""
    release = platform.release()
    chosen = explicit or os.environ.get("TIERCEL_KERNEL_HEADERS")
    path = Path(chosen) if chosen else Path(f"/lib/modules/{release}/build")
    if not (path / "include").is_dir():
        where = f"{path}" if chosen else f"/lib/modules/{release}/build"
        raise EnvironmentProblem(
            f"kernel headers not found at {where}: install linux-headers-{release} "
            "(or mount the host's /lib/modules and /usr/src into the container, "
            "or pass --kernel-headers DIR)")
    return path


def find_tracefs() -> Path:
    for d in TRACEFS_DIRS:
        if (d / "events" / "syscalls").is_dir():
            return d
    raise EnvironmentProblem(
        "tracefs is not mounted: run 'mount -t tracefs nodev /sys/kernel/tracing' "
        "(in a container, bind-mount the host's /sys/kernel/tracing)")


def check_privileges() -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem("must run as root (it loads BPF programs into the kernel)")


def check_bpf_allowed() -> None:
    """Create and drop a one-entry BPF map: the cheapest question to ask the kernel whether this
    process may use bpf() at all (capabilities, seccomp, lockdown), before BCC prints its own noise."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint32 * 32)(2, 4, 4, 1)  # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
    fd = libc.syscall(321 if platform.machine() == "x86_64" else 280, 0, ctypes.byref(attr),
                      ctypes.sizeof(attr))  # bpf(BPF_MAP_CREATE, ...)
    if fd < 0:
        err = ctypes.get_errno()
        raise EnvironmentProblem(
            f"the kernel refused bpf() ({os.strerror(err).lower()}): run as root with CAP_BPF and "
            "CAP_PERFMON (or CAP_SYS_ADMIN), outside any seccomp profile that blocks bpf()")
    os.close(fd)


# probe/events.h enum lost_kind
LOST_KINDS = {1: "rule", 2: "clone", 3: "exit", 4: "state", 5: "fd"}
# Of the ring, the most that records only the state needs may fill (probe: send): a rule record may
# fill all of it, so a state storm never leaves one without room. The process state's records (exec,
# fork, exit) are a rule's context and cannot be re-read once the process is gone: most of the ring;
# the fd state's, which the kernel describes again at the next record that uses the fd: a quarter.
PROC_SHARE = 0.875
FD_SHARE = 0.25


@dataclass
class Probe:
    """A compiled and attached probe. `bpf` is BCC's BPF object. `exit_only`: arguments are read
    from the saved registers at exit, so only exec attaches its enter tracepoint."""

    bpf: Any
    attached: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    exit_only: bool = False
    describes_fds: bool = False     # fd_describe compiled in: records carry their fd, as the kernel has it

    def lost(self) -> int:
        """Records the kernel side could not send (ring buffer full), all kinds together."""
        return sum(self.lost_by_kind().values())

    def lost_by_kind(self) -> dict[str, int]:
        """Lost records by kind: rule records (the ring was full), clone, exit and the process
        state's syscall records (exec, chdir: past their share of the ring), fd state records (past
        theirs)."""
        if not self.bpf:
            return {}
        out = dict.fromkeys(LOST_KINDS.values(), 0)
        for k, v in self.bpf[b"lost"].items():
            name = LOST_KINDS.get(k.value)
            if name is not None:
                out[name] += sum(v)
        return out

    def filter_counts(self) -> tuple[int, int, int]:
        """(records kept in the kernel by the filter, records it let through, records coalesced
        into an identical one before them)."""
        if not self.bpf:
            return 0, 0, 0
        vals = {k.value: sum(v) for k, v in self.bpf[b"kf_counts"].items()}
        return vals.get(0, 0) + vals.get(3, 0), vals.get(1, 0), vals.get(2, 0)

    def repeats_kept(self) -> int:
        """Of the records kept in the kernel, those judged as repeats of the open before them."""
        if not self.bpf:
            return 0
        return sum(self.bpf[b"kf_counts"][ctypes.c_int(3)])

    def close(self) -> None:
        if self.bpf is not None:
            self.bpf.cleanup()
            self.bpf = None


def _import_bcc() -> Any:
    try:
        import bcc
    except ImportError as e:
        raise EnvironmentProblem(
            "BCC's Python module is missing: install python3-bpfcc and use a Python that sees "
            "/usr/lib/python3/dist-packages") from e
    return bcc


def exit_only_supported() -> bool:
    """bpf_get_current_task_btf and bpf_task_pt_regs: BTF and a kernel >= 5.15.
    TIERCEL_PROBE_MODE=pair forces the enter/exit pair (for comparison and debugging)."""
    if os.environ.get("TIERCEL_PROBE_MODE") == "pair":
        return False
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return False
    parts = platform.release().split(".")
    try:
        major, minor = int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return False
    return (major, minor) >= (5, 15)


def compile_probe(table: SyscallTable, headers: str | None = None, ringbuf_pages: int = 2048) -> Probe:
    """Compile the probe for this host. Raises EnvironmentProblem with the reason on failure."""
    check_privileges()
    check_bpf_allowed()
    find_tracefs()
    hdr = find_headers(headers)
    if headers:  # BCC finds /lib/modules/$(uname -r)/{build,source} by itself
        os.environ["BCC_KERNEL_SOURCE"] = str(hdr)
    bcc = _import_bcc()
    page_out_compiler()     # what the import touched, before the compile touches what it needs
    src = probe_dir()
    consts = {
        "AGENT_TGID": os.getpid(),
        "NR_EXIT": table.nr("exit"), "NR_EXIT_GROUP": table.nr("exit_group"),
        "NR_CLONE": table.nr("clone"), "NR_CLONE3": table.nr("clone3"), "NR_OPENAT2": table.nr("openat2"),
        "NR_FORK": table.nr("fork"), "NR_VFORK": table.nr("vfork"),
        "RINGBUF_PAGES": ringbuf_pages, "KF_INHERIT_FDS": filtermaps.INHERIT_FDS,
        "PROC_BYTES": int(ringbuf_pages * 4096 * PROC_SHARE),
        "FD_BYTES": int(ringbuf_pages * 4096 * FD_SHARE),
    }
    exit_only = exit_only_supported()
    if exit_only:
        consts["EXIT_ONLY"] = 1
    offsets = btf.kernel_offsets()
    if offsets:
        consts.update(offsets)
    else:
        print("tiercel: the kernel has no usable BTF: execve arguments are read at entry, where "
              "strings not yet paged in can be missed", file=sys.stderr)
    cflags = [f"-I{src}", "-Wno-macro-redefined", *(f"-D{k}={v}" for k, v in consts.items())]
    try:
        bpf = bcc.BPF(text=probe_source(src).encode(), cflags=cflags)
    except Exception as e:  # BCC raises bare Exception for compile and load errors
        raise EnvironmentProblem(_explain_bcc_failure(str(e), hdr)) from e
    release_compiler_memory()   # now, not after the attach and the seed: the peak is the compile's
    # fd_describe needs the file table's offsets and the socket ones (probe/fdtable.bpf.c)
    describes = offsets is not None and "OFF_TASK_FILES" in offsets and "OFF_SK_FAMILY" in offsets
    return Probe(bpf, exit_only=exit_only, describes_fds=describes)


def _explain_bcc_failure(message: str, headers: Path) -> str:
    low = message.lower()
    if "permission denied" in low:  # EACCES from bpf(): the verifier rejected the program
        return ("the kernel's BPF verifier rejected the probe on this kernel "
                "(the verifier log is printed above); please report it with `uname -r`")
    if "operation not permitted" in low:
        return ("the kernel refused to load the BPF probe (operation not permitted): run as root with "
                "CAP_BPF/CAP_SYS_ADMIN, and check kernel.unprivileged_bpf_disabled and any seccomp profile")
    if "failed to compile" in low:
        return (f"the BPF probe did not compile against the kernel headers in {headers}: "
                "install the headers of the running kernel (see the compiler output above)")
    return f"could not load the BPF probe: {message.splitlines()[0] if message else 'unknown error'}"


def attach(probe: Probe, table: SyscallTable, names: Iterable[str]) -> Probe:
    """Fill the shapes of `names` and attach their tracepoints (the exit one only, in exit-only
    mode, except for exec), plus the sched ones (TRACEPOINT_PROBE functions are attached by BCC)."""
    bpf = probe.bpf
    shapes = bpf[b"shapes"]
    tracefs = find_tracefs()
    _load_needle_program(bpf)
    for name in sorted(set(names)):
        sc = table.by_name[name]
        if not (tracefs / "events" / "syscalls" / f"sys_enter_{sc.tp}").is_dir():
            probe.missing.append(name)
            continue
        shapes[ctypes.c_uint32(sc.nr)] = shapes.Leaf.from_buffer_copy(sc.shape_bytes())
        try:
            if not probe.exit_only or sc.kind == SHAPE_EXEC:
                bpf.attach_tracepoint(tp=f"syscalls:sys_enter_{sc.tp}".encode(), fn_name=b"sys_enter")
            if sc.kind != SHAPE_EXIT:  # exit and exit_group never return
                bpf.attach_tracepoint(tp=f"syscalls:sys_exit_{sc.tp}".encode(), fn_name=b"sys_exit")
        except Exception as e:
            raise EnvironmentProblem(_explain_bcc_failure(str(e), Path("."))) from e
        probe.attached.append(name)
    return probe


def _load_needle_program(bpf: Any) -> None:
    """sys_exit tail-calls kf_path_exit for the records only their path can decide, which
    tail-calls kf_emit_exit for those that pass (programs of their own, each within the verifier's
    limit); until they are in place such records pass."""
    tail = bpf[b"kf_tail"]
    if tail.get(ctypes.c_int(0)) is not None:
        return
    try:         # the second first: kf_path_exit's records go on to kf_emit_exit
        fns = [bpf.load_func(name, BPF_PROG_TYPE_TRACEPOINT) for name in (b"kf_emit_exit", b"kf_path_exit")]
    except Exception as e:
        raise EnvironmentProblem(_explain_bcc_failure(str(e), Path("."))) from e
    tail[ctypes.c_int(1)] = ctypes.c_int(fns[0].fd)
    tail[ctypes.c_int(0)] = ctypes.c_int(fns[1].fd)


BPF_PROG_TYPE_TRACEPOINT = 5


MADV_PAGEOUT = 21           # Linux >= 5.4: reclaim these pages now (file pages fault back if used)
COMPILER_LIBS = ("libLLVM", "libclang", "libbcc")


def release_compiler_memory() -> None:
    """Once the probe is compiled, LLVM is not needed again (attaching more syscalls loads programs
    already compiled): give its freed heap back to the system and drop its library pages from
    memory. Measured here: RSS 148 MB -> 76 MB right after the compile. Best effort, never fatal."""
    trim_heap()
    page_out_compiler()


def page_out_compiler() -> None:
    """Drop the compiler libraries' pages from memory (they fault back in when used). Importing BCC
    alone touches 56 MB of them (relocations, static constructors) that the compile mostly does not
    need again: paged out before the compile, the agent's peak RSS is 30 MB lower. Best effort."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and any(lib in parts[5] for lib in COMPILER_LIBS):
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    libc.madvise(start, end - start, MADV_PAGEOUT)
    except (OSError, AttributeError, ValueError):
        pass
