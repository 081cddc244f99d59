"""The repository's local AWS emulator: moto's server with emulation rules that make it behave like AWS.

This is a TEST FIXTURE, a local stand-in for AWS used by the integration tests, `make demo` and `make bench`.
Nothing here is product behaviour: the provisioner has no special case for it, and everything it does is
meant to reproduce what real AWS does (see shared/design/aws-behaviour.md, sections 1a-1b), so code that
works against it has a chance of working against AWS.

Run through `scripts/emulator` (which installs the pinned moto first); it is a drop-in for `moto_server`:
same arguments (`-H HOST -p PORT`, ...), same environment, runs in the foreground until killed.

What it changes in moto (ECS, RDS, Route 53, ACM, IPv6 in EC2 and ELBv2, S3 bucket tags at create and
OIDC provider client ids in IAM; every other service is moto as
it is):
  * Services go through deployments as on AWS. CreateService starts one PRIMARY deployment (IN_PROGRESS,
    running 0, pending = desired). Each DescribeServices that returns the service is one *poll*; the N-th
    poll after a deployment starts (N = EMULATOR_ECS_POLLS, default 2) finds it COMPLETED with
    running = desired, its tasks RUNNING (ListTasks/DescribeTasks), older deployments gone and AWS's events.
    UpdateService with a new task definition, forceNewDeployment or a new network configuration, load
    balancers or platform version starts a NEW PRIMARY deployment (the previous one becomes ACTIVE); a
    desiredCount-only change scales the primary deployment (running catches up after N polls).
  * UpdateService applies every updatable field; DescribeServices returns the fields AWS returns, with AWS's
    defaults (deploymentConfiguration 200/100 and a disabled circuit breaker, platformVersion LATEST on
    FARGATE, healthCheckGracePeriodSeconds 0, ...).
  * DeleteService: DRAINING for EMULATOR_ECS_DRAIN_POLLS describes (default 1), then INACTIVE (still
    described, no longer listed); re-creating the name while DRAINING, or while ACTIVE without the same
    clientToken, is "InvalidParameterException: Creation of service was not idempotent.".
  * RegisterTaskDefinition adds the container-definition defaults AWS adds.
  * ListServiceDeployments answers (moto has no handler: it was a 500).
  * ListTasks defaults to desiredStatus RUNNING and filters by serviceName, as AWS does.

  * RDS DB instances take time, as on AWS (moto answers `available` at once and applies a modify at once).
    Each DescribeDBInstances that returns an instance is one *poll*; N = EMULATOR_RDS_POLLS (default 2).
    CreateDBInstance answers `creating`; the instance is `backing-up` at poll N-1 and `available` at poll
    N. ModifyDBInstance keeps the values AWS defers (class, storage, port, backup retention, Multi-AZ,
    engine version, storage type, subnet group, IOPS, password) in PendingModifiedValues: with
    ApplyImmediately the instance is `modifying` and applies them at poll N (then `available`, nothing
    pending); without, they stay pending (status `available`) until a later modify with ApplyImmediately,
    as until AWS's maintenance window. DeleteDBInstance needs SkipFinalSnapshot or
    FinalDBSnapshotIdentifier (InvalidParameterCombination otherwise, as AWS), answers `deleting`, and the
    instance is DBInstanceNotFound from poll N on; deleting it again meanwhile is InvalidDBInstanceState.
    A major-only EngineVersion ("16") becomes AWS's default minor of it ("16.4"). Instances get distinct
    DbiResourceIds.
  * ManageMasterUserPassword: moto's Secrets Manager secret holds {"username": <the master user>,
    "password": <random>} (moto writes "admin"/a fixed password), and its KMS key is AWS's default key ARN.
  * ResetDBParameterGroup answers (moto has no handler): resets the named parameters, or all of them.
  * DeleteDBParameterGroup / DeleteDBSubnetGroup are refused while an instance (one being deleted too) uses
    the group (InvalidDBParameterGroupState / InvalidDBSubnetGroupStateFault), as on AWS.

  * Route 53 changes take time, as on AWS (moto answers INSYNC at once, with one fixed change id):
    CreateHostedZone and ChangeResourceRecordSets answer a new change id, PENDING, which GetChange reports
    INSYNC from its N-th poll on (N = EMULATOR_ROUTE53_POLLS, default 1); an unknown id is NoSuchChange.
    CreateHostedZone with a CallerReference already used is HostedZoneAlreadyExists (moto made a second
    zone). A CREATE of a record set that exists (same name, type and set identifier) is InvalidChangeBatch
    "Tried to create resource record set [...] but it already exists", a DELETE of one that does not is
    "... but it was not found" (moto checked neither the way AWS does).
  * IAM: AWS's managed policies (ReadOnlyAccess, PowerUserAccess, …) exist, as in every AWS account
    (moto loads them only with MOTO_IAM_LOAD_MANAGED_POLICIES=true, which this fixture sets by default).
  * ACM: a DNS-validated certificate is issued MOTO_ACM_VALIDATION_WAIT seconds after its request; moto's
    default is 60, this fixture's is 1 (a fixture setting: set the variable to change it). DescribeCertificate
    reports the KeyAlgorithm requested (moto: always RSA_2048), InUseBy the load balancers whose ELBv2
    listeners use the certificate, and DeleteCertificate of a certificate in use is ResourceInUseException,
    as on AWS (moto's ELBv2 never told ACM).

  * EC2: DescribeSubnets / CreateSubnet report a subnet's IPv6 CIDR block association state as AWS does,
    `<ipv6CidrBlockState><state>associated</state>` (moto nested its whole state dict in there, which no
    SDK parses as a state).
  * ELBv2: CreateLoadBalancer / SetIpAddressType with IpAddressType `dualstack` need every subnet to have an
    associated IPv6 CIDR block: "ValidationError: You must specify subnets with an associated IPv6 CIDR
    block.", as on AWS (moto accepted any subnet).

  * S3: CreateBucket applies the Tags of its CreateBucketConfiguration to the new bucket, as AWS does
    (moto ignored them); GetBucketVersioning answers `<VersioningConfiguration>` as AWS does (moto's
    `<GetBucketVersioningResponse>` root is refused by the SDKs); DeleteObjects removes delete markers (moto
    failed with a 500 on a key whose versions it emptied). A bucket policy's statement applies only when its
    conditions match, and requests carry aws:SecureTransport = true (the emulator stands in for S3's HTTPS
    endpoints): moto denied every request to a bucket with the usual TLS-only policy. A lifecycle rule keeps
    its NoncurrentVersionExpiration.NewerNoncurrentVersions (moto dropped it).
  * IAM: AddClientIDToOpenIDConnectProvider / RemoveClientIDFromOpenIDConnectProvider answer (moto has no
    handlers: they were errors); adding an id already there or removing one absent is no change, as on AWS.

Control endpoint, for tests (handled before moto's dispatcher):
  POST   /_emulator/ecs  {"service": NAME or "*", "mode": "complete"|"fail"|"stuck", "polls": N,
                          "stopped_reasons": [...]}   behaviour of the NEXT deployments of matching services
  GET    /_emulator/ecs  the rules;   DELETE /_emulator/ecs  clears them (so does POST /moto-api/reset).
  POST   /_emulator/rds  {"identifier": ID or "*", "mode": "complete"|"fail"|"stuck", "polls": N,
                          "status": STATUS}   behaviour of the NEXT create/modify/delete of matching
                          instances: "stuck" keeps `creating`/`modifying`/`deleting` while the rule says
                          so (changing it lets the operation go on, as the new rule says); "fail" ends in
                          STATUS at poll N (default `failed` for create and delete, `incompatible-parameters`
                          for a modify)
  GET    /_emulator/rds  the rules;   DELETE /_emulator/rds  clears them (so does POST /moto-api/reset).

  POST   /_emulator/route53  {"name": DNS NAME or "*", "mode": "complete"|"stuck", "polls": N}   behaviour of
                          the NEXT changes touching that name (a record's name, or the zone's): INSYNC at the
                          N-th GetChange, or PENDING while the rule stays "stuck"
  POST   /_emulator/acm  {"domain": DOMAIN or "*", "mode": "complete"|"fail"|"stuck", "seconds": N,
                          "pending": [DOMAIN...], "record_polls": N}   behaviour of the NEXT certificates
                          requested for that domain name: ISSUED (or FAILED) N seconds after the request
                          (default MOTO_ACM_VALIDATION_WAIT), or PENDING_VALIDATION while the rule stays "stuck";
                          "pending" limits the domains left pending/failed (the others SUCCESS); the first
                          "record_polls" DescribeCertificate answers lack the validation ResourceRecords, as
                          AWS's do for a few seconds
  GET / DELETE on both, as above (POST /moto-api/reset clears them too).

Environment: EMULATOR_ECS_POLLS, EMULATOR_ECS_DRAIN_POLLS, EMULATOR_RDS_POLLS, EMULATOR_ROUTE53_POLLS,
MOTO_ACM_VALIDATION_WAIT (default 1 here), EMULATOR_EXIT_WITH_PARENT=1
(exit when the process that started the emulator dies: used by the Rust test harness). moto's own variables
pass through.
"""

