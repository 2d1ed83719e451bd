"""Actions on the host: files, processes, privileges. Each leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tiercel.generator.base import HELPER_NAME, Context, action

ME = {"user.name": "root"} if os.geteuid() == 0 else {}


def _write_and_remove(path: str) -> str:
    return (f"import os; f = open({path!r}, 'w'); f.write('tiercel generator'); f.close(); "
            f"os.unlink({path!r})")


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "30"])


@action("Read sensitive file untrusted")
def read_sensitive_file(ctx: Context) -> dict[str, Any]:
    """cat /etc/shadow."""
    pid = ctx.run(["cat", "/etc/shadow"], check=True)
    return {"proc.pid": pid, "proc.name": "cat", "fd.name": "/etc/shadow", **ME}


@action("Read sensitive file trusted after startup")
def read_sensitive_file_late(ctx: Context) -> dict[str, Any]:
    """A process named nginx reads /etc/shadow 1.5 s after it started."""
    pid = ctx.helper("import time; time.sleep(1.5); open('/etc/shadow').read()", name="nginx")
    return {"proc.pid": pid, "proc.name": "nginx", "fd.name": "/etc/shadow"}


@action("Run shell untrusted")
def server_spawns_shell(ctx: Context) -> dict[str, Any]:
    """A process named nginx starts /bin/sh -c true."""
    ctx.helper("import subprocess; subprocess.run(['/bin/sh', '-c', 'true'], check=True)", name="nginx")
    return {"proc.name": "sh", "proc.pname": "nginx"}


@action("Create files below dev")
def create_file_below_dev(ctx: Context) -> dict[str, Any]:
    """Create and remove a plain file in /dev."""
    pid = ctx.helper(_write_and_remove(f"/dev/{ctx.tag}"))
    return {"proc.pid": pid, "proc.name": HELPER_NAME, "fd.name": f"/dev/{ctx.tag}"}


@action("Write below etc")
def write_below_etc(ctx: Context) -> dict[str, Any]:
    """Create and remove a file in /etc."""
    pid = ctx.helper(_write_and_remove(f"/etc/{ctx.tag}"))
    return {"proc.pid": pid, "proc.name": HELPER_NAME, "fd.name": f"/etc/{ctx.tag}"}


@action("Write below binary dir")
def write_below_binary_dir(ctx: Context) -> dict[str, Any]:
    """Create and remove a file in /usr/bin."""
    pid = ctx.helper(_write_and_remove(f"/usr/bin/{ctx.tag}"))
    return {"proc.pid": pid, "proc.name": HELPER_NAME, "fd.name": f"/usr/bin/{ctx.tag}"}


@action("Rename in binary dir")
def rename_in_binary_dir(ctx: Context) -> dict[str, Any]:
    """Create a dangling symlink in /usr/bin, rename it, remove it."""
    a, b = f"/usr/bin/{ctx.tag}", f"/usr/bin/{ctx.tag}-renamed"
    pid = ctx.helper(f"import os; os.symlink('/nonexistent', {a!r}); os.rename({a!r}, {b!r}); "
                     f"os.unlink({b!r})")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Mkdir binary dirs")
def mkdir_binary_dir(ctx: Context) -> dict[str, Any]:
    """Create and remove a directory in /usr/bin."""
    d = f"/usr/bin/{ctx.tag}.d"
    pid = ctx.helper(f"import os; os.mkdir({d!r}); os.rmdir({d!r})")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Clear log activities")
def clear_log(ctx: Context) -> dict[str, Any]:
    """Create a log file in /var/log, truncate it, remove it."""
    p = f"/var/log/{ctx.tag}.log"
    pid = ctx.helper(f"import os; os.close(os.open({p!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY)); "
                     f"os.close(os.open({p!r}, os.O_WRONLY | os.O_TRUNC)); os.unlink({p!r})")
    return {"proc.pid": pid, "proc.name": HELPER_NAME, "fd.name": p}


@action("Delete or rename shell history")
def delete_shell_history(ctx: Context) -> dict[str, Any]:
    """Create a scratch .bash_history and delete it."""
    p = str(ctx.scratch / ".bash_history")
    Path(p).write_text("ls\n")
    pid = ctx.helper(f"import os; os.unlink({p!r})")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Search private keys or passwords")
def search_private_keys(ctx: Context) -> dict[str, Any]:
    """find SCRATCH -name id_rsa."""
    pid = ctx.run(["find", str(ctx.scratch), "-name", "id_rsa"], check=True)
    return {"proc.pid": pid, "proc.name": "find"}


@action("Create symlink over sensitive files")
def symlink_sensitive(ctx: Context) -> dict[str, Any]:
    """A scratch symlink pointing at /etc/shadow, removed."""
    link = str(ctx.scratch / "shadow-link")
    pid = ctx.helper(f"import os; os.symlink('/etc/shadow', {link!r}); os.unlink({link!r})")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Create hardlink over sensitive files")
def hardlink_sensitive(ctx: Context) -> dict[str, Any]:
    """A hard link to /etc/shadow next to it, removed."""
    link = f"/etc/{ctx.tag}-link"
    pid = ctx.helper(f"import os; os.link('/etc/shadow', {link!r}); os.unlink({link!r})")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Packet socket created")
def packet_socket(ctx: Context) -> dict[str, Any]:
    """Open and close an AF_PACKET raw socket."""
    pid = ctx.helper("import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


PTRACE = "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); pt = libc.ptrace; " \
         "pt.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]; "


@action("PTRACE attached to process")
def ptrace_attach(ctx: Context) -> dict[str, Any]:
    """Attach to a sleeping child with PTRACE_ATTACH, then detach."""
    sleeper = _sleeper()
    try:
        pid = ctx.helper(PTRACE + f"assert pt(16, {sleeper.pid}, None, None) == 0; "
                         f"os.waitpid({sleeper.pid}, os.WUNTRACED | 0x40000000); "
                         f"pt(17, {sleeper.pid}, None, None)")
    finally:
        sleeper.kill()
        sleeper.wait()
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("PTRACE anti-debug attempt")
def ptrace_traceme(ctx: Context) -> dict[str, Any]:
    """PTRACE_TRACEME in a child."""
    pid = ctx.helper(PTRACE + "pt(0, 0, None, None)")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


def _modules() -> str | None:
    return None if Path("/proc/modules").exists() else "this kernel has no module support"


@action("Linux kernel module injection", available=_modules)
def kernel_module(ctx: Context) -> dict[str, Any]:
    """init_module with an invalid image (the kernel refuses it; the attempt is what counts)."""
    pid = ctx.helper("import ctypes; libc = ctypes.CDLL(None); b = b'not a module'; "
                     "libc.syscall(175, b, len(b), b'')")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Read cloud credentials")
def read_cloud_credentials(ctx: Context) -> dict[str, Any]:
    """cat a scratch ~/.aws/credentials."""
    creds = ctx.scratch / ".aws" / "credentials"
    creds.parent.mkdir()
    creds.write_text("[default]\naws_access_key_id = AKIAEXAMPLE\n")
    pid = ctx.run(["cat", str(creds)], check=True)
    return {"proc.pid": pid, "proc.name": "cat", "fd.name": str(creds)}


@action("Execution from /dev/shm")
def exec_from_dev_shm(ctx: Context) -> dict[str, Any]:
    """Copy /bin/true to /dev/shm, run it, remove it."""
    p = Path(f"/dev/shm/{ctx.tag}")
    shutil.copy(shutil.which("true") or "/bin/true", p)
    try:
        pid = ctx.run([str(p)], check=True)
    finally:
        p.unlink()
    return {"proc.pid": pid, "proc.name": p.name[:15]}


@action("Fileless execution via memfd_create")
def memfd_exec(ctx: Context) -> dict[str, Any]:
    """Run /bin/true from a memfd."""
    true = shutil.which("true") or "/bin/true"
    pid = ctx.helper(f"import os, subprocess; fd = os.memfd_create('{HELPER_NAME}'); "
                     f"os.write(fd, open({true!r}, 'rb').read()); "
                     "subprocess.run([f'/proc/self/fd/{fd}'], pass_fds=[fd], check=True)")
    del pid
    return {"proc.pname": HELPER_NAME}


@action("Non-root setuid to root")
def setuid_root(ctx: Context) -> dict[str, Any]:
    """Drop to nobody, then ask for uid 0 (refused)."""
    pid = ctx.helper("import os\nos.setgid(65534); os.setuid(65534)\n"
                     "try:\n    os.setuid(0)\nexcept PermissionError:\n    pass")
    return {"proc.pid": pid, "proc.name": HELPER_NAME, "user.uid": 65534}


@action("Set setuid or setgid bit")
def set_setuid_bit(ctx: Context) -> dict[str, Any]:
    """chmod u+s on a scratch file."""
    f = ctx.scratch / "suid-file"
    f.write_text("")
    pid = ctx.helper(f"import os; os.chmod({str(f)!r}, 0o4755)")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Access to another process's memory")
def proc_mem(ctx: Context) -> dict[str, Any]:
    """Open /proc/PID/mem of a sleeping child."""
    sleeper = _sleeper()
    try:
        pid = ctx.helper(f"open('/proc/{sleeper.pid}/mem', 'rb').close()")
    finally:
        sleeper.kill()
        sleeper.wait()
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


# --- incubating ---------------------------------------------------------------------------------

LIBC = "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "


@action("Change thread namespace")
def setns(ctx: Context) -> dict[str, Any]:
    """setns into the process's own UTS namespace."""
    pid = ctx.helper(LIBC + "fd = os.open('/proc/self/ns/uts', os.O_RDONLY); "
                     "assert libc.setns(fd, 0) == 0")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Change namespace privileges via unshare")
