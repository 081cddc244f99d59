//! Fault paths through `faultproxy` between the CLI and moto: throttling and 5xx (SDK retries), NotFound
//! right after create and DependencyViolation on delete (`retry_on`), a NAT gateway that stays `pending`
//! (waiter), a fault that never clears (partial apply, independent branches still done, re-run converges),
//! a SIGKILL mid-apply (state holds every completed operation; the next apply converges without
//! duplicates) and SIGTERM (in-flight operation finishes, the rest is not started, lock released).

mod common;
mod common_cli;

use std::time::Duration;

use common_cli::*;
use faultproxy::{Fault, Proxy, Rule};
use serde_json::Value as Json;

fn proxied(prefix: &str, fixture: &str) -> (Cli, Proxy) {
    let cli = Cli::new(prefix);
    cli.fixture(fixture);
    behind_proxy(cli)
}

use common_cli::proxy_calls as calls;

/// Live objects with the stack tag, by id prefix ("vpc-", "subnet-", …).
fn tagged_with_prefix(cli: &Cli, prefix: &str) -> usize {
    cli.tagged_ids().iter().filter(|i| i.starts_with(prefix)).count()
}

const TWOVPC_TAGGED: usize = 8; // vpc.a, 3 subnets, sg.a, route_table.a, vpc.b, eip.b