import copy
import json
import os
import sys
import threading
import time
import uuid

import moto.server
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from moto.ecs.exceptions import ECSException, InvalidParameterException
from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.rds.exceptions import DBInstanceNotFoundError, DBParameterGroupNotFoundError, RDSClientError
from moto.core.parse import XFormedDict
from moto.core.responses import PaginatedResult

Backend = ecs_models.EC2ContainerServiceBackend
Response = ecs_responses.EC2ContainerServiceResponse

# moto's server is threaded: every emulated ECS operation runs under this lock.
LOCK = threading.RLock()

MODES = ("complete", "fail", "stuck")
DEFAULT_FAIL_REASON = "Essential container in task exited"
# How many stopped tasks one deployment keeps at most (a stuck deployment would otherwise grow for ever).
MAX_STOPPED_PER_DEPLOYMENT = 20


def env_int(name, default):
    try:
        return max(int(os.environ.get(name, default)), 0)
    except ValueError:
        return default


# ---------------------------------------------------------------------------------------------- rules
class Rules:
    """Behaviour of the next deployments, by service name ("*" = any); the exact name wins over "*"."""

    def __init__(self):
        self.rules = {}

    def set(self, body):
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - {"service", "mode", "polls", "stopped_reasons"}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        service = body.get("service", "*")
        mode = body.get("mode", "complete")
        if not isinstance(service, str) or not service:
            raise ValueError('"service" must be a service name or "*"')
        if mode not in MODES:
            raise ValueError(f'"mode" must be one of {list(MODES)}')
        polls = body.get("polls")
        if polls is not None and (not isinstance(polls, int) or isinstance(polls, bool) or polls < 0):
            raise ValueError('"polls" must be a whole number >= 0')
        reasons = body.get("stopped_reasons")
        if reasons is not None and (not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons)):
            raise ValueError('"stopped_reasons" must be a list of strings')
        rule = {"service": service, "mode": mode}
        if polls is not None:
            rule["polls"] = polls
        if reasons is not None:
            rule["stopped_reasons"] = reasons
        self.rules[service] = rule
        return rule

    def for_service(self, name):
        rule = self.rules.get(name) or self.rules.get("*") or {"mode": "complete"}
        mode = rule["mode"]
        reasons = rule.get("stopped_reasons") or []
        if not reasons and mode == "fail":
            reasons = [DEFAULT_FAIL_REASON]
        polls = rule.get("polls", env_int("EMULATOR_ECS_POLLS", 2))
        return {"mode": mode, "polls": polls, "reasons": list(reasons)}

    def list(self):
        return [self.rules[k] for k in sorted(self.rules)]

    def clear(self):
        self.rules.clear()


RULES = Rules()


# ---------------------------------------------------------------------------------------------- tasks
class ServiceTask(ecs_models.Task):
    """A task the service scheduler started: it stays as the emulator sets it (moto's own tasks advance
    their lifecycle on every DescribeTasks)."""

    __module__ = "moto.ecs.models"  # moto's model registry derives the service name from the module

    def advance(self):
        pass


class _TaskDefView:
    """What moto's Task constructor reads of a task definition, without awsvpc (no ENI is created)."""

    def __init__(self, td):
        self.arn = td.arn
        self.network_mode = None
        self.container_definitions = td.container_definitions


def stop_code(reason):
    if reason.startswith("Essential container"):
        return "EssentialContainerExited"
    if reason.startswith("Scaling activity") or reason.startswith("Service "):
        return "ServiceSchedulerInitiated"
    return "TaskFailedToStart"


def start_task(backend, service, deployment):
    cluster = backend.clusters[service.cluster_name]
    td = backend.describe_task_definition(deployment["taskDefinition"])
    task = ServiceTask(
        cluster,
        _TaskDefView(td),
        None,
        None,
        backend,
        group=f"service:{service.name}",
        launch_type=service.launch_type or "",
        started_by=deployment["id"],
        platform_version=deployment.get("platformVersion"),
    )
    now = utcnow()
    task.created_at = now
    task.started_at = now
    task.health_status = "UNKNOWN"
    task.containers[0].last_status = "RUNNING"
    task.last_status = "RUNNING"
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
    return task


def stop_task(task, reason):
    now = utcnow()
    task.desired_status = "STOPPED"
    task.last_status = "STOPPED"
    task.stopped_reason = reason
    task.stop_code = stop_code(reason)
    task.stopping_at = now
    task.stopped_at = now
    task.containers[0].last_status = "STOPPED"
    if reason.startswith("Essential container"):
        task.containers[0].exitCode = 1


def service_tasks(backend, service, deployment_id=None, status="RUNNING"):
    return [
        t
        for t in backend.tasks.get(service.cluster_name, {}).values()
        if isinstance(t, ServiceTask)
        and t.group == f"service:{service.name}"
        and t.desired_status == status
        and (deployment_id is None or t.started_by == deployment_id)
    ]


def task_id(task):
    return task.task_arn.split("/")[-1]


# ---------------------------------------------------------------------------------------------- services
def event(service, message):
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": f"(service {service.name}) {message}"})
    del service.events[100:]


def new_deployment(service, task_definition, behaviour=None):
    """A PRIMARY deployment at the head of service.deployments (the previous PRIMARY becomes ACTIVE)."""
    for d in service.deployments:
        d["status"] = "ACTIVE"
    dep_id = f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"
    now = utcnow()
    behaviour = behaviour or RULES.for_service(service.name)
    deployment = {
        "id": dep_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": service.desired_count,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": service.launch_type,
        "platformVersion": service.platform_version,
        "platformFamily": "Linux" if service.launch_type == "FARGATE" else None,
        "networkConfiguration": copy.deepcopy(service.network_configuration) or None,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {dep_id} in progress.",
        # The emulator's own bookkeeping (not in the Deployment shape, so never serialised):
        "_mode": behaviour["mode"],
        "_polls_needed": behaviour["polls"],
        "_reasons": behaviour["reasons"],
        "_polls": 0,
        "_stopped": 0,
    }
    service.deployments.insert(0, deployment)
    service._emu_history.insert(0, deployment)
    refresh_counts(service)
    return deployment


def refresh_counts(service):
    service.running_count = sum(d["runningCount"] for d in service.deployments)
    service.pending_count = sum(d["pendingCount"] for d in service.deployments)


