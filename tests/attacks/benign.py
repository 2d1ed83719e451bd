# ruff: noqa: E501 - one workflow per line reads best as a table
"""The benign corpus: normal admin and developer work, each a shell script run in a scratch
directory (@S). Nothing here needs the network; installs are replaced by what they read and run
locally. Under the default rules none may raise an alert at Warning or above."""

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

    def unavailable(self) -> str | None:
        if self.needs and not shutil.which(self.needs):
            return f"{self.needs} is not installed"
        return None

    def perform(self, scratch: Path) -> None:
        subprocess.run(["bash", "-c", self.script.replace("@S", str(scratch))], cwd=scratch, timeout=120,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
    Work("python http server on loopback", f"cd @S && {PY} -c \"import http.server, threading, urllib.request; s = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler); threading.Thread(target=s.serve_forever, daemon=True).start(); urllib.request.urlopen(f'http://127.0.0.1:{{s.server_port}}/').read(); s.shutdown()\""),
    Work("node script", "node -e 'console.log(require(\"os\").hostname())'", "node"),
    Work("perl one-liner text processing", "seq 10 | perl -ne 'print if $_ % 2'", "perl"),
    Work("shell script with a subshell and pipes", "for i in 1 2 3; do echo $i; done | sort -r | uniq > @S/o; (cd /tmp && ls >/dev/null)"),
    Work("sudo-less su to nobody", "su -s /bin/sh nobody -c true 2>/dev/null || true"),
    Work("user's crontab -l", "crontab -l 2>/dev/null || true"),
    Work("chmod +x and run a local script", "printf '#!/bin/sh\\necho ok\\n' > @S/s.sh && chmod 755 @S/s.sh && @S/s.sh"),
    Work("ssh-keygen in /tmp", "ssh-keygen -q -t ed25519 -N '' -f @S/id_test && ssh-keygen -l -f @S/id_test.pub", "ssh-keygen"),
]