def unshare(ctx: Context) -> dict[str, Any]:
    """unshare(CLONE_NEWUTS) in a child."""
    pid = ctx.helper(LIBC + "assert libc.unshare(0x04000000) == 0")
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Known crypto miner process executed", maturity="incubating")
def miner_process(ctx: Context) -> dict[str, Any]:
    """Start a process named xmrig (it does nothing)."""
    pid = ctx.helper("pass", name="xmrig")
    return {"proc.pid": pid, "proc.name": "xmrig"}


@action("DB program spawned process", maturity="incubating")
def database_spawns(ctx: Context) -> dict[str, Any]:
    """A process named postgres starts /bin/true."""
    ctx.helper("import subprocess; subprocess.run(['true'], check=True)", name="postgres")
    return {"proc.name": "true", "proc.pname": "postgres"}


@action("User mgmt binaries", maturity="incubating")
def user_mgmt(ctx: Context) -> dict[str, Any]:
    """Start a process named useradd (it does nothing)."""
    pid = ctx.helper("pass", name="useradd")
    return {"proc.pid": pid, "proc.name": "useradd"}


@action("Schedule cron jobs", maturity="incubating")
def crontab(ctx: Context) -> dict[str, Any]:
    """Start a process named crontab (it does nothing)."""
    pid = ctx.helper("pass", name="crontab")
    return {"proc.pid": pid, "proc.name": "crontab"}


