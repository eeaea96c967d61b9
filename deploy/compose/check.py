"""Checks deploy/compose.yaml and its nginx.conf without Docker: every replica has its
own name and the same database, the proxy spreads over all of them, and nginx accepts
the configuration (with the replicas' host names pointed at loopback)."""

import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

here = pathlib.Path(__file__).resolve().parent
compose = yaml.safe_load((here.parent / "compose.yaml").read_text())
services = compose["services"]
replicas = {n: s for n, s in services.items() if n.startswith("promenade-")}
names = [s["environment"]["PROMENADE_REPLICA_NAME"] for s in replicas.values()]
databases = {s["environment"]["DATABASE_URL"] for s in replicas.values()}
problems = []
if len(replicas) < 2:
    problems.append(f"only {len(replicas)} replica(s)")
if len(set(names)) != len(names):
    problems.append(f"replica names repeat: {names}")
if len(databases) != 1:
    problems.append(f"replicas on different databases: {databases}")
conf = (here / "nginx.conf").read_text()
upstream = set(re.findall(r"server (promenade-\d+):3000", conf))
if upstream != set(replicas):
    problems.append(f"the proxy reaches {sorted(upstream)}, the replicas are {sorted(replicas)}")
if problems:
    sys.exit("deploy/compose.yaml: " + "; ".join(problems))

with tempfile.TemporaryDirectory() as tmp:
    site = re.sub(r"promenade-\d+:3000", "127.0.0.1:3000", conf).replace("listen 80;", "listen 127.0.0.1:9;")
    (pathlib.Path(tmp) / "site.conf").write_text(site)
    (pathlib.Path(tmp) / "nginx.conf").write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\nhttp {{ include {tmp}/site.conf; }}\n"
    )
    checked = subprocess.run(
        ["/usr/sbin/nginx", "-t", "-q", "-p", tmp, "-c", f"{tmp}/nginx.conf"],
        capture_output=True, text=True,
    )
    if checked.returncode != 0:
        sys.exit(f"deploy/compose/nginx.conf: {checked.stderr.strip()}")
print(f"deploy/compose.yaml: {len(replicas)} replicas, proxy and nginx.conf fine")
