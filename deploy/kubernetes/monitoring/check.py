"""Checks monitoring/servicemonitor.yaml without a cluster. kubernetes-validate ships
the core API's schemas, not the Prometheus Operator's CRDs, so this checks what breaks
scraping instead: the ServiceMonitor selects the Services of both manifests, scrapes a
port they name, and that port reaches a container port on which the server serves
/metrics (PROMENADE_METRICS_ADDR)."""

import pathlib
import sys

import yaml

here = pathlib.Path(__file__).resolve().parent
monitor = yaml.safe_load((here / "servicemonitor.yaml").read_text())
problems = []
if (monitor.get("apiVersion"), monitor.get("kind")) != ("monitoring.coreos.com/v1", "ServiceMonitor"):
    problems.append("not a monitoring.coreos.com/v1 ServiceMonitor")
wanted = monitor["spec"]["selector"]["matchLabels"]
endpoints = monitor["spec"]["endpoints"]
for manifest in sorted(here.parent.glob("*.yaml")):
    documents = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    service = next(d for d in documents if d["kind"] == "Service")
    workload = next(d for d in documents if d["kind"] in ("Deployment", "StatefulSet"))
    labels = service["metadata"].get("labels", {})
    if any(labels.get(k) != v for k, v in wanted.items()):
        problems.append(f"{manifest.name}: the Service's labels {labels} do not match {wanted}")
    container = workload["spec"]["template"]["spec"]["containers"][0]
    container_ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    for endpoint in endpoints:
        if endpoint.get("path") != "/metrics":
            problems.append(f"endpoint {endpoint}: the path is /metrics")
        port = next((p for p in service["spec"]["ports"] if p.get("name") == endpoint["port"]), None)
        if port is None:
            problems.append(f"{manifest.name}: the Service has no port named {endpoint['port']}")
            continue
        target = container_ports.get(port["targetPort"])
        served = env.get("PROMENADE_METRICS_ADDR", "")
        if target is None or not served.endswith(f":{target}"):
            problems.append(
                f"{manifest.name}: port {endpoint['port']} reaches container port {target}, "
                f"but PROMENADE_METRICS_ADDR is {served!r}"
            )
if problems:
    sys.exit("deploy/kubernetes/monitoring: " + "; ".join(problems))
print("deploy/kubernetes/monitoring: the ServiceMonitor reaches /metrics in every manifest")