def stopped_along_the_way(backend, service, deployment):
    """One stopped task per poll carrying the next of the deployment's stopped reasons, if it has any."""
    reasons = deployment["_reasons"]
    if not reasons or deployment["_stopped"] >= MAX_STOPPED_PER_DEPLOYMENT:
        return
    task = start_task(backend, service, deployment)
    stop_task(task, reasons[deployment["_stopped"] % len(reasons)])
    deployment["_stopped"] += 1
    deployment["failedTasks"] += 1


def scale_to(backend, service, deployment, count, reason):
    """Starts or stops the deployment's tasks until it runs `count`; returns the tasks started."""
    running = service_tasks(backend, service, deployment["id"])
    started = [start_task(backend, service, deployment) for _ in range(count - len(running))]
    for task in running[count:] if count < len(running) else []:
        stop_task(task, reason)
    deployment["runningCount"] = count
    deployment["pendingCount"] = 0
    deployment["updatedAt"] = utcnow()
    return started


def started_event(service, tasks):
    if tasks:
        n = len(tasks)
        listed = " ".join(f"(task {task_id(t)})" for t in tasks)
        event(service, f"has started {n} task{'s' if n != 1 else ''}: {listed}.")


def complete(backend, service, deployment):
    started = scale_to(backend, service, deployment, service.desired_count, "")
    deployment["rolloutState"] = "COMPLETED"
    deployment["rolloutStateReason"] = f"ECS deployment {deployment['id']} completed."
    started_event(service, started)
    # The older deployments' tasks are replaced, then those deployments are gone.
    for old in service.deployments[1:]:
        for task in service_tasks(backend, service, old["id"]):
            stop_task(task, f"Scaling activity initiated by (deployment {deployment['id']})")
        old["runningCount"] = 0
    del service.deployments[1:]
    event(service, f"(deployment {deployment['id']}) deployment completed.")
    event(service, "has reached a steady state.")