#[test]
fn throttling_and_server_errors_are_retried() {
    let (cli, proxy) = proxied("f-throttle", "twovpc");
    proxy.set_rules(vec![
        Rule::new("CreateVpc", Fault::Throttle {}).times(2),
        Rule::new("CreateSubnet", Fault::ServerError { status: 500 }).times(2),
    ]);
    let out = cli.json(&[0], &["apply", "--auto-approve"]);
    assert_eq!(out["report"]["interrupted"], false);
    // 2 VPCs + 2 throttled attempts; 3 subnets + 2 failed attempts.
    assert_eq!(calls(&proxy, "CreateVpc"), 4, "{:?}", proxy.calls());
    assert_eq!(calls(&proxy, "CreateSubnet"), 5, "{:?}", proxy.calls());
    assert_eq!(api_count(&out, "CreateVpc"), 4, "every attempt is counted: {out:#}");
    assert_eq!(api_count(&out, "CreateSubnet"), 5, "{out:#}");
    let faults = proxy.faults();
    assert_eq!(faults.iter().filter(|f| f.kind == "throttle").count(), 2);
    assert_eq!(faults.iter().filter(|f| f.kind == "server_error").count(), 2);
    assert_eq!(cli.count_tagged(), TWOVPC_TAGGED, "no duplicates from retries: {:?}", cli.tagged_ids());
    assert_eq!(tagged_with_prefix(&cli, "vpc-"), 2);
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

#[test]
fn not_found_after_create_and_dependency_violation_on_delete_are_retried() {
    let (cli, proxy) = proxied("f-eventual", "nat");
    proxy.set_rules(vec![
        Rule::new("ModifyVpcAttribute", Fault::error(400, "InvalidVpcID.NotFound", "The vpc ID does not exist"))
            .times(2),
        Rule::new("AttachInternetGateway", Fault::error(400, "InvalidInternetGatewayID.NotFound", "no such igw"))
            .times(2),
        Rule::new("CreateRoute", Fault::error(400, "InvalidRouteTableID.NotFound", "no such route table")).times(2),
        Rule::new("ModifySubnetAttribute", Fault::error(400, "InvalidSubnetID.NotFound", "no such subnet")).times(2),
    ]);
    let out = cli.apply();
    assert!(out.stdout.contains("Apply complete!"), "{out}");
    assert_eq!(proxy.faults().len(), 8, "{:?}", proxy.faults());
    assert!(calls(&proxy, "CreateRoute") >= 4, "{:?}", proxy.calls());
    assert_eq!(cli.count_tagged(), 8, "{:?}", cli.tagged_ids());
    cli.expect(0, &["plan", "--detailed-exitcode"]);

    proxy.reset_calls();
    proxy.set_rules(vec![
        Rule::new("DeleteSecurityGroup", Fault::error(400, "DependencyViolation", "resource has a dependent object"))
            .times(2),
        Rule::new("DeleteSubnet", Fault::error(400, "DependencyViolation", "subnet has dependencies")).times(2),
    ]);
    let out = cli.destroy();
    assert!(out.stdout.contains("Destroy complete!"), "{out}");
    assert_eq!(calls(&proxy, "DeleteSecurityGroup"), 3, "{:?}", proxy.calls());
    assert_eq!(calls(&proxy, "DeleteSubnet"), 3, "{:?}", proxy.calls());
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
}

#[test]
fn nat_gateway_pending_is_waited_for() {
    let (cli, proxy) = proxied("f-natwait", "nat");
    proxy.set_rules(vec![Rule::new(
        "DescribeNatGateways",
        Fault::Rewrite { from: "<state>available</state>".into(), to: "<state>pending</state>".into() },
    )
    .times(3)]);
    let out = cli.apply();
    assert!(out.stdout.contains("Apply complete!"), "{out}");
    assert!(calls(&proxy, "DescribeNatGateways") >= 4, "{:?}", proxy.calls());
    assert_eq!(proxy.faults().iter().filter(|f| f.kind == "rewrite").count(), 3);
    let st = cli.state_resource("nat_gateway.main");
    assert_eq!(st["attributes"]["state"], "available", "{st:#}");
    // The private route uses the NAT gateway.
    let rt = cli.id("route_table.private");
    let nat = cli.id("nat_gateway.main");
    let out = block_on(cli.ec2().describe_route_tables().route_table_ids(&rt).send()).unwrap();
    assert!(out.route_tables()[0].routes().iter().any(|r| r.nat_gateway_id() == Some(nat.as_str())));
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
}

#[test]
fn a_fault_that_never_clears_leaves_a_partial_apply_that_the_next_run_completes() {
    let (cli, proxy) = proxied("f-partial", "twovpc");
    let cli = cli.env("PROVISIONER_MAX_ATTEMPTS", "2");
    proxy.set_rules(vec![Rule::new("CreateSubnet", Fault::Throttle {})]);
    let out = cli.run(&["apply", "--auto-approve", "--json"]);
    assert_eq!(out.code, 1, "{out}");
    let v = out.json();
    let results = v["report"]["results"].as_array().unwrap();
    let status = |addr: &str| -> String {
        results.iter().find(|r| r["address"] == addr).unwrap_or_else(|| panic!("{addr} not in report: {v:#}"))["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for k in ["x", "y", "z"] {
        assert_eq!(status(&format!("subnet.a[\"{k}\"]")), "failed", "{v:#}");
    }
    assert_eq!(status("route_table_association.x"), "skipped", "{v:#}");
    for a in ["vpc.a", "vpc.b", "eip.b", "security_group.a", "route_table.a"] {
        assert_eq!(status(a), "done", "{v:#}");
    }
    let failed = results.iter().find(|r| r["status"] == "failed").unwrap();
    assert!(failed["error"].as_str().unwrap().contains("RequestLimitExceeded"), "{failed:#}");
    assert_eq!(calls(&proxy, "CreateSubnet"), 6, "2 attempts each: {:?}", proxy.calls());

    // The human form names the failure and the skip.
    let mut addrs = cli.state_addresses();
    addrs.sort();
    assert_eq!(addrs, ["eip.b", "route_table.a", "security_group.a", "vpc.a", "vpc.b"]);
    assert!(!cli.lock_path().exists());

    // Human output of a failing run (new run, same fault).
    let out = cli.expect(1, &["apply", "--auto-approve"]);
    assert!(out.all().contains("subnet.a[\"x\"]") && out.all().contains("failed"), "{out}");
    assert!(out.stdout.contains("Apply incomplete"), "{out}");
    assert!(out.stdout.contains("1 skipped"), "{out}");

    // Fault cleared: converges with no duplicates.
    proxy.set_rules(vec![]);
    let out = cli.apply();
    assert!(out.stdout.contains("4 added, 0 changed, 0 destroyed"), "{out}");
    assert_eq!(cli.count_tagged(), TWOVPC_TAGGED, "{:?}", cli.tagged_ids());
    assert_eq!(tagged_with_prefix(&cli, "vpc-"), 2);
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

fn lock_id(cli: &Cli) -> String {
    let lock: Json = serde_json::from_str(&std::fs::read_to_string(cli.lock_path()).unwrap()).unwrap();
    lock["id"].as_str().unwrap().to_owned()
}

#[test]
fn sigkill_mid_apply_loses_nothing() {
    let (cli, proxy) = proxied("f-crash", "twovpc");
    // One operation at a time: the second CreateSubnet never returns.
    proxy.set_rules(vec![Rule::new("CreateSubnet", Fault::Stall {}).skip(1)]);
    let mut child = cli.spawn(&["apply", "--auto-approve", "--parallelism", "1"]);
    wait_until("a stalled CreateSubnet", Duration::from_secs(60), || proxy.stalled() >= 1);
    child.kill().unwrap();
    let out = wait_output(&mut child, Duration::from_secs(10));
    assert!(!out.status.success());

    // The state file is intact and holds every completed operation: the VPC and the first subnet.
    let st = cli.state();
    let addrs = cli.state_addresses();
    assert!(addrs.contains(&"vpc.a".to_owned()), "{st:#}");
    let subnets: Vec<&String> = addrs.iter().filter(|a| a.starts_with("subnet.a[")).collect();
    assert_eq!(subnets.len(), 1, "exactly the completed subnet: {addrs:?}");
    assert_eq!(tagged_with_prefix(&cli, "subnet-"), 1, "the stalled create never reached AWS");
    // Everything tagged in AWS is tracked.
    let tracked: Vec<String> =
        st["resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    for id in cli.tagged_ids() {
        assert!(tracked.contains(&id), "{id} exists but is not in state: {st:#}");
    }

    // SIGKILL leaves the lock: it names its id, force-unlock clears it.
    assert!(cli.lock_path().exists());
    let out = cli.expect(1, &["apply", "--auto-approve"]);
    assert!(out.stderr.contains("force-unlock"), "{out}");
    cli.ok(&["force-unlock", &lock_id(&cli)]);

    proxy.set_rules(vec![]);
    cli.apply();
    assert_eq!(tagged_with_prefix(&cli, "vpc-"), 2, "{:?}", cli.tagged_ids());
    assert_eq!(tagged_with_prefix(&cli, "subnet-"), 3, "{:?}", cli.tagged_ids());
    assert_eq!(cli.count_tagged(), TWOVPC_TAGGED, "{:?}", cli.tagged_ids());
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

#[test]
fn sigterm_finishes_in_flight_work_saves_and_unlocks() {
    let (cli, proxy) = proxied("f-term", "twovpc");
    proxy.set_rules(vec![Rule::new("CreateSubnet", Fault::DelayMs(2500)).skip(1).times(1)]);
    let mut child = cli.spawn(&["apply", "--auto-approve", "--parallelism", "1"]);
    wait_until("the delayed CreateSubnet", Duration::from_secs(60), || calls(&proxy, "CreateSubnet") >= 2);
    let st = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = wait_output(&mut child, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "exits 1 (not killed by the signal): {stdout}\n{stderr}");
    assert!(stdout.contains("Interrupted") || stderr.contains("Interrupted"), "{stdout}\n{stderr}");
    assert!(stdout.contains("not started"), "reports the operations not started: {stdout}\n{stderr}");

    // The in-flight subnet finished and is in state; nothing else was started after the signal.
    let addrs = cli.state_addresses();
    let subnets = addrs.iter().filter(|a| a.starts_with("subnet.a[")).count();
    assert_eq!(subnets, 2, "the first subnet and the in-flight one: {addrs:?}");
    assert_eq!(tagged_with_prefix(&cli, "subnet-"), 2, "{:?}", cli.tagged_ids());
    assert_eq!(calls(&proxy, "CreateSubnet"), 2, "no new create after SIGTERM: {:?}", proxy.calls());
    assert!(!cli.lock_path().exists(), "lock released");

    cli.apply();
    assert_eq!(cli.count_tagged(), TWOVPC_TAGGED, "{:?}", cli.tagged_ids());
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// SIGKILL while waiting for a NAT gateway to become available: the gateway was saved to state right after
/// its create call (before the wait), so the next apply does not create a second one.
#[test]
fn sigkill_during_nat_wait_does_not_duplicate_the_gateway() {
    let (cli, proxy) = proxied("f-natkill", "nat");
    proxy.set_rules(vec![Rule::new(
        "DescribeNatGateways",
        Fault::Rewrite { from: "<state>available</state>".into(), to: "<state>pending</state>".into() },
    )]);
    let mut child = cli.spawn(&["apply", "--auto-approve"]);
    wait_until("the NAT gateway create", Duration::from_secs(60), || calls(&proxy, "CreateNatGateway") >= 1);
    let polls = calls(&proxy, "DescribeNatGateways");
    wait_until("a few NAT polls", Duration::from_secs(30), || calls(&proxy, "DescribeNatGateways") >= polls + 3);
    child.kill().unwrap();
    let _ = wait_output(&mut child, Duration::from_secs(10));

    let addrs = cli.state_addresses();
    assert!(addrs.contains(&"nat_gateway.main".to_owned()), "saved right after CreateNatGateway: {addrs:?}");
    let nat_id = cli.id("nat_gateway.main");
    assert!(nat_id.starts_with("nat-"), "{nat_id}");
    assert_eq!(tagged_with_prefix(&cli, "nat-"), 1);

    cli.ok(&["force-unlock", &lock_id(&cli)]);
    proxy.set_rules(vec![]);
    cli.apply();
    assert_eq!(tagged_with_prefix(&cli, "nat-"), 1, "no second NAT gateway: {:?}", cli.tagged_ids());
    assert_eq!(cli.count_tagged(), 8, "{:?}", cli.tagged_ids());
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
}

/// Two real runs at once: while one apply holds the lock (its CreateVpc is slowed down), a second apply and
/// a plan fail at once naming the holder's operation; the first finishes normally and releases the lock.
#[test]
fn a_second_run_fails_while_an_apply_holds_the_lock() {
    let (cli, proxy) = proxied("f-concurrent", "twovpc");
    proxy.set_rules(vec![Rule::new("CreateVpc", Fault::DelayMs(2000)).times(1)]);
    let mut first = cli.spawn(&["apply", "--auto-approve"]);
    wait_until("the first apply's CreateVpc", Duration::from_secs(60), || calls(&proxy, "CreateVpc") >= 1);
    assert!(cli.lock_path().exists());
    let holder = lock_id(&cli);
    for args in [&["apply", "--auto-approve"][..], &["plan"][..], &["state", "rm", "vpc.a"][..]] {
        let out = cli.expect(1, args);
        assert!(
            out.stderr.contains("state is locked") && out.stderr.contains("\"apply\"") && out.stderr.contains(&holder),
            "{out}"
        );
    }
    let out = wait_output(&mut first, Duration::from_secs(120));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!cli.lock_path().exists());
    assert_eq!(cli.count_tagged(), TWOVPC_TAGGED, "{:?}", cli.tagged_ids());
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// SIGTERM during destroy: the delete in flight finishes and is recorded, nothing new starts, the lock is
/// released; a second destroy finishes the job.
#[test]
fn sigterm_during_destroy() {
    let (cli, proxy) = proxied("f-termdestroy", "twovpc");
    cli.apply();
    proxy.reset_calls();
    proxy.set_rules(vec![Rule::new("DeleteSubnet", Fault::DelayMs(2000)).times(1)]);
    let mut child = cli.spawn(&["destroy", "--auto-approve", "--parallelism", "1"]);
    wait_until("the delayed DeleteSubnet", Duration::from_secs(60), || calls(&proxy, "DeleteSubnet") >= 1);
    let st = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = wait_output(&mut child, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Interrupted"), "{stdout}");
    assert_eq!(calls(&proxy, "DeleteSubnet"), 1, "no new delete after SIGTERM: {:?}", proxy.calls());
    assert!(!cli.lock_path().exists());
    // The in-flight delete happened and the state no longer tracks that subnet; the others remain.
    let subnets = cli.state_addresses().iter().filter(|a| a.starts_with("subnet.a[")).count();
    assert_eq!(subnets, 2, "{:?}", cli.state_addresses());
    assert_eq!(tagged_with_prefix(&cli, "subnet-"), 2);
    let tracked: Vec<String> =
        cli.state()["resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    for id in cli.tagged_ids() {
        assert!(tracked.contains(&id), "{id} is live but untracked");
    }
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0, "{:?}", cli.tagged_ids());
}

/// SIGTERM while `apply` is still refreshing/planning: nothing is changed, the lock is released.
#[test]
fn sigterm_while_apply_is_planning_changes_nothing() {
    let (cli, proxy) = proxied("f-termplan", "twovpc");
    proxy.set_rules(vec![Rule::new("*", Fault::DelayMs(1500)).times(1)]);
    let mut child = cli.spawn(&["apply", "--auto-approve"]);
    wait_until("the first (delayed) AWS call", Duration::from_secs(60), || proxy.total_calls() >= 1);
    std::thread::sleep(Duration::from_millis(200));
    let st = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = wait_output(&mut child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted before any change was made"), "{stderr}");
    assert_eq!(calls(&proxy, "CreateVpc"), 0, "{:?}", proxy.calls());
    assert!(!cli.lock_path().exists(), "lock released");
    assert_eq!(cli.count_tagged(), 0);
}

/// SIGTERM (or Ctrl-C) during a slow `plan`: `plan` holds the state lock too, so it must release it on the
/// way out; otherwise every later run fails with "state is locked" until someone runs force-unlock.
#[test]
fn sigterm_during_plan_releases_the_lock() {
    let (cli, proxy) = proxied("f-termplan2", "twovpc");
    proxy.set_rules(vec![Rule::new("*", Fault::DelayMs(1500)).times(1)]);
    let mut child = cli.spawn(&["plan"]);
    wait_until("the first (delayed) AWS call", Duration::from_secs(60), || proxy.total_calls() >= 1);
    wait_until("the plan lock", Duration::from_secs(10), || cli.lock_path().exists());
    let st = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = wait_output(&mut child, Duration::from_secs(60));
    assert!(!out.status.success());
    let lock_left = cli.lock_path().exists();
    if lock_left {
        // Leave the stack usable for the cleanup of this test.
        let id = lock_id(&cli);
        let _ = cli.run(&["force-unlock", &id]);
    }
    assert!(!lock_left, "SIGTERM during plan left the state lock behind (exit {:?})", out.status);
}

/// When the backend refuses a write (here: someone rewrote the state behind the lock, so the
/// compare-and-swap fails), the snapshot with the objects just created is dumped to
/// `provisioner.errored.state.json` in the stack directory and the apply fails loudly; nothing is lost.
#[test]
fn a_refused_state_write_dumps_the_errored_state() {
    let (cli, proxy) = proxied("f-errored", "twovpc");
    proxy.set_rules(vec![Rule::new("CreateSubnet", Fault::DelayMs(2000)).skip(1).times(1)]);
    let mut child = cli.spawn(&["apply", "--auto-approve", "--parallelism", "1"]);
    wait_until("the delayed CreateSubnet", Duration::from_secs(60), || calls(&proxy, "CreateSubnet") >= 2);
    // Another writer bumps the serial behind the lock.
    let mut st = cli.state();
    st["serial"] = Json::from(st["serial"].as_u64().unwrap() + 100);
    std::fs::write(cli.state_path(), serde_json::to_string_pretty(&st).unwrap()).unwrap();
    let out = wait_output(&mut child, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(format!("{stdout}{stderr}").contains("conflict"), "{stdout}\n{stderr}");
    let errored = cli.path().join("provisioner.errored.state.json");
    assert!(errored.exists(), "errored state dumped: {stdout}\n{stderr}");
    let dumped: Json = serde_json::from_str(&std::fs::read_to_string(&errored).unwrap()).unwrap();
    let ids: Vec<&str> = dumped["resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in cli.tagged_ids() {
        assert!(ids.contains(&id.as_str()), "{id} created but not in the errored state: {dumped:#}");
    }
    assert!(!cli.lock_path().exists(), "lock released");
    // Recover: put the dumped state in place, then converge.
    std::fs::copy(&errored, cli.state_path()).unwrap();
    proxy.set_rules(vec![]);
    cli.apply();
    assert_eq!(cli.count_tagged(), TWOVPC_TAGGED, "{:?}", cli.tagged_ids());
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}

/// A create whose follow-up call fails (ModifySubnetAttribute after CreateSubnet): the object is in state,
/// marked tainted, and the next apply replaces it — no orphan, no duplicate.
#[test]
fn failed_follow_up_taints_and_the_next_apply_replaces() {
    let (cli, proxy) = proxied("f-taint", "nat");
    proxy
        .set_rules(vec![Rule::new("ModifySubnetAttribute", Fault::error(403, "UnauthorizedOperation", "not allowed"))]);
    let out = cli.expect(1, &["apply", "--auto-approve"]);
    assert!(out.all().contains("UnauthorizedOperation"), "{out}");
    let rec = cli.state_resource("subnet.public");
    assert_eq!(rec["tainted"], true, "{rec:#}");
    let old = rec["id"].as_str().unwrap().to_owned();
    assert_eq!(tagged_with_prefix(&cli, "subnet-"), 1);

    proxy.set_rules(vec![]);
    let plan = cli.json(&[2], &["plan", "--detailed-exitcode"]);
    let c = change(&plan, "subnet.public");
    assert_eq!(c["action"], "replace", "{c:#}");
    assert!(c["reason"].as_str().unwrap_or("").contains("tainted"), "{c:#}");
    cli.apply();
    let new = cli.id("subnet.public");
    assert_ne!(new, old);
    assert_eq!(tagged_with_prefix(&cli, "subnet-"), 1, "the tainted subnet was deleted: {:?}", cli.tagged_ids());
    assert_eq!(cli.state_resource("subnet.public").get("tainted"), None);
    cli.expect(0, &["plan", "--detailed-exitcode"]);
    assert_eq!(cli.count_tagged(), 8, "{:?}", cli.tagged_ids());
    cli.destroy();
    assert_eq!(cli.count_tagged(), 0);
}
