#!/usr/bin/env python3
"""`make tf-e2e`: terraform apply and destroy of the whole stack against moto.

Issue 18, point 8. Rehearses what `terraform apply` and the documented
teardown do, offline, against moto's server mode on 127.0.0.1:

  1. start `moto_server` on a free loopback port (nothing else is contacted);
  2. copy terraform/ into a temporary directory (terraform/ is never written)
     and generate there `e2e_override.tf`: every service endpoint of the aws
     provider (every configuration, aliases included) pointed at moto, fake
     credentials, and the exclusions below; and `e2e_drift_override.tf`:
     ignore_changes for the attributes moto reads back differently
     (IGNORED_DRIFT);
  3. `terraform init` (the local provider mirror when TF_PLUGIN_DIR is set,
     as `make tf-init` finds it) and `terraform apply` with the production
     variables (the defaults, plus the two that have none: github_repository
     and image_tag);
  4. a second `terraform plan` must be empty (no create, update or delete);
  5. the teardown of docs/deploy.md: apply with db_deletion_protection=false
     and alb_deletion_protection=false, then `terraform destroy`;
  6. `terraform state list` must be empty.

Everything runs under one hard deadline (TF_E2E_TIMEOUT seconds, default
1500); moto and terraform are killed when it passes.

Exclusions (moto 5.2.5 cannot serve them; docs/deploy.md lists them, and the
mock-provider tests in terraform/tests cover them):
  aws_cloudfront_origin_request_policy.api    moto has no origin request policy API
  aws_cloudfront_response_headers_policy.api  moto has no response headers policy API
  aws_cloudfront_vpc_origin.alb               moto has no VPC origin API; the e2e
                                              distribution gets a custom origin on
                                              the ALB's DNS name instead
  data.aws_security_group.cloudfront_vpc_origin  the group CloudFront creates for
  aws_vpc_security_group_ingress_rule.alb_from_vpc_origin  a VPC origin (no VPC
                                              origin in moto, so no group), and the
                                              ALB's rule that admits it
  aws_appautoscaling_target.api               the provider calls ListTagsForResource,
                                              which moto does not implement (the
                                              apply hangs in retries)
  aws_appautoscaling_policy.cpu               needs the target above
  aws_budgets_budget.monthly                  reading a budget calls Budgets'
                                              ListTagsForResource, and reading its
                                              notifications DescribeSubscribersFor-
                                              Notification; moto implements neither
                                              (the apply hangs in retries)
  aws_appautoscaling_policy.requests, .memory need the target above (issue 33)
  aws_cloudwatch_log_delivery_source,         CloudFront standard logging v2: moto
  _destination, aws_cloudwatch_log_delivery   has no Logs delivery API (issue 33)
  aws_secretsmanager_secret_rotation.db_master  applied by moto, but its
                                              CancelRotateSecret refuses a secret
                                              without a Lambda: the destroy fails

Ignored drift (IGNORED_DRIFT; moto serves the resource but reads these
attributes back otherwise than it was given, so each plan would update them
in place): the distribution's forwarded_values and ssl_support_method, the
database's Performance Insights settings, the parameter group's parameters,
three settings of the ECS service, and the description of the five security
group rules whose peer is a group or a prefix list.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF_DIR = os.path.join(ROOT, "terraform")
TF = os.environ.get("TF", "terraform")
MOTO = os.environ.get("MOTO_SERVER", "moto_server")
PLUGIN_DIR = os.environ.get("TF_PLUGIN_DIR", "").strip()
DEADLINE = time.monotonic() + float(os.environ.get("TF_E2E_TIMEOUT", "1500"))
REGION = "us-east-1"

# What moto cannot serve: (type, name, reason); "data.TYPE" for a data
# source. Removed from the copy only.
EXCLUDED = [
    ("aws_cloudfront_origin_request_policy", "api", "moto has no CloudFront origin request policy API"),
    ("aws_cloudfront_response_headers_policy", "api", "moto has no CloudFront response headers policy API"),
    ("aws_cloudfront_vpc_origin", "alb", "moto has no CloudFront VPC origin API (the distribution gets a custom origin on the ALB's DNS name)"),
    ("data.aws_security_group", "cloudfront_vpc_origin", "the security group CloudFront creates for a VPC origin: without one in moto, there is none"),
    ("aws_vpc_security_group_ingress_rule", "alb_from_vpc_origin", "admits the VPC origin's security group above"),
    ("aws_appautoscaling_target", "api", "the provider calls ListTagsForResource, which moto does not implement: the apply hangs in retries"),
    ("aws_appautoscaling_policy", "cpu", "needs aws_appautoscaling_target.api"),
    ("aws_budgets_budget", "monthly", "moto implements neither ListTagsForResource nor DescribeSubscribersForNotification for Budgets, which the provider calls to read a budget and its notifications: the apply hangs in retries"),
    ("aws_appautoscaling_policy", "requests", "needs aws_appautoscaling_target.api"),
    ("aws_appautoscaling_policy", "memory", "needs aws_appautoscaling_target.api"),
    ("aws_cloudwatch_log_delivery_source", "cloudfront", "moto has no CloudWatch Logs delivery API (PutDeliverySource): CloudFront standard logging v2"),
    ("aws_cloudwatch_log_delivery_destination", "cloudfront", "moto has no CloudWatch Logs delivery API (PutDeliveryDestination)"),
    ("aws_cloudwatch_log_delivery", "cloudfront", "moto has no CloudWatch Logs delivery API (CreateDelivery)"),
    ("aws_secretsmanager_secret_rotation", "db_master", "moto applies it, but its CancelRotateSecret (the destroy) refuses a secret without a rotation Lambda, which an RDS-managed secret never has: the teardown fails"),
]

# What moto serves but reads back otherwise than it was given, so that every
# plan after the apply would update it in place: (type, name, attributes,
# reason). The copy's override ignores these attributes' changes (lifecycle
# ignore_changes, the resource's own list kept), and the second plan must
# then be empty. The attributes are still sent on create.
IGNORED_DRIFT = [
    ("aws_cloudfront_distribution", "api",
     ["default_cache_behavior[0].forwarded_values", "viewer_certificate[0].ssl_support_method"],
     "moto returns a ForwardedValues block the distribution never sent (it uses a cache policy), "
     "and SSLSupportMethod sni-only with the default certificate"),
    ("aws_db_instance", "main",
     ["performance_insights_enabled", "performance_insights_kms_key_id", "performance_insights_retention_period"],
     "moto does not keep Performance Insights settings: they read back off"),
    ("aws_db_parameter_group", "main", ["parameter"],
     "moto's DescribeDBParameters returns parameters without a Source, which the provider skips: "
     "the group's parameters read back as none"),
    ("aws_ecs_service", "api",
     ["health_check_grace_period_seconds", "enable_ecs_managed_tags", "availability_zone_rebalancing"],
     "moto's ECS does not keep these service settings"),
] + [
    (rtype, name, ["description"],
     "moto reads back no description for a rule whose peer is a security group or a prefix list")
    for rtype, name in [
        ("aws_vpc_security_group_ingress_rule", "alb_from_cloudfront"),
        ("aws_vpc_security_group_egress_rule", "alb_to_tasks"),
        ("aws_vpc_security_group_ingress_rule", "tasks_from_alb"),
        ("aws_vpc_security_group_egress_rule", "tasks_to_db"),
        ("aws_vpc_security_group_ingress_rule", "db_from_tasks"),
    ]
]

# The distribution without the excluded policies and VPC origin: nested
# blocks in an override file replace the original's blocks of that type.
DISTRIBUTION_OVERRIDE = """
resource "aws_cloudfront_distribution" "api" {
  origin {
    origin_id   = local.origin_id
    domain_name = aws_lb.api.dns_name

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "http-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  default_cache_behavior {
    target_origin_id       = local.origin_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    cache_policy_id        = local.cache_policy_caching_disabled
  }
}
"""

PRODUCTION_VARS = {
    "github_repository": "example-org/snippetd",
    "image_tag": "3f1c2a9d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b",
}
TEARDOWN_VARS = {"db_deletion_protection": "false", "alb_deletion_protection": "false"}


def log(msg):
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} tf-e2e: {msg}", flush=True)


def remaining():
    left = DEADLINE - time.monotonic()
    if left <= 0:
        raise TimeoutError("the hard time limit (TF_E2E_TIMEOUT) has passed")
    return left


def run(args, cwd, env, capture=False, check=True):
    """Runs a command in its own process group, killed at the deadline."""
    log("+ " + " ".join(args))
    proc = subprocess.Popen(args, cwd=cwd, env=env, start_new_session=True,
                            stdout=subprocess.PIPE if capture else None, text=True)
    try:
        out, _ = proc.communicate(timeout=remaining())
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise TimeoutError(f"{args[0]} {args[1] if len(args) > 1 else ''} was still running at the hard time limit: killed")
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} exited {proc.returncode}")
    return out, proc.returncode


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(workdir):
    port = free_port()
    logf = open(os.path.join(workdir, "moto.log"), "w")
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited {proc.returncode}: see {logf.name}")
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        raise RuntimeError("moto_server did not answer within 30 s")
    log(f"moto_server {url} (pid {proc.pid}, log {logf.name})")
    return proc, url


def find_block(text, rtype, name):
    """The span (start, end) of `resource "rtype" "name" { ... }` (or
    `data "TYPE" "name"` for rtype "data.TYPE") in HCL text, None if absent
    (braces outside strings and comments are counted)."""
    kind, rtype = ("data", rtype[5:]) if rtype.startswith("data.") else ("resource", rtype)
    m = re.search(r'^%s\s+"%s"\s+"%s"\s*\{' % (kind, re.escape(rtype), re.escape(name)), text, re.M)
    if not m:
        return None
    i, depth, in_str, n = m.end(), 1, False, len(text)
    while i < n and depth:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "#" or (c == "/" and text[i + 1:i + 2] == "/"):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    return m.start(), i


def strip_blocks(text, rtype, name):
    """Removes the block find_block finds. Returns (text, removed)."""
    span = find_block(text, rtype, name)
    if span is None:
        return text, False
    return text[:span[0]] + text[span[1]:], True


def drift_override(copy):
    """`lifecycle { ignore_changes }` for IGNORED_DRIFT, each resource's own
    ignore_changes kept (an override replaces the list, it does not add)."""
    files = {f: open(os.path.join(copy, f)).read() for f in sorted(os.listdir(copy))
             if f.endswith(".tf") and not f.endswith("_override.tf")}
    out = []
    for rtype, name, attrs, reason in IGNORED_DRIFT:
        for f, text in files.items():
            span = find_block(text, rtype, name)
            if span is not None:
                break
        else:
            raise RuntimeError(f"{rtype}.{name} not found in terraform/: update IGNORED_DRIFT in {__file__}")
        own = re.search(r'\bignore_changes\s*=\s*(all\b|\[([^\]]*)\])', text[span[0]:span[1]])
        if own and own.group(1) == "all":
            continue
        kept = re.findall(r'[A-Za-z0-9_.\[\]"]+', re.sub(r'#[^\n]*|//[^\n]*', '', own.group(2))) if own else []
        ignore = kept + [a for a in attrs if a not in kept]
        out.append('resource "%s" "%s" {\n  lifecycle {\n    ignore_changes = [%s]\n  }\n}\n'
                   % (rtype, name, ", ".join(ignore)))
        log(f"ignored drift {rtype}.{name} ({', '.join(attrs)}): {reason}")
    return "".join(out)


def prepare_copy(workdir, moto_url):
    copy = os.path.join(workdir, "terraform")
    shutil.copytree(TF_DIR, copy, ignore=shutil.ignore_patterns(
        ".terraform", "*.tfstate", "*.tfstate.*", "*.tfplan", "*.tfvars", "tests", "backend.tf", "*_override.tf"))
    for rtype, name, reason in EXCLUDED:
        for f in sorted(os.listdir(copy)):
            if not f.endswith(".tf"):
                continue
            path = os.path.join(copy, f)
            with open(path) as fh:
                text, removed = strip_blocks(fh.read(), rtype, name)
            if removed:
                with open(path, "w") as fh:
                    fh.write(text)
                log(f"excluded {rtype}.{name} ({f}): {reason}")
                break
        else:
            raise RuntimeError(f"{rtype}.{name} not found in terraform/: update EXCLUDED in {__file__}")

    names = endpoint_names(copy)
    # Some endpoint names are aliases of one service (logs, cloudwatchlog,
    # cloudwatchlogs): the provider warns when more than one is set, and only
    # says so when it is configured. A probe configuration (the provider and
    # one data source) finds the groups; the first name of each is kept.
    probe = os.path.join(workdir, "probe")
    os.makedirs(probe)
    write_override(probe, moto_url, names, distribution=False)
    with open(os.path.join(probe, "main.tf"), "w") as fh:
        fh.write('terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
                 'variable "aws_region" {\n  default = "%s"\n}\nprovider "aws" {\n  region = var.aws_region\n}\n'
                 'provider "aws" {\n  alias  = "password_generator"\n  region = var.aws_region\n}\n'
                 'data "aws_region" "probe" {}\n' % REGION)
    shutil.copy(os.path.join(copy, ".terraform.lock.hcl"), probe)
    env = tf_env(probe)
    run([TF, "init", "-backend=false", "-input=false"] + (["-plugin-dir=" + PLUGIN_DIR] if PLUGIN_DIR else []),
        probe, env, capture=True)
    out, _ = run([TF, "plan", "-json"], probe, env, capture=True)
    drop = set()
    for line in out.splitlines():
        diag = json.loads(line).get("diagnostic") or {}
        group = re.findall(r'"endpoints\[0\]\.([a-z0-9]+)"', diag.get("detail", ""))
        if diag.get("summary") == "Invalid Attribute Combination" and len(group) > 1:
            drop.update(group[1:])
    names = [n for n in names if n not in drop]
    write_override(copy, moto_url, names)
    with open(os.path.join(copy, "e2e_drift_override.tf"), "w") as fh:
        fh.write("# Generated by terraform-e2e/run.py: attributes moto reads back differently.\n"
                 + drift_override(copy))
    log(f"{len(names)} service endpoints of the aws provider (every service, one name each; "
        f"{len(drop)} aliases left out) -> {moto_url}")
    return copy


def write_override(copy, moto_url, names, distribution=True):
    endpoints = "\n".join(f'    {k} = "{moto_url}"' for k in names)
    provider = """
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false

  endpoints {
%s
  }