def fail(backend, service, deployment):
    # The circuit breaker trips after at least 3 failed tasks (AWS: half the desired count, 3 to 200).
    while deployment["_stopped"] < 3:
        stopped_along_the_way(backend, service, deployment)
    deployment["failedTasks"] = max(deployment["failedTasks"], 3)
    deployment["rolloutState"] = "FAILED"
    deployment["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
    deployment["runningCount"] = 0
    deployment["pendingCount"] = 0
    deployment["updatedAt"] = utcnow()
    for task in service_tasks(backend, service, deployment["id"]):
        stop_task(task, deployment["_reasons"][0] if deployment["_reasons"] else DEFAULT_FAIL_REASON)
    event(service, f"(deployment {deployment['id']}) deployment failed: tasks failed to start.")
    breaker = (service.deployment_configuration or {}).get("deploymentCircuitBreaker") or {}
    previous = next((d for d in service.deployments[1:] if d["taskDefinition"]), None)
    if breaker.get("rollback") and previous is not None:
        event(service, f"rolling back to deployment {previous['id']}.")
        service.task_definition = previous["taskDefinition"]
        # The rollback is a deployment of the previous revision; it completes with the default behaviour.
        rollback = new_deployment(service, previous["taskDefinition"], behaviour={
            "mode": "complete", "polls": env_int("EMULATOR_ECS_POLLS", 2), "reasons": []})
        deployment["_rolled_back"] = True
        rollback["_rollback_of"] = deployment["id"]


def advance(backend, service):
    """One poll of `service` (a DescribeServices that returns it)."""
    if service.status == "DRAINING":
        if service._emu_drained >= env_int("EMULATOR_ECS_DRAIN_POLLS", 1):
            for task in service_tasks(backend, service):
                stop_task(task, f"Service {service.name} deleted")
            for d in service.deployments:
                d["runningCount"] = d["pendingCount"] = d["desiredCount"] = 0
            service.status = "INACTIVE"
            refresh_counts(service)
        service._emu_drained += 1
        return
    if service.status != "ACTIVE" or not service.deployments:
        return
    primary = service.deployments[0]
    if primary["rolloutState"] == "FAILED":
        return
    if primary["rolloutState"] == "COMPLETED" and primary["runningCount"] == service.desired_count:
        return
    primary["_polls"] += 1
    mode = primary["_mode"] if primary["rolloutState"] == "IN_PROGRESS" else "complete"
    if primary["_polls"] < primary["_polls_needed"] or mode == "stuck":
        if primary["rolloutState"] == "IN_PROGRESS":
            stopped_along_the_way(backend, service, primary)
        refresh_counts(service)
        return
    if mode == "fail":
        fail(backend, service, primary)
    elif primary["rolloutState"] == "IN_PROGRESS":
        complete(backend, service, primary)
    else:
        # A desiredCount change of a completed deployment: running catches up.
        before = primary["runningCount"]
        started = scale_to(backend, service, primary, service.desired_count, "Scaling activity initiated by (deployment "
                           f"{primary['id']})")
        started_event(service, started)
        if service.desired_count < before:
            n = before - service.desired_count
            event(service, f"has stopped {n} running task{'s' if n != 1 else ''}.")
        event(service, "has reached a steady state.")
    refresh_counts(service)


DEPLOYMENT_CONFIGURATION_DEFAULT = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def merged_deployment_configuration(current, given):
    merged = copy.deepcopy(current or DEPLOYMENT_CONFIGURATION_DEFAULT)
    for key, value in (given or {}).items():
        merged[key] = copy.deepcopy(value)
    return merged


# ---------------------------------------------------------------------------------------------- patches
def not_idempotent():
    return InvalidParameterException("Creation of service was not idempotent.")


class ServiceNotActiveException(ECSException):
    def __init__(self):
        super().__init__("ServiceNotActiveException", "Service was not ACTIVE.")


orig_create_service = Response.create_service
orig_describe_services = Backend.describe_services
orig_list_services = Backend.list_services
orig_list_tasks = Backend.list_tasks
orig_register_task_definition = Backend.register_task_definition


def create_service(self):
    with LOCK:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        name = self._get_param("serviceName")
        token = self._get_param("clientToken")
        existing = backend.services.get(f"{cluster.name}:{name}")
        if existing is not None and existing.status == "ACTIVE":
            if token and existing._emu_token == token:
                return ActionResult({"service": existing})
            raise not_idempotent()
        if existing is not None and existing.status == "DRAINING":
            raise not_idempotent()
        result = orig_create_service(self)
        service = backend.services[f"{cluster.name}:{name}"]
        service._emu_token = token
        service._emu_drained = 0
        service._emu_history = []
        service.created_at = utcnow()
        service.events = []
        service.deployment_configuration = merged_deployment_configuration(None, self._get_param("deploymentConfiguration"))
        grace = self._get_param("healthCheckGracePeriodSeconds")
        service.health_check_grace_period_seconds = grace if grace is not None else 0
        service.enable_execute_command = bool(self._get_param("enableExecuteCommand", False))
        service.enable_ecs_managed_tags = bool(self._get_param("enableECSManagedTags", False))
        service.placement_constraints = self._get_param("placementConstraints") or []
        service.placement_strategy = self._get_param("placementStrategy") or []
        service.capacity_provider_strategy = self._get_param("capacityProviderStrategy")
        if service.launch_type == "FARGATE" and not service.platform_version:
            service.platform_version = "LATEST"
        service.platform_family = "Linux" if service.launch_type == "FARGATE" else None
        service.deployments = []
        if service.deployment_controller.get("type", "ECS") == "ECS" and service.task_definition:
            new_deployment(service, service.task_definition)
        else:
            refresh_counts(service)
        return result


def update_service(self):
    with LOCK:
        backend = self.ecs_backend
        service = backend._get_service(self._get_param("cluster", "default"), self._get_param("service"))
        if service.status != "ACTIVE":
            raise ServiceNotActiveException()
        p = self._get_param
        deploy = bool(p("forceNewDeployment", False))
        td = p("taskDefinition")
        if td is not None:
            arn = backend.describe_task_definition(td).arn
            deploy |= arn != service.task_definition
            service.task_definition = arn
        nc = p("networkConfiguration")
        if nc is not None:
            service._validate_network(nc)
            deploy |= nc != service.network_configuration
            service.network_configuration = nc
        lbs = p("loadBalancers")
        if lbs is not None:
            deploy |= lbs != service.load_balancers
            service.load_balancers = lbs
        pv = p("platformVersion")
        if pv is not None:
            deploy |= pv != service.platform_version
            service.platform_version = pv
        if p("deploymentConfiguration") is not None:
            service.deployment_configuration = merged_deployment_configuration(
                service.deployment_configuration, p("deploymentConfiguration"))
        for param, attr in [
            ("healthCheckGracePeriodSeconds", "health_check_grace_period_seconds"),
            ("enableExecuteCommand", "enable_execute_command"),
            ("enableECSManagedTags", "enable_ecs_managed_tags"),
            ("propagateTags", "propagate_tags"),
            ("placementConstraints", "placement_constraints"),
            ("placementStrategy", "placement_strategy"),
            ("capacityProviderStrategy", "capacity_provider_strategy"),
            ("serviceRegistries", "service_registries"),
        ]:
            if p(param) is not None:
                setattr(service, attr, p(param))
        desired = self._get_int_param("desiredCount")
        if desired is not None:
            service.desired_count = desired
        if deploy and service.deployment_controller.get("type", "ECS") == "ECS":
            new_deployment(service, service.task_definition)
        elif desired is not None and service.deployments:
            primary = service.deployments[0]
            primary["desiredCount"] = desired
            primary["pendingCount"] = max(desired - primary["runningCount"], 0)
            primary["_polls"] = 0
            primary["updatedAt"] = utcnow()
            refresh_counts(service)
        return ActionResult({"service": service})


def delete_service(self):
    with LOCK:
        backend = self.ecs_backend
        service = backend._get_service(self._get_param("cluster", "default"), self._get_param("service"))
        if service.status != "ACTIVE":
            raise ServiceNotActiveException()
        if service.desired_count > 0 and not self._get_param("force", False):
            raise InvalidParameterException("The service cannot be stopped while it is scaled above 0.")
        service.status = "DRAINING"
        service.desired_count = 0
        service._emu_drained = 0
        for d in service.deployments:
            d["desiredCount"] = 0
        return ActionResult({"service": service})


def list_service_deployments(self):
    status_of = {"COMPLETED": "SUCCESSFUL", "IN_PROGRESS": "IN_PROGRESS", "FAILED": "STOPPED"}
    with LOCK:
        backend = self.ecs_backend
        service = backend._get_service(self._get_param("cluster", "default"), self._get_param("service"))
        wanted = self._get_param("status") or []
        answer = []
        for d in service._emu_history:
            status = status_of[d["rolloutState"]]
            if d.get("_rolled_back"):
                status = "ROLLBACK_SUCCESSFUL"
            elif d["rolloutState"] == "IN_PROGRESS" and d not in service.deployments:
                status = "STOPPED"
            if wanted and status not in wanted:
                continue
            answer.append({
                "serviceDeploymentArn": service.arn.replace(":service/", ":service-deployment/") + "/" + d["id"].split("/")[-1],
                "serviceArn": service.arn,
                "clusterArn": service.cluster_arn,
                "createdAt": d["createdAt"],
                "startedAt": d["createdAt"],
                "finishedAt": d["updatedAt"] if status != "IN_PROGRESS" else None,
                "status": status,
            })
        return ActionResult({"serviceDeployments": answer})


def describe_services(self, cluster_str, service_names_or_arns):
    with LOCK:
        services, failures = orig_describe_services(self, cluster_str, service_names_or_arns)
        for service in services:
            if hasattr(service, "_emu_history"):
                advance(self, service)
        return services, failures


def list_services(self, cluster_str, scheduling_strategy=None, launch_type=None):
    with LOCK:
        arns = orig_list_services(self, cluster_str, scheduling_strategy, launch_type=launch_type)
        inactive = {s.arn for s in self.services.values() if s.status == "INACTIVE"}
        return [a for a in arns if a not in inactive]


def list_tasks(self, cluster_str=None, container_instance=None, family=None, started_by=None, service_name=None,
               desiredStatus=None):
    with LOCK:
        tasks = orig_list_tasks(self, cluster_str, container_instance, family, started_by, None, desiredStatus or "RUNNING")
        if service_name:
            tasks = [t for t in tasks if t.group == f"service:{service_name.split('/')[-1]}"]
        return tasks


def with_container_defaults(definition, network_mode):
    """The defaults AWS adds to a container definition (moto adds cpu, essential, environment, mountPoints,
    portMappings and volumesFrom itself)."""
    d = copy.deepcopy(definition)
    d.setdefault("systemControls", [])
    for pm in d.get("portMappings") or []:
        pm.setdefault("protocol", "tcp")
        if network_mode == "awsvpc" and "containerPort" in pm:
            pm.setdefault("hostPort", pm["containerPort"])
    hc = d.get("healthCheck")
    if hc:
        hc.setdefault("interval", 30)
        hc.setdefault("timeout", 5)
        hc.setdefault("retries", 3)
    return d


def register_task_definition(self, family, container_definitions, *args, **kwargs):
    with LOCK:
        mode = kwargs.get("network_mode")
        if mode is None and "FARGATE" in (kwargs.get("requires_compatibilities") or []):
            mode = "awsvpc"
        defs = [with_container_defaults(d, mode) for d in container_definitions or []]
        return orig_register_task_definition(self, family, defs, *args, **kwargs)


def install_patches():
    Response.create_service = create_service
    Response.update_service = update_service
    Response.delete_service = delete_service
    Response.list_service_deployments = list_service_deployments
    Backend.describe_services = describe_services
    Backend.list_services = list_services
    Backend.list_tasks = list_tasks
    Backend.register_task_definition = register_task_definition


# ---------------------------------------------------------------------------------------------- RDS
RdsBackend = rds_models.RDSBackend
RdsResponse = rds_responses.RDSResponse

RDS_MODES = ("complete", "fail", "stuck")
# What a "fail" rule ends in, by operation.
RDS_FAIL_STATUS = {"create": "failed", "modify": "incompatible-parameters", "delete": "failed"}
# ModifyDBInstance parameters AWS defers to PendingModifiedValues: parameter -> PendingModifiedValues member.
RDS_PENDING = {
    "DBInstanceClass": "DBInstanceClass",
    "AllocatedStorage": "AllocatedStorage",
    "MasterUserPassword": "MasterUserPassword",
    "DBPortNumber": "Port",
    "BackupRetentionPeriod": "BackupRetentionPeriod",
    "MultiAZ": "MultiAZ",
    "EngineVersion": "EngineVersion",
    "StorageType": "StorageType",
    "DBSubnetGroupName": "DBSubnetGroupName",
    "Iops": "Iops",
}
# AWS's default minor version of a major-only EngineVersion (imitation: AWS's default moves over time).
RDS_DEFAULT_MINOR = {"postgres": ".4", "mysql": ".0"}


class RdsRules:
    """Behaviour of the next operations, by instance identifier ("*" = any); the exact one wins over "*"."""

    def __init__(self):
        self.rules = {}

    def set(self, body):
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - {"identifier", "mode", "polls", "status"}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        identifier = body.get("identifier", "*")
        mode = body.get("mode", "complete")
        if not isinstance(identifier, str) or not identifier:
            raise ValueError('"identifier" must be a DB instance identifier or "*"')
        if mode not in RDS_MODES:
            raise ValueError(f'"mode" must be one of {list(RDS_MODES)}')
        polls = body.get("polls")
        if polls is not None and (not isinstance(polls, int) or isinstance(polls, bool) or polls < 0):
            raise ValueError('"polls" must be a whole number >= 0')
        status = body.get("status")
        if status is not None and (not isinstance(status, str) or not status):
            raise ValueError('"status" must be a DB instance status, e.g. "failed"')
        rule = {"identifier": identifier.lower(), "mode": mode}
        if polls is not None:
            rule["polls"] = polls
        if status is not None:
            rule["status"] = status
        self.rules[rule["identifier"]] = rule
        return rule

    def for_instance(self, identifier, op):
        rule = self.rules.get(identifier) or self.rules.get("*") or {"mode": "complete"}
        return {
            "op": op,
            "mode": rule["mode"],
            "needed": rule.get("polls", env_int("EMULATOR_RDS_POLLS", 2)),
            "fail_status": rule.get("status") or RDS_FAIL_STATUS[op],
            "polls": 0,
        }

    def list(self):
        return [self.rules[k] for k in sorted(self.rules)]

    def clear(self):
        self.rules.clear()


RDS_RULES = RdsRules()

orig_rds_create_db_instance = RdsResponse.create_db_instance
orig_rds_modify_db_instance = RdsResponse.modify_db_instance
orig_rds_delete_db_instance = RdsResponse.delete_db_instance
orig_rds_describe_db_instances = RdsResponse.describe_db_instances
orig_rds_delete_db_parameter_group = RdsResponse.delete_db_parameter_group
orig_rds_delete_db_subnet_group = RdsResponse.delete_db_subnet_group


def rds_set_pending(db, pending):
    db._emu_pending = pending
    db.pending_modified_values = {RDS_PENDING[k]: ("****" if k == "MasterUserPassword" else v) for k, v in pending.items()} or None


def rds_apply_pending(backend, db):
    pending = getattr(db, "_emu_pending", None) or {}
    if pending:
        kwargs = XFormedDict({"DBInstanceIdentifier": db.db_instance_identifier, **pending})
        backend.modify_db_instance(db.db_instance_identifier, kwargs)
        if "DBPortNumber" in pending:
            db.port = int(pending["DBPortNumber"])
    rds_set_pending(db, {})


def rds_advance(backend, db):
    """One poll of `db` (a DescribeDBInstances that returns it)."""
    op = getattr(db, "_emu_op", None)
    if op is None:
        return
    op["polls"] += 1
    if op["mode"] == "stuck":
        # Stuck while the rule says so: once it is changed, the operation goes on as the new rule says.
        now = RDS_RULES.for_instance(db.db_instance_identifier, op["op"])
        if now["mode"] != "stuck":
            op.update(mode=now["mode"], fail_status=now["fail_status"], needed=op["polls"] - 1 + now["needed"])
    done = op["polls"] >= op["needed"]
    if op["mode"] == "stuck" or not done:
        if op["op"] == "create":
            db.status = "backing-up" if op["polls"] >= op["needed"] - 1 and op["mode"] == "complete" else "creating"
        return
    db._emu_op = None
    if op["mode"] == "fail":
        db.status = op["fail_status"]
        # A failed delete leaves the instance there, to be deleted again.
        db._emu_deleting = False
        return
    if op["op"] == "delete":
        if backend.databases.get(db.db_instance_identifier) is db:
            del backend.databases[db.db_instance_identifier]
        return
    if op["op"] == "modify":
        rds_apply_pending(backend, db)
    db.status = "available"


def rds_create_db_instance(self):
    with LOCK:
        version = self._get_param("EngineVersion")
        engine = (self._get_param("Engine") or "").lower()
        if version and "." not in version and engine in RDS_DEFAULT_MINOR:
            self.params["EngineVersion"] = version + RDS_DEFAULT_MINOR[engine]
        result = orig_rds_create_db_instance(self)
        db = self.backend.databases[self._get_param("DBInstanceIdentifier").lower()]
        db.dbi_resource_id = "db-" + uuid.uuid4().hex[:26].upper()
        rds_set_pending(db, {})
        db._emu_op = RDS_RULES.for_instance(db.db_instance_identifier, "create")
        db.status = "creating"
        if db._emu_op["needed"] == 0 and db._emu_op["mode"] == "complete":
            db._emu_op = None
            db.status = "available"
        return result


def rds_modify_db_instance(self):
    with LOCK:
        identifier = (self._get_param("DBInstanceIdentifier") or "").lower()
        db = self.backend.databases.get(identifier)
        if db is None or getattr(db, "_emu_deleting", False):
            raise DBInstanceNotFoundError(identifier)
        immediately = bool(self._get_param("ApplyImmediately", False))
        pending = dict(getattr(db, "_emu_pending", None) or {})
        for param in RDS_PENDING:
            value = self._get_param(param)
            if value is not None:
                pending[param] = value
                del self.params[param]
        result = orig_rds_modify_db_instance(self)
        rds_set_pending(db, pending)
        if immediately:
            db._emu_op = RDS_RULES.for_instance(identifier, "modify")
            db.status = "modifying"
            if db._emu_op["needed"] == 0 and db._emu_op["mode"] == "complete":
                rds_advance(self.backend, db)
        return result


def rds_delete_db_instance(self):
    with LOCK:
        identifier = (self._get_param("DBInstanceIdentifier") or "").lower()
        db = self.backend.databases.get(identifier)
        if db is not None and getattr(db, "_emu_deleting", False):
            raise RDSClientError("InvalidDBInstanceState", f"Instance {identifier} is already being deleted.")
        if db is not None and not self._get_param("SkipFinalSnapshot", False) and not self._get_param("FinalDBSnapshotIdentifier"):
            raise RDSClientError(
                "InvalidParameterCombination",
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
            )
        result = orig_rds_delete_db_instance(self)
        if db is not None:
            # moto forgets it at once; AWS describes it as `deleting` for a while.
            self.backend.databases[identifier] = db
            db._emu_deleting = True
            db.status = "deleting"
            db._emu_op = RDS_RULES.for_instance(identifier, "delete")
            if db._emu_op["needed"] == 0 and db._emu_op["mode"] == "complete":
                rds_advance(self.backend, db)
        return result


def rds_describe_db_instances(self):
    with LOCK:
        identifier = self.params.get("DBInstanceIdentifier")
        filters = {f["Name"]: f["Values"] for f in self.params.get("Filters", [])}
        try:
            found = self.backend.describe_db_instances(identifier, filters=filters)
        except DBInstanceNotFoundError:
            found = []
        for db in list(found):
            rds_advance(self.backend, db)
        return orig_rds_describe_db_instances(self)


def rds_instances_using(backend, attr, name):
    name = (name or "").lower()
    return sorted(
        db.db_instance_identifier
        for db in backend.databases.values()
        if (getattr(db, attr, None) or "").lower() == name
    )


def rds_delete_db_parameter_group(self):
    """As AWS: refused while an instance (also one being deleted) uses the group (moto deletes it, and then
    fails describing the instance)."""
    with LOCK:
        users = rds_instances_using(self.backend, "db_parameter_group_name", self._get_param("DBParameterGroupName"))
        if users:
            raise RDSClientError(
                "InvalidDBParameterGroupState",
                f"One or more database instances are still members of this parameter group {self._get_param('DBParameterGroupName')}, "
                f"so the group cannot be deleted: {', '.join(users)}",
            )
        return orig_rds_delete_db_parameter_group(self)


def rds_delete_db_subnet_group(self):
    """As AWS: refused while an instance (also one being deleted) uses the group."""
    with LOCK:
        users = rds_instances_using(self.backend, "_db_subnet_group_name", self._get_param("DBSubnetGroupName"))
        if users:
            raise RDSClientError(
                "InvalidDBSubnetGroupStateFault",
                f"Cannot delete the subnet group '{self._get_param('DBSubnetGroupName')}' because at least one database "
                f"instance: {users[0]} is still using it.",
            )
        return orig_rds_delete_db_subnet_group(self)


def rds_reset_db_parameter_group(self):
    with LOCK:
        name = self._get_param("DBParameterGroupName")
        group = self.backend.db_parameter_groups.get(name)
        if group is None:
            raise DBParameterGroupNotFoundError(name)
        if self._get_param("ResetAllParameters", False):
            group.parameters.clear()
        else:
            for p in self.params.get("Parameters", []):
                group.parameters.pop(p["ParameterName"], None)
        return ActionResult({"DBParameterGroupName": group.name})


def rds_secret_string(self):
    """What AWS puts in a managed master-user secret: the instance's master user and a random password."""
    username = getattr(self.resource, "master_username", None) or "admin"
    return json.dumps({"username": username, "password": uuid.uuid4().hex + "Aa1!"})


def rds_secret_kms_key_id(self):
    if self.secret.kms_key_id:
        return self.kms.describe_key(self.secret.kms_key_id).arn
    return f"arn:aws:kms:{self.resource.region}:{self.resource.account_id}:alias/aws/secretsmanager"


def install_rds_patches():
    RdsResponse.create_db_instance = rds_create_db_instance
    RdsResponse.modify_db_instance = rds_modify_db_instance
    RdsResponse.delete_db_instance = rds_delete_db_instance
    RdsResponse.describe_db_instances = rds_describe_db_instances
    RdsResponse.reset_db_parameter_group = rds_reset_db_parameter_group
    RdsResponse.delete_db_parameter_group = rds_delete_db_parameter_group
    RdsResponse.delete_db_subnet_group = rds_delete_db_subnet_group
    rds_models.MasterUserSecret._generate_secret_string = rds_secret_string
    rds_models.MasterUserSecret.kms_key_id = property(rds_secret_kms_key_id)


# ---------------------------------------------------------------------------------------------- Route 53
from moto import settings as moto_settings
from moto.acm import models as acm_models
from moto.acm import responses as acm_responses
from moto.core.exceptions import AWSError
from moto.route53 import responses as r53_responses
from moto.route53.exceptions import Route53ClientError

R53Response = r53_responses.Route53
# Change id -> {"polls", "needed", "mode", "names"}: what GetChange answers (moto answers INSYNC at once,
# with one fixed id for every change).
R53_CHANGES = {}


def dns_clean(name):
    return (name or "").rstrip(".").lower().replace("\\052", "*")


class NamedRules:
    """Behaviour of the next operations on a DNS name ("*" = any); the exact name wins over "*"."""

    def __init__(self, key, modes, fields):
        self.key, self.modes, self.fields = key, modes, fields
        self.rules = {}

    def set(self, body):
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - {self.key, "mode", *self.fields}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        name = body.get(self.key, "*")
        mode = body.get("mode", "complete")
        if not isinstance(name, str) or not name:
            raise ValueError(f'"{self.key}" must be a DNS name or "*"')
        if mode not in self.modes:
            raise ValueError(f'"mode" must be one of {list(self.modes)}')
        rule = {self.key: dns_clean(name) if name != "*" else "*", "mode": mode}
        for f, kind in self.fields.items():
            if f in body:
                v = body[f]
                if kind == "int" and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                    raise ValueError(f'"{f}" must be a whole number >= 0')
                if kind == "names" and (not isinstance(v, list) or not all(isinstance(x, str) for x in v)):
                    raise ValueError(f'"{f}" must be a list of DNS names')
                rule[f] = [dns_clean(x) for x in v] if kind == "names" else v
        self.rules[rule[self.key]] = rule
        return rule

    def find(self, names):
        for n in names:
            if dns_clean(n) in self.rules:
                return self.rules[dns_clean(n)]
        return self.rules.get("*")

    def list(self):
        return [self.rules[k] for k in sorted(self.rules)]

    def clear(self):
        self.rules.clear()


R53_RULES = NamedRules("name", ("complete", "stuck"), {"polls": "int"})


def r53_new_change(names):
    """A change id for a write touching `names`, PENDING until its N-th GetChange (the rule's, else
    EMULATOR_ROUTE53_POLLS, default 1)."""
    rule = R53_RULES.find(names) or {}
    change_id = "C" + uuid.uuid4().hex[:13].upper()
    R53_CHANGES[change_id] = {
        "polls": 0,
        "needed": rule.get("polls", env_int("EMULATOR_ROUTE53_POLLS", 1)),
        "mode": rule.get("mode", "complete"),
        "names": list(names),
    }
    return {"Id": f"/change/{change_id}", "Status": "PENDING", "SubmittedAt": utcnow()}


def r53_create_hosted_zone(self):
    with LOCK:
        reference = self._get_param("CallerReference")
        if reference and any(z.caller_reference == reference for z in self.backend.zones.values()):
            raise Route53ClientError(
                "HostedZoneAlreadyExists",
                f"A hosted zone has already been created with the specified caller reference: {reference}",
            )
        result = orig_r53_create_hosted_zone(self)
        result.result["ChangeInfo"] = r53_new_change([self._get_param("Name")])
        return result


def r53_change_resource_record_sets(self):
    with LOCK:
        zone = self.backend.get_hosted_zone(self._get_param("HostedZoneId"))
        changes = self._get_param("ChangeBatch.Changes") or []
        names = []
        for c in changes:
            rr = c.get("ResourceRecordSet") or {}
            name, rtype, ident = dns_clean(rr.get("Name")), rr.get("Type"), rr.get("SetIdentifier")
            names.append(name)
            existing = [s for s in zone.rrsets if dns_clean(s.name) == name and s.type == rtype and s.set_identifier == ident]
            if c.get("Action") == "CREATE" and existing:
                raise Route53ClientError(
                    "InvalidChangeBatch",
                    f"[Tried to create resource record set [name='{name}.', type='{rtype}'] but it already exists]",
                )
            if c.get("Action") == "DELETE" and not existing:
                raise Route53ClientError(
                    "InvalidChangeBatch",
                    f"[Tried to delete resource record set [name='{name}.', type='{rtype}'] but it was not found]",
                )
        result = orig_r53_change_resource_record_sets(self)
        result.result["ChangeInfo"] = r53_new_change(names + [zone.name])
        return result


def r53_get_change(self):
    with LOCK:
        change_id = (self._get_param("Id") or "").split("/")[-1]
        change = R53_CHANGES.get(change_id)
        if change is None:
            raise Route53ClientError("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")
        change["polls"] += 1
        if change["mode"] == "stuck":
            # Stuck while the rule says so: once it is changed, the change goes on as the new rule says.
            now = R53_RULES.find(change["names"]) or {}
            if now.get("mode", "complete") != "stuck":
                change.update(mode="complete", needed=change["polls"] + now.get("polls", env_int("EMULATOR_ROUTE53_POLLS", 1)))
        done = change["mode"] == "complete" and change["polls"] >= change["needed"]
        return ActionResult({"ChangeInfo": {"Id": f"/change/{change_id}", "Status": "INSYNC" if done else "PENDING", "SubmittedAt": utcnow()}})


orig_r53_create_hosted_zone = R53Response.create_hosted_zone
orig_r53_change_resource_record_sets = R53Response.change_resource_record_sets


# ---------------------------------------------------------------------------------------------- ACM
AcmBackend = acm_models.AWSCertificateManagerBackend
AcmResponse = acm_responses.AWSCertificateManagerResponse
CertBundle = acm_models.CertBundle

ACM_RULES = NamedRules("domain", ("complete", "fail", "stuck"), {"seconds": "int", "pending": "names", "record_polls": "int"})


def acm_rule_state(rule):
    return {
        "mode": rule.get("mode", "complete"),
        "seconds": rule.get("seconds"),
        "pending": rule.get("pending") or [],
        "record_polls": rule.get("record_polls", 0),
        "describes": 0,
        "since": utcnow(),
    }


def acm_check(self):
    with LOCK:
        emu = getattr(self, "_emu", None)
        if emu is None or self.type != "AMAZON_ISSUED" or self.status != "PENDING_VALIDATION":
            return orig_acm_check(self)
        if emu["mode"] == "stuck":
            now = ACM_RULES.find([self.common_name]) or {}
            if now.get("mode", "complete") == "stuck":
                return None
            emu.update(mode=now.get("mode", "complete"), seconds=now.get("seconds"), since=utcnow())
        wait = emu["seconds"] if emu["seconds"] is not None else moto_settings.ACM_VALIDATION_WAIT
        if (utcnow() - emu["since"]).total_seconds() < wait:
            return None
        if emu["mode"] == "fail":
            self.status = "FAILED"
        else:
            self.status = "ISSUED"
        return None


def acm_in_use_by(bundle):
    """The load balancers whose listeners use the certificate (moto's ELBv2 does not tell ACM)."""
    from moto.elbv2.models import elbv2_backends

    out = []
    parts = bundle.arn.split(":")
    try:
        backend = elbv2_backends[parts[4]][parts[3]]
    except (KeyError, IndexError):
        return out
    for lb in backend.load_balancers.values():
        for listener in lb.listeners.values():
            if bundle.arn in (listener.certificates or []) and lb.arn not in out:
                out.append(lb.arn)
    return out


def acm_describe(self):
    result = orig_acm_describe(self)
    cert = result["Certificate"]
    emu = getattr(self, "_emu", None) or {}
    if getattr(self, "_emu_key_algorithm", None):
        cert["KeyAlgorithm"] = self._emu_key_algorithm
    cert["InUseBy"] = acm_in_use_by(self)
    if self.status == "FAILED":
        cert["FailureReason"] = "OTHER"
    pending = emu.get("pending") or []
    hide_records = emu.get("describes", 0) < emu.get("record_polls", 0)
    for o in cert.get("DomainValidationOptions", []):
        if self.status in ("PENDING_VALIDATION", "FAILED") and pending and dns_clean(o["DomainName"]) not in pending:
            o["ValidationStatus"] = "SUCCESS"
        if hide_records:
            o.pop("ResourceRecord", None)
    return result


def acm_describe_certificate(self):
    with LOCK:
        bundle = self.acm_backend.describe_certificate(self._get_param("CertificateArn") or "")
        emu = getattr(bundle, "_emu", None)
        result = orig_acm_describe_certificate(self)
        if emu is not None:
            emu["describes"] += 1
        return result


def acm_request_certificate(self):
    with LOCK:
        result = orig_acm_request_certificate(self)
        bundle = self.acm_backend.get_certificate(result.result["CertificateArn"])
        if getattr(bundle, "_emu", None) is None:
            rule = ACM_RULES.find([self._get_param("DomainName") or ""]) or {}
            bundle._emu = acm_rule_state(rule)
            bundle._emu_key_algorithm = self._get_param("KeyAlgorithm") or "RSA_2048"
        return result


def acm_delete_certificate(self, arn):
    with LOCK:
        bundle = self._certificates.get(arn)
        users = acm_in_use_by(bundle) if bundle is not None else []
        if users:
            raise AWSError(f"Certificate {arn} in use by {', '.join(users)}", exception_type="ResourceInUseException")
        return orig_acm_delete_certificate(self, arn)


orig_acm_check = CertBundle.check
orig_acm_describe = CertBundle.describe
orig_acm_describe_certificate = AcmResponse.describe_certificate
orig_acm_request_certificate = AcmResponse.request_certificate
orig_acm_delete_certificate = AcmBackend.delete_certificate


def install_dns_patches():
    R53Response.create_hosted_zone = r53_create_hosted_zone
    R53Response.change_resource_record_sets = r53_change_resource_record_sets
    R53Response.get_change = r53_get_change
    CertBundle.check = acm_check
    CertBundle.describe = acm_describe
    AcmResponse.describe_certificate = acm_describe_certificate
    AcmResponse.request_certificate = acm_request_certificate
    AcmBackend.delete_certificate = acm_delete_certificate
    # moto issues a DNS-validated certificate MOTO_ACM_VALIDATION_WAIT seconds after the request (60 by
    # default, read when moto is imported): the fixture's default is 1 s, still overridable.
    moto_settings.ACM_VALIDATION_WAIT = env_int("MOTO_ACM_VALIDATION_WAIT", 1)
    # AWS's managed policies (arn:aws:iam::aws:policy/ReadOnlyAccess, …) exist in every account; moto has
    # them only when asked (read when an account's IAM backend is first made), so a role can attach them.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


# ---------------------------------------------------------------------------------------------- EC2
from moto.ec2.models import subnets as ec2_subnets
from moto.elbv2.exceptions import ELBClientError as ElbClientError
from moto.elbv2.models import ELBv2Backend as Elbv2Backend

ELBV2_CREATE_LOAD_BALANCER = Elbv2Backend.create_load_balancer
ELBV2_SET_IP_ADDRESS_TYPE = Elbv2Backend.set_ip_address_type


def subnet_ipv6_cidr_block_association_set(self):
    """The subnet's IPv6 associations that are associated, with the state spelt as AWS spells it."""
    return [
        {
            "ipv6CidrBlock": a["ipv6CidrBlock"],
            "associationId": a["associationId"],
            "ipv6CidrBlockState": {"state": a["ipv6CidrBlockState"]["State"]},
        }
        for a in self.ipv6_cidr_block_associations.values()
        if a["ipv6CidrBlockState"]["State"] == "associated"
    ]


def require_ipv6_subnets(ip_address_type, subnets):
    """AWS refuses a dualstack load balancer in a subnet without an associated IPv6 block."""
    if ip_address_type == "dualstack" and not all(s is not None and s.ipv6_cidr_block_association_set for s in subnets):
        raise ElbClientError("ValidationError", "You must specify subnets with an associated IPv6 CIDR block.")


def elbv2_create_load_balancer(self, *args, **kwargs):
    subnet_ids = list(kwargs.get("subnet_ids") or []) + [m["SubnetId"] for m in kwargs.get("subnet_mappings") or []]
    try:
        subnets = [self.ec2_backend.get_subnet(i) for i in subnet_ids]
    except Exception:  # an unknown subnet: moto's own answer
        subnets = None
    if subnets is not None:
        require_ipv6_subnets(kwargs.get("ip_address_type", "ipv4"), subnets)
    return ELBV2_CREATE_LOAD_BALANCER(self, *args, **kwargs)


def elbv2_set_ip_address_type(self, arn, ip_type):
    balancer = self.load_balancers.get(arn)
    if balancer is not None:
        require_ipv6_subnets(ip_type, balancer.subnets)
    return ELBV2_SET_IP_ADDRESS_TYPE(self, arn, ip_type)


def install_ec2_patches():
    ec2_subnets.Subnet.ipv6_cidr_block_association_set = property(subnet_ipv6_cidr_block_association_set)
    Elbv2Backend.create_load_balancer = elbv2_create_load_balancer
    Elbv2Backend.set_ip_address_type = elbv2_set_ip_address_type


# ---------------------------------------------------------------------------------------------- S3, IAM OIDC
from moto.iam import responses as iam_responses
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
import xmltodict

S3_BUCKET_RESPONSE_PUT = s3_responses.S3Response._bucket_response_put


def create_bucket_tags(body):
    """The Tags of a CreateBucketConfiguration body, as a dict (empty when there are none)."""
    try:
        config = xmltodict.parse(body).get("CreateBucketConfiguration") or {}
    except Exception:  # no XML body: moto's own answer
        return {}
    tags = (config.get("Tags") or {}).get("Tag") or []
    if isinstance(tags, dict):
        tags = [tags]
    return {t["Key"]: t.get("Value") or "" for t in tags}


def s3_bucket_response_put(self, request, bucket_name, querystring):
    """CreateBucket applies the CreateBucketConfiguration's Tags to the new bucket, as AWS does (moto ignored
    them): the bucket never exists untagged."""
    creating = not querystring and bucket_name not in self.backend.buckets
    result = S3_BUCKET_RESPONSE_PUT(self, request, bucket_name, querystring)
    if creating and self.body and bucket_name in self.backend.buckets:
        tags = create_bucket_tags(self.body)
        if tags:
            self.backend.put_bucket_tagging(bucket_name, tags)
    return result


def s3_get_bucket_versioning(self):
    """GetBucketVersioning answers `<VersioningConfiguration>`, as AWS does (moto's root element was
    `<GetBucketVersioningResponse>`, which the SDKs refuse); no `<Status>` for a bucket never versioned."""
    self.data["Action"] = "GetBucketVersioning"
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>'
    )
    return 200, {"Content-Type": "application/xml"}, body


