# ruff: noqa: E501 - one workflow per line reads best as a table
"""The benign corpus: normal admin and developer work, each a shell script run in a scratch
directory (@S). Nothing here needs the network: what is installed is built here first (a .deb, a
wheel) and servers listen on loopback. Under the default rules none may raise an alert at Warning
or above; a workflow with `check` must also have done its work (exit 0)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PY = "/usr/bin/python3"


@dataclass(frozen=True)
class Work:
    name: str
    script: str
    needs: str | None = None   # a program that must be installed
    probe: tuple[str, str] | None = None   # (shell test that must succeed, why the work cannot run)
    check: bool = False   # the script must exit 0: it did the work, so its silence means something

    def unavailable(self) -> str | None:
        if self.needs and not shutil.which(self.needs):
            return f"{self.needs} is not installed"
        if self.probe and subprocess.run(["bash", "-c", self.probe[0]], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
            return self.probe[1]
        return None

    def perform(self, scratch: Path) -> None:
        r = subprocess.run(["bash", "-c", self.script.replace("@S", str(scratch))], cwd=scratch, timeout=120,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, text=True,
                           stderr=subprocess.PIPE if self.check else subprocess.DEVNULL)
        if self.check and r.returncode:
            raise RuntimeError(f"exit {r.returncode}: {r.stderr.strip()[-400:]}")


# A tiny package built here: a script in /usr/bin, a conffile in /etc/<pkg>/, a systemd unit it
# enables through deb-systemd-helper as debhelper's snippets do, and a postinst that talks to
# debconf and keeps state below /var/lib/<pkg>. Version 2 changes the script and the conffile.
PKG = "tiercel-benign-demo"
DEB_BUILD = r"""set -e
P=@PKG
build() {
  r=@S/$P-$1; mkdir -p $r/DEBIAN $r/usr/bin $r/etc/$P $r/lib/systemd/system
  printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: tiercel tests <tests@localhost>\nSection: misc\nPriority: optional\nDepends: debconf\nDescription: tiercel benign corpus demo\n tiercel benign corpus: a package installed, upgraded and purged.\n' $P $1 > $r/DEBIAN/control
  echo /etc/$P/$P.conf > $r/DEBIAN/conffiles
  printf '#!/bin/sh\necho "%s %s"\n' $P $1 > $r/usr/bin/$P
  printf 'greeting=hello\nversion=%s\n' $1 > $r/etc/$P/$P.conf
  printf '[Unit]\nDescription=tiercel benign demo\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/%s\n\n[Install]\nWantedBy=multi-user.target\n' $P > $r/lib/systemd/system/$P.service
  cat > $r/DEBIAN/postinst <<EOS
#!/bin/sh
set -e
. /usr/share/debconf/confmodule
if [ "\$1" = configure ]; then
    db_version 2.0 >/dev/null || true
    mkdir -p /var/lib/$P
    echo "\${2:-none}" > /var/lib/$P/previous-version
    deb-systemd-helper unmask $P.service >/dev/null || true
    if deb-systemd-helper --quiet was-enabled $P.service; then
        deb-systemd-helper enable $P.service >/dev/null || true
    else
        deb-systemd-helper update-state $P.service >/dev/null || true
    fi
    if [ -d /run/systemd/system ]; then systemctl --system daemon-reload >/dev/null || true; fi
fi
db_stop
EOS
  cat > $r/DEBIAN/postrm <<EOS
#!/bin/sh
set -e
if [ "\$1" = remove ]; then
    if [ -d /run/systemd/system ]; then systemctl --system daemon-reload >/dev/null || true; fi
    deb-systemd-helper mask $P.service >/dev/null || true
fi
if [ "\$1" = purge ]; then
    rm -rf /var/lib/$P
    deb-systemd-helper purge $P.service >/dev/null || true
    deb-systemd-helper unmask $P.service >/dev/null || true
fi
EOS
  chmod 755 $r/usr/bin/$P $r/DEBIAN/postinst $r/DEBIAN/postrm
  dpkg-deb --root-owner-group --build $r @S/${P}_$1_all.deb >/dev/null
}
dpkg -P $P >/dev/null 2>&1 || true
build 1.0; build 2.0
trap 'dpkg -P $P >/dev/null 2>&1 || true' EXIT
""".replace("@PKG", PKG)

DPKG_CYCLE = DEB_BUILD + r"""export DEBIAN_FRONTEND=noninteractive
dpkg -i @S/${P}_1.0_all.deb
test "$($P)" = "$P 1.0" && test -d /var/lib/$P && test -L /etc/systemd/system/multi-user.target.wants/$P.service
dpkg -i --force-confdef --force-confold @S/${P}_2.0_all.deb
test "$($P)" = "$P 2.0" && grep -qx version=2.0 /etc/$P/$P.conf && grep -qx 1.0 /var/lib/$P/previous-version
dpkg -r $P
test ! -e /usr/bin/$P && test -e /etc/$P/$P.conf
dpkg -P $P
test ! -e /etc/$P && test ! -e /var/lib/$P && test ! -L /etc/systemd/system/multi-user.target.wants/$P.service
"""

APT_LOCAL = DEB_BUILD + r"""export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q @S/${P}_1.0_all.deb >/dev/null
test "$($P)" = "$P 1.0"
apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold @S/${P}_2.0_all.deb >/dev/null
test "$($P)" = "$P 2.0"
apt-get purge -y -q $P >/dev/null
test ! -e /usr/bin/$P
"""

# A local project (pyproject.toml, one module, a console script) built into wheels with the
# system's pip, setuptools and wheel (no build isolation: nothing fetched), then installed from that
# wheelhouse into a venv made with pip (ensurepip uses the wheels Debian ships), upgraded to the
# next version and uninstalled. No index, no network.
PIP_CYCLE = r"""set -e
mkproj() {
  d=@S/proj-$1; mkdir -p $d/tiercel_benign_demo
  printf '[build-system]\nrequires = ["setuptools", "wheel"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "tiercel-benign-demo"\nversion = "%s"\n\n[project.scripts]\ntiercel-benign-demo = "tiercel_benign_demo:main"\n' $1 > $d/pyproject.toml
  printf 'VERSION = "%s"\n\n\ndef main() -> None:\n    print("tiercel-benign-demo", VERSION)\n' $1 > $d/tiercel_benign_demo/__init__.py
  /usr/bin/python3 -m pip wheel -q --no-index --no-build-isolation --no-deps -w @S/wheelhouse $d
}
mkproj 1.0; mkproj 2.0
/usr/bin/python3 -m venv @S/venv
V=@S/venv/bin
$V/python -m pip install -q --no-index --find-links @S/wheelhouse 'tiercel-benign-demo==1.0'
test "$($V/tiercel-benign-demo)" = "tiercel-benign-demo 1.0"
$V/pip install -q --no-index --find-links @S/wheelhouse --upgrade tiercel-benign-demo
test "$($V/tiercel-benign-demo)" = "tiercel-benign-demo 2.0"
$V/pip list 2>/dev/null | grep -q '^tiercel-benign-demo *2.0'
$V/pip uninstall -y -q tiercel-benign-demo
! $V/python -c 'import tiercel_benign_demo' 2>/dev/null
"""
HAS_ENSUREPIP = ("/usr/bin/python3 -c 'import ensurepip, setuptools, wheel' && /usr/bin/python3 -m pip --version",
                 "no offline pip here: /usr/bin/python3 lacks ensurepip (python3-venv), pip, setuptools or wheel")

# systemd units the way an admin handles them without a running systemd (offline mode): a unit
# file checked with systemd-analyze before it goes anywhere, then the demo package's own unit
# verified, disabled and enabled again (symlinks below /etc/systemd/system). Writing a unit into
# /etc/systemd/system by hand is left out: it is what the attack corpus's systemd persistence does
# ('Write below etc' must fire for it).
UNIT_ADMIN = DEB_BUILD + r"""export DEBIAN_FRONTEND=noninteractive
printf '[Unit]\nDescription=tiercel benign demo\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n' > @S/demo.service
systemd-analyze verify @S/demo.service
dpkg -i @S/${P}_1.0_all.deb >/dev/null
systemd-analyze verify /lib/systemd/system/$P.service
test "$(systemctl is-enabled $P.service)" = enabled
systemctl disable $P.service 2>/dev/null
test "$(systemctl is-enabled $P.service)" = disabled
systemctl enable $P.service 2>/dev/null
test -L /etc/systemd/system/multi-user.target.wants/$P.service
dpkg -P $P >/dev/null
"""

# sshd on loopback with its own host key and authorized_keys in the scratch directory; commands run
# through it with the usual client (it reads and records ~/.ssh/known_hosts), then a login shell on
# a terminal (sshd records the login); sshd stopped by its pid. An ~/.ssh the client had to create
# is removed again.
SSH_LOOPBACK = r"""set -e
SSHD=/usr/sbin/sshd
[ -d /root/.ssh ] && had=1 || had=0
ssh-keygen -q -t ed25519 -N '' -f @S/hostkey
ssh-keygen -q -t ed25519 -N '' -f @S/id_demo
cp @S/id_demo.pub @S/authorized_keys
mkdir -p /run/sshd
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'ListenAddress 127.0.0.1\nPort %s\nHostKey @S/hostkey\nAuthorizedKeysFile @S/authorized_keys\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nPidFile @S/sshd.pid\n' $port > @S/sshd_config
$SSHD -t -f @S/sshd_config
$SSHD -D -f @S/sshd_config -E @S/sshd.log & echo $! > @S/sshd.pid.bg
cleanup() {
  kill $(cat @S/sshd.pid.bg) 2>/dev/null || true
  if [ $had = 0 ]; then rm -f /root/.ssh/known_hosts; rmdir /root/.ssh 2>/dev/null || true
  else ssh-keygen -q -R "[127.0.0.1]:$port" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
for i in $(seq 50); do ssh-keyscan -p $port 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done
ssh -p $port -i @S/id_demo -o BatchMode=yes -o StrictHostKeyChecking=accept-new root@127.0.0.1 'id; ls /tmp' | grep -q 'uid=0'
ssh -p $port -i @S/id_demo -o BatchMode=yes root@127.0.0.1 'uptime; cat /etc/hostname' >/dev/null
printf 'cd /tmp && ls >/dev/null; echo logged-in-$((6 * 7))\nexit\n' | ssh -tt -p $port -i @S/id_demo -o BatchMode=yes root@127.0.0.1 | grep -q logged-in-42
"""

WORK: list[Work] = [
    Work("apt-cache policy", "apt-cache policy python3 bash", "apt-cache"),
    Work("apt-cache show/depends", "apt-cache show bash; apt-cache depends coreutils", "apt-cache"),
    Work("apt-get simulated upgrade", "apt-get -s upgrade", "apt-get"),
    Work("dpkg -l / -L / -S", "dpkg -l | head; dpkg -L bash | head; dpkg -S /bin/ls", "dpkg"),
    Work("dpkg --verify one package", "dpkg --verify coreutils", "dpkg"),
    Work("pip --version / list", f"{PY} -m pip --version; {PY} -m pip list 2>/dev/null | head"),
    Work("python venv in /tmp", f"{PY} -m venv --without-pip @S/venv && @S/venv/bin/python -c 'import sys; print(sys.prefix)'"),
    Work("systemctl status / list-units", "systemctl status --no-pager >/dev/null; systemctl list-units --no-pager | head", "systemctl"),
    Work("journalctl tail", "journalctl -n 20 --no-pager", "journalctl"),
    Work("logrotate --debug on a temp config",
         "mkdir -p @S/log && echo line > @S/log/app.log && printf '@S/log/app.log {\\n rotate 2\\n size 1\\n}\\n' > @S/lr.conf && logrotate --debug -s @S/lr.state @S/lr.conf", "logrotate"),
    Work("logrotate run on a temp config",
         "mkdir -p @S/log2 && echo line > @S/log2/app.log && printf '@S/log2/app.log {\\n rotate 2\\n size 1\\n copytruncate\\n}\\n' > @S/lr2.conf && logrotate -f -s @S/lr2.state @S/lr2.conf", "logrotate"),
    Work("cron-like backup script", "mkdir -p @S/data @S/backup && echo x > @S/data/f && tar czf @S/backup/b.tgz -C @S data && find @S/backup -name '*.tgz' -mtime +7 -delete"),
    Work("docker run --rm of the test image", "docker run --rm --network none tiercel-test/busybox:1 true", "docker"),
    Work("docker ps / images / inspect", "docker ps >/dev/null; docker images >/dev/null; docker info >/dev/null", "docker"),
    Work("docker build of a small image",
         "mkdir -p @S/img && printf 'FROM tiercel-test/busybox:1\\nRUN echo hi > /hi\\n' > @S/img/Dockerfile && docker build -q -t tiercel-test/benign:1 @S/img && docker rmi tiercel-test/benign:1", "docker"),
    Work("CI job: git init, commit, log", "cd @S && git init -q ci && cd ci && echo a > a && git add a && git -c user.email=ci@x -c user.name=ci commit -qm init && git log --oneline", "git"),
    Work("CI job: make + gcc + run", "cd @S && printf 'all: hello\\nhello: hello.c\\n\\tgcc -O1 -o hello hello.c\\n' > Makefile && printf '#include <stdio.h>\\nint main(void){puts(\"hi\");return 0;}\\n' > hello.c && make -s && ./hello", "make"),
    Work("CI job: python unit tests", f"cd @S && printf 'def test_x():\\n    assert 1\\n' > test_x.py && {PY} -m unittest discover -s @S -p 'test_*.py' 2>/dev/null; {PY} -c 'import unittest'"),
    Work("editor saves config (vim)", "mkdir -p @S/conf && vim -u NONE -N -es -c 'normal ihello' -c 'wq' @S/conf/app.conf", "vim"),
    Work("editor saves config (ed)", "printf 'a\\nkey=1\\n.\\nw @S/ed.conf\\nq\\n' | ed -s", "ed"),
    Work("editor-like atomic save (python)", f"{PY} -c \"import os; open('@S/c.tmp','w').write('k=1'); os.replace('@S/c.tmp','@S/c.conf')\""),
    Work("sqlite database", "sqlite3 @S/db.sqlite 'create table t(x); insert into t values(1); select * from t;'", "sqlite3"),
    Work("postgres initdb/start/stop in /tmp",
         "id postgres >/dev/null 2>&1 || exit 0; D=@S/pg; mkdir -p $D && chown postgres $D && su postgres -s /bin/sh -c \"initdb -D $D -A trust >/dev/null && pg_ctl -D $D -o '-k $D -c listen_addresses=' -w start >/dev/null && pg_ctl -D $D -w stop >/dev/null\"", "pg_ctl"),
    Work("read /etc/passwd and groups", "getent passwd root; id; groups; cat /etc/passwd | wc -l"),
    Work("ps / top / free", "ps aux | head; top -b -n1 | head; free -m"),
    Work("ss / ip addr", "ss -tlnp | head; ip addr | head"),
    Work("tar and gzip in /tmp", "cd @S && seq 1000 > n && tar cf n.tar n && gzip -f n.tar && gunzip -f n.tar.gz"),
    Work("find and grep a source tree", "find /work/main/src -name '*.py' | head -50 | xargs grep -l import | head"),
    Work("curl to loopback", f"cd @S && ({PY} -m http.server 18399 --bind 127.0.0.1 & echo $! > pid) && for i in $(seq 50); do curl -s http://127.0.0.1:18399/ >/dev/null && break; sleep 0.1; done; kill $(cat pid)", "curl"),
    Work("python3 -m http.server (all addresses), curl it on loopback",
         f"cd @S && port=$({PY} -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])') && ({PY} -m http.server $port & echo $! > pid) && trap 'kill $(cat pid)' EXIT && for i in $(seq 50); do curl -sf http://127.0.0.1:$port/ >/dev/null && exit 0; sleep 0.1; done; exit 1", "curl", check=True),
    Work("python http server on loopback", f"cd @S && {PY} -c \"import http.server, threading, urllib.request; s = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler); threading.Thread(target=s.serve_forever, daemon=True).start(); urllib.request.urlopen(f'http://127.0.0.1:{{s.server_port}}/').read(); s.shutdown()\""),
    Work("node script", "node -e 'console.log(require(\"os\").hostname())'", "node"),
    Work("perl one-liner text processing", "seq 10 | perl -ne 'print if $_ % 2'", "perl"),
    Work("shell script with a subshell and pipes", "for i in 1 2 3; do echo $i; done | sort -r | uniq > @S/o; (cd /tmp && ls >/dev/null)"),
    Work("sudo-less su to nobody", "su -s /bin/sh nobody -c true 2>/dev/null || true"),
    Work("user's crontab -l", "crontab -l 2>/dev/null || true"),
    Work("chmod +x and run a local script", "printf '#!/bin/sh\\necho ok\\n' > @S/s.sh && chmod 755 @S/s.sh && @S/s.sh"),
    Work("ssh-keygen in /tmp", "ssh-keygen -q -t ed25519 -N '' -f @S/id_test && ssh-keygen -l -f @S/id_test.pub", "ssh-keygen"),
    Work("dpkg install, upgrade, remove, purge of a local .deb", DPKG_CYCLE, "dpkg-deb", check=True),
    Work("apt-get install of a local .deb file, upgrade, purge", APT_LOCAL, "apt-get", check=True),
    Work("pip install, upgrade, uninstall of a local project in a venv", PIP_CYCLE, probe=HAS_ENSUREPIP, check=True),
    Work("systemd unit: systemd-analyze verify, systemctl disable/enable", UNIT_ADMIN, "systemd-analyze", check=True),
    Work("shell over ssh on loopback", SSH_LOOPBACK, "ssh",
         probe=("test -x /usr/sbin/sshd", "sshd is not installed here (Debian's openssh-server)"), check=True),
]
