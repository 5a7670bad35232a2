#!/usr/bin/python3
"""The Kubernetes example (packaging/kubernetes) against the built supervise.

  kubernetes_test.py --repo DIR --supervise BIN

Parses job.yaml and configmap.yaml and checks what the README promises: a batch/v1 Job
with restartPolicy Never; the container runs supervise with the spec the ConfigMap
mounts, --exit-code-from action and --termination-log at terminationMessagePath
(policy File); terminationGracePeriodSeconds above --grace-period; a podFailurePolicy
whose exit codes are the ones supervise really exits with for FAIL and RESCHEDULE (found
by running it), after a DisruptionTarget rule. Then the ConfigMap's task spec must pass
`supervise --validate` and schemas/task.schema.json.

Run with Debian's /usr/bin/python3 (python3-yaml, python3-jsonschema).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")
    return condition


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def seconds(text):
    """A supervise duration as seconds: a number, <number><unit> parts (d h m s ms), or
    ISO 8601 P[nD]T[nH][nM][nS]."""
    text = str(text).strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", text):
        return float(text)
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"([0-9.]+)(ms|[smhd])", text)
    if parts and "".join(n + u for n, u in parts) == text:
        return sum(float(n) * units[u] for n, u in parts)
    iso = re.fullmatch(r"P(?:([0-9.]+)D)?(?:T(?:([0-9.]+)H)?(?:([0-9.]+)M)?(?:([0-9.]+)S)?)?", text)
    if iso and any(iso.groups()):
        d, h, m, s = (float(g or 0) for g in iso.groups())
        return d * 86400 + h * 3600 + m * 60 + s
    raise ValueError(f"not a duration: {text!r}")


def option(args, name):
    """The value of --name in args (as "--name value" or "--name=value"); None if absent."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
    return None