def iam_add_client_id_to_open_id_connect_provider(self):
    """AddClientIDToOpenIDConnectProvider (moto has no handler): adds the client id; one already there is no
    change, as on AWS."""
    provider = self.backend.get_open_id_connect_provider(self._get_param("OpenIDConnectProviderArn"))
    client_id = self._get_param("ClientID")
    if client_id not in provider.client_id_list:
        provider.client_id_list.append(client_id)
    return EmptyResult()


def iam_remove_client_id_from_open_id_connect_provider(self):
    """RemoveClientIDFromOpenIDConnectProvider (moto has no handler): removing an absent id is no change."""
    provider = self.backend.get_open_id_connect_provider(self._get_param("OpenIDConnectProviderArn"))
    client_id = self._get_param("ClientID")
    provider.client_id_list = [c for c in provider.client_id_list if c != client_id]
    return EmptyResult()


# What AWS knows of each request when it evaluates a bucket policy's conditions. The emulator stands in for
# S3's HTTPS endpoints (the SDKs reach AWS over TLS), so aws:SecureTransport is true.
S3_REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


def s3_policy_conditions_match(conditions, context):
    """Whether a statement's `Condition` holds for a request with `context`, as IAM decides: every operator,
    every key; a key the request lacks fails unless the operator ends in IfExists. Bool, StringEquals and
    StringNotEquals are evaluated; other operators hold (moto's own rule, which knew StringEquals only)."""
    for op, pairs in (conditions or {}).items():
        base = op[: -len("IfExists")] if op.endswith("IfExists") else op
        for key, expected in pairs.items():
            expected = [str(e) for e in (expected if isinstance(expected, list) else [expected])]
            actual = context.get(key)
            if actual is None:
                if op.endswith("IfExists"):
                    continue
                return False
            if base == "Bool":
                ok = actual.lower() in [e.lower() for e in expected]
            elif base == "StringEquals":
                ok = actual in expected
            elif base == "StringNotEquals":
                ok = actual not in expected
            else:
                ok = True
            if not ok:
                return False
    return True