""" % endpoints
    # Every provider configuration of the stack, aliases included (read from
    # versions.tf): one left out would talk to real AWS.
    versions = os.path.join(copy, "versions.tf")
    text = open(versions).read() if os.path.exists(versions) else 'alias = "password_generator"'
    aliases = re.findall(r'^\s*alias\s*=\s*"([^"]+)"', text, re.M)
    blocks = ['provider "aws" {%s}\n' % provider]
    blocks += ['provider "aws" {\n  alias = "%s"\n%s}\n' % (a, provider) for a in aliases]
    override = ("# Generated by terraform-e2e/run.py for the moto rehearsal; never in terraform/.\n"
                + "\n".join(blocks) + (DISTRIBUTION_OVERRIDE if distribution else ""))
    with open(os.path.join(copy, "e2e_override.tf"), "w") as fh:
        fh.write(override)


def endpoint_names(copy):
    """Every endpoint the provider knows, from its own schema (so a new
    provider version's services are covered too)."""
    env = tf_env(copy)
    run([TF, "init", "-backend=false", "-input=false"] + (["-plugin-dir=" + PLUGIN_DIR] if PLUGIN_DIR else []),
        copy, env, capture=True)
    out, _ = run([TF, "providers", "schema", "-json"], copy, env, capture=True)
    schema = json.loads(out)["provider_schemas"]["registry.terraform.io/hashicorp/aws"]
    return sorted(schema["provider"]["block"]["block_types"]["endpoints"]["block"]["attributes"])


def tf_env(copy):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    if not os.path.exists(env.get("TF_CLI_CONFIG_FILE", "")):
        env.pop("TF_CLI_CONFIG_FILE", None)
    env.update(TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1",
               AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION,
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               TF_CLI_ARGS_apply="-parallelism=4 -no-color", TF_CLI_ARGS_destroy="-no-color",
               TF_CLI_ARGS_plan="-no-color", TF_CLI_ARGS_init="-no-color")
    return env


def var_args(values):
    return [f"-var={k}={v}" for k, v in values.items()]


def state_list(copy, env):
    out, _ = run([TF, "state", "list"], copy, env, capture=True)
    return [line for line in out.splitlines() if line.strip()]


def managed(resources):
    return [r for r in resources if not r.startswith("data.")]


def main():
    start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="tf-e2e-")
    moto = None
    ok = False
    try:
        moto, url = start_moto(workdir)
        copy = prepare_copy(workdir, url)
        env = tf_env(copy)

        run([TF, "apply", "-auto-approve"] + var_args(PRODUCTION_VARS), copy, env)
        applied = managed(state_list(copy, env))
        log(f"applied: {len(applied)} resources")

        run([TF, "plan", "-out=second.tfplan"] + var_args(PRODUCTION_VARS), copy, env, capture=True)
        out, _ = run([TF, "show", "-json", "second.tfplan"], copy, env, capture=True)
        changes = json.loads(out).get("resource_changes", [])
        bad = [f"{c['address']}: {'/'.join(c['change']['actions'])}" for c in changes
               if c["change"]["actions"] not in (["no-op"], ["read"])]
        if bad:
            raise RuntimeError("the second plan is not empty: " + "; ".join(bad))
        log(f"second plan: no changes ({len(changes)} resources unchanged)")

        # The documented teardown: deletion protection off, then destroy.
        run([TF, "apply", "-auto-approve"] + var_args({**PRODUCTION_VARS, **TEARDOWN_VARS}), copy, env)
        run([TF, "destroy", "-auto-approve"] + var_args({**PRODUCTION_VARS, **TEARDOWN_VARS}), copy, env)
        left = state_list(copy, env)
        if managed(left):
            raise RuntimeError("the state is not empty after destroy: " + ", ".join(left))
        log(f"destroyed: {len(applied)} resources; the state is empty")
        ok = True
    except (RuntimeError, TimeoutError) as e:
        log(f"FAILED: {e}")
    finally:
        if moto is not None and moto.poll() is None:
            os.killpg(moto.pid, signal.SIGTERM)
            try:
                moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(moto.pid, signal.SIGKILL)
        wall = time.monotonic() - start
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
            log(f"passed in {wall:.0f} s (excluded: {', '.join(t + '.' + n for t, n, _ in EXCLUDED)})")
        else:
            log(f"failed after {wall:.0f} s; the copy, its state and moto.log are in {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