def action_codes(supervise):
    """The exit codes of --exit-code-from action, as the built binary gives them."""
    def code(*args):
        return subprocess.run([supervise, "--exit-code-from", "action", "-q", *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30).returncode
    codes = {
        "COMPLETE": code("--", "/bin/true"),
        "RESCHEDULE": code("--exit-action", "RESCHEDULE=3", "--", "/bin/sh", "-c", "exit 3"),
        "FAIL": code("--", "/bin/sh", "-c", "exit 3"),
        "invalid input": code("--timeout", "5x", "--", "/bin/true"),
        "command not found": code("--", "/nonexistent/command"),
    }
    print("supervise --exit-code-from action: " + ", ".join(f"{k} {v}" for k, v in codes.items()))
    check(len({codes["COMPLETE"], codes["RESCHEDULE"], codes["FAIL"]}) == 3, "the three actions share a code")
    check(codes["invalid input"] == codes["FAIL"], "invalid input does not exit with FAIL's code")
    check(codes["command not found"] == codes["FAIL"], "a missing command does not exit with FAIL's code")
    return codes


def exit_code_rules(rules, action):
    return [r for r in rules if r.get("action") == action and "onExitCodes" in r]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--supervise", required=True)
    args = parser.parse_args()
    here = os.path.join(args.repo, "packaging", "kubernetes")

    jobs = [d for d in load_all(os.path.join(here, "job.yaml")) if d.get("kind") == "Job"]
    configmaps = [d for d in load_all(os.path.join(here, "configmap.yaml")) if d.get("kind") == "ConfigMap"]
    if not check(len(jobs) == 1 and len(configmaps) == 1, "expected one Job in job.yaml, one ConfigMap in configmap.yaml"):
        return 1
    job, configmap = jobs[0], configmaps[0]
    check(job.get("apiVersion") == "batch/v1", "the Job's apiVersion is not batch/v1")
    check(configmap.get("apiVersion") == "v1", "the ConfigMap's apiVersion is not v1")
    spec = job["spec"]
    pod = spec["template"]["spec"]
    check(pod.get("restartPolicy") == "Never", "restartPolicy is not Never (podFailurePolicy requires it)")
    check(isinstance(spec.get("backoffLimit"), int) and spec["backoffLimit"] >= 1, "no backoffLimit of at least 1")

    # The container that runs supervise.
    containers = [c for c in pod["containers"]
                  if os.path.basename((c.get("command") or [""])[0]) == "supervise"]
    if not check(len(containers) == 1, "no container (or more than one) whose command is supervise"):
        return 1
    container = containers[0]
    argv = container.get("args") or []
    check(option(argv, "--exit-code-from") == "action", "supervise does not run with --exit-code-from action")

    # The termination log.
    log = option(argv, "--termination-log")
    check(log is not None, "no --termination-log")
    check(container.get("terminationMessagePath", "/dev/termination-log") == log,
          f"terminationMessagePath is not --termination-log ({log})")
    check(container.get("terminationMessagePolicy") == "File", "terminationMessagePolicy is not File")

    # Grace periods: Kubernetes' must outlast supervise's.
    grace = seconds(option(argv, "--grace-period") or "30s")
    k8s_grace = pod.get("terminationGracePeriodSeconds", 30)
    check(k8s_grace > grace,
          f"terminationGracePeriodSeconds {k8s_grace} is not above --grace-period ({grace:g} s)")
    print(f"grace periods: supervise {grace:g} s, Kubernetes {k8s_grace} s")

    # The podFailurePolicy against the codes supervise really exits with.
    codes = action_codes(args.supervise)
    rules = spec.get("podFailurePolicy", {}).get("rules", [])
    for rule in rules:
        on = rule.get("onExitCodes")
        if on:
            check(on.get("containerName") == container["name"],
                  f"an onExitCodes rule names container {on.get('containerName')!r}, not {container['name']!r}")
            check(on.get("operator") == "In", "an onExitCodes rule's operator is not In")
            check(codes["COMPLETE"] not in on.get("values", []), "a rule covers COMPLETE's exit code")
    fail_rules = exit_code_rules(rules, "FailJob")
    check([r["onExitCodes"]["values"] for r in fail_rules] == [[codes["FAIL"]]],
          f"FailJob is not one rule for exit code {codes['FAIL']} (FAIL)")
    retry_rules = exit_code_rules(rules, "Count") + exit_code_rules(rules, "Ignore")
    check([r["onExitCodes"]["values"] for r in retry_rules] == [[codes["RESCHEDULE"]]],
          f"no single Count or Ignore rule for exit code {codes['RESCHEDULE']} (RESCHEDULE)")
    disruption = [i for i, r in enumerate(rules)
                  if r.get("action") == "Ignore"
                  and any(c.get("type") == "DisruptionTarget" for c in r.get("onPodConditions", []))]
    first_code_rule = min((i for i, r in enumerate(rules) if "onExitCodes" in r), default=len(rules))
    check(len(disruption) == 1 and disruption[0] < first_code_rule,
          "no Ignore rule for DisruptionTarget before the exit-code rules")

    # The ConfigMap mounted where --spec looks.
    spec_path = option(argv, "--spec")
    mounted = None
    for volume in pod.get("volumes", []):
        source = volume.get("configMap")
        if not source or source.get("name") != configmap["metadata"]["name"]:
            continue
        for mount in container.get("volumeMounts", []):
            if mount["name"] != volume["name"]:
                continue
            items = source.get("items") or [{"key": k, "path": k} for k in configmap.get("data", {})]
            for item in items:
                if os.path.join(mount["mountPath"], item["path"]) == spec_path:
                    mounted = item["key"]
    if not check(mounted in configmap.get("data", {}),
                 f"--spec {spec_path} is not a key of ConfigMap {configmap['metadata']['name']} mounted there"):
        return 1
    text = configmap["data"][mounted]

    # The task spec: supervise --validate, then the schema.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "task.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        run = subprocess.run([args.supervise, "--validate", "--spec", path], capture_output=True, text=True,
                             timeout=30)
        check(run.returncode == 0, f"supervise --validate rejects the ConfigMap's spec: {run.stderr.strip()}")
        print(f"supervise --validate: {run.stdout.strip()}")
    with open(os.path.join(args.repo, "schemas", "task.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    task = yaml.safe_load(text)
    for error in jsonschema.Draft202012Validator(schema).iter_errors(task):
        check(False, f"the ConfigMap's spec breaks schemas/task.schema.json at {error.json_path}: {error.message}")

    print(f"{'FAILED' if failures else 'ok'}: {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