def s3_bucket_get_permission(self, action, resource):
    """A bucket policy's verdict on `action` over `resource`, as AWS evaluates it: a statement applies only
    when its action, resource and conditions match; then any Deny wins over any Allow. moto ignored every
    condition operator but StringEquals and knew no request context, so `Deny ... Bool aws:SecureTransport =
    false`, the usual TLS-only policy, refused every request."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    statements = json.loads(self.policy.decode()).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    verdict = PermissionResult.NEUTRAL
    for st in statements:
        if not s3_policy_conditions_match(st.get("Condition"), S3_REQUEST_CONTEXT):
            continue
        unconditional = {k: v for k, v in st.items() if k != "Condition"}
        result = IAMPolicyStatement(unconditional).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return result
        if result == PermissionResult.PERMITTED:
            verdict = result
    return verdict


S3_SET_LIFECYCLE = s3_models.FakeBucket.set_lifecycle
S3_GET_BUCKET_LIFECYCLE = s3_responses.S3Response.get_bucket_lifecycle


def s3_set_lifecycle(self, rules):
    """PutBucketLifecycleConfiguration keeps each rule's NoncurrentVersionExpiration.NewerNoncurrentVersions
    (moto dropped it; AWS keeps and returns it)."""
    S3_SET_LIFECYCLE(self, rules)
    for kept, sent in zip(self.rules, rules):
        kept.nve_newer_versions = (sent.get("NoncurrentVersionExpiration") or {}).get("NewerNoncurrentVersions")


def s3_get_bucket_lifecycle(self):
    """GetBucketLifecycleConfiguration with each rule's NewerNoncurrentVersions, as AWS answers."""
    newer = {r.id: getattr(r, "nve_newer_versions", None) for r in self.backend.get_bucket_lifecycle(self.bucket_name) or []}
    serialized = self.serialized

    def with_newer(action_result):
        for rule in action_result.result.get("Rules", []):
            n = newer.get(rule.get("ID"))
            if n is not None and "NoncurrentVersionExpiration" in rule:
                rule["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] = n
        return serialized(action_result)

    self.serialized = with_newer
    try:
        return S3_GET_BUCKET_LIFECYCLE(self)
    finally:
        del self.serialized


def install_s3_iam_patches():
    s3_models.FakeBucket.get_permission = s3_bucket_get_permission
    s3_models.FakeBucket.set_lifecycle = s3_set_lifecycle
    s3_responses.S3Response.get_bucket_lifecycle = s3_get_bucket_lifecycle
    s3_responses.S3Response._bucket_response_put = s3_bucket_response_put
    # Deleting the last versions of a key whose newest is a delete marker (DeleteObjects emptying a versioned
    # bucket) made moto fail with a 500: its delete markers hold no data to dispose of.
    s3_models.FakeDeleteMarker.dispose = lambda self, *args, **kwargs: None
    s3_responses.S3Response.get_bucket_versioning = s3_get_bucket_versioning
    iam_responses.IamResponse.add_client_id_to_open_id_connect_provider = iam_add_client_id_to_open_id_connect_provider
    iam_responses.IamResponse.remove_client_id_from_open_id_connect_provider = (
        iam_remove_client_id_from_open_id_connect_provider
    )


# ---------------------------------------------------------------------------------------------- WSGI
CONTROL_PATHS = {"/_emulator/ecs": RULES, "/_emulator/rds": RDS_RULES, "/_emulator/route53": R53_RULES, "/_emulator/acm": ACM_RULES}


class EmulatorApp:
    """Answers the control endpoint; passes everything else to moto (and notices moto's reset)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path in CONTROL_PATHS:
            return self.control(CONTROL_PATHS[path], method, environ, start_response)
        if path.rstrip("/") == "/moto-api/reset" and method == "POST":
            with LOCK:
                RULES.clear()
                RDS_RULES.clear()
                R53_RULES.clear()
                ACM_RULES.clear()
                R53_CHANGES.clear()
        return self.app(environ, start_response)

    def control(self, rules, method, environ, start_response):
        status, body = "200 OK", None
        with LOCK:
            if method == "GET":
                body = {"rules": rules.list()}
            elif method == "DELETE":
                rules.clear()
                body = {"rules": []}
            elif method == "POST":
                try:
                    length = int(environ.get("CONTENT_LENGTH") or 0)
                    raw = environ["wsgi.input"].read(length) if length else b""
                    rule = rules.set(json.loads(raw or b"{}"))
                    body = {"rule": rule, "rules": rules.list()}
                except (ValueError, json.JSONDecodeError) as e:
                    status, body = "400 Bad Request", {"error": str(e)}
            else:
                status, body = "405 Method Not Allowed", {"error": "use GET, POST or DELETE"}
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


def exit_with_parent():
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main(argv):
    if os.environ.get("EMULATOR_EXIT_WITH_PARENT") == "1":
        exit_with_parent()
    install_patches()
    install_rds_patches()
    install_dns_patches()
    install_ec2_patches()
    install_s3_iam_patches()
    run_simple = moto.server.run_simple
    moto.server.run_simple = lambda host, port, app, **kw: run_simple(host, port, EmulatorApp(app), **kw)
    sys.argv[0] = "emulator"
    moto.server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