@action("Modify shell configuration file", maturity="incubating")
def modify_shell_config(ctx: Context) -> dict[str, Any]:
    """Write a scratch .bashrc."""
    pid = ctx.helper(_write_and_remove(str(ctx.scratch / ".bashrc")))
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Adding ssh keys to authorized_keys", maturity="incubating")
def add_authorized_key(ctx: Context) -> dict[str, Any]:
    """Write a scratch .ssh/authorized_keys."""
    (ctx.scratch / ".ssh").mkdir(exist_ok=True)
    pid = ctx.helper(_write_and_remove(str(ctx.scratch / ".ssh" / "authorized_keys")))
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Read environment of another process", maturity="incubating")
def read_proc_environ(ctx: Context) -> dict[str, Any]:
    """Read /proc/PID/environ of a sleeping child."""
    sleeper = _sleeper()
    try:
        pid = ctx.helper(f"open('/proc/{sleeper.pid}/environ', 'rb').read()")
    finally:
        sleeper.kill()
        sleeper.wait()
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Write below root", maturity="incubating")
def write_below_root(ctx: Context) -> dict[str, Any]:
    """Create and remove a file in /root."""
    pid = ctx.helper(_write_and_remove(f"/root/{ctx.tag}"))
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Remove bulk data from disk", maturity="incubating")
def shred_file(ctx: Context) -> dict[str, Any]:
    """shred -u a scratch file."""
    f = ctx.scratch / "to-shred"
    f.write_text("data")
    pid = ctx.run(["shred", "-u", str(f)], check=True)
    return {"proc.pid": pid, "proc.name": "shred"}
