//! Validates the repository's `docker-compose.yml` without a Docker engine:
//! parses it (serde_norway) and checks the services, ports, health checks
//! and wiring between postgres, api and frontend, against the Dockerfiles.

use std::collections::BTreeSet;

use serde_json::Value;

fn compose() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");
    let text = std::fs::read_to_string(path).expect("docker-compose.yml at the repo root");
    let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("valid YAML");
    serde_json::to_value(yaml).expect("YAML convertible to JSON")
}

fn env_of(svc: &Value) -> std::collections::BTreeMap<String, String> {
    match &svc["environment"] {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect(),
        Value::Array(a) => {
            a.iter().filter_map(|v| v.as_str()?.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect()
        }
        _ => Default::default(),
    }
}

fn ports(svc: &Value) -> BTreeSet<String> {
    svc["ports"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn exposed(dockerfile: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{}/{dockerfile}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("EXPOSE "))
        .flat_map(|p| p.split_whitespace().map(str::to_string))
        .collect()
}

fn healthy_dependency(svc: &Value, on: &str) {
    assert_eq!(svc["depends_on"][on]["condition"], "service_healthy", "depends on healthy {on}: {svc}");
}

#[test]
fn services_ports_and_wiring() {
    let c = compose();
    let services = c["services"].as_object().expect("services");
    let names: BTreeSet<_> = services.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["api", "frontend", "postgres"]));

    // postgres
    let pg = &c["services"]["postgres"];
    assert!(pg["image"].as_str().unwrap().starts_with("postgres:"), "official postgres image");
    let pg_env = env_of(pg);
    let (user, password, db) = (&pg_env["POSTGRES_USER"], &pg_env["POSTGRES_PASSWORD"], &pg_env["POSTGRES_DB"]);
    assert!(pg["healthcheck"]["test"].to_string().contains("pg_isready"));
    assert!(pg["volumes"].as_array().is_some_and(|v| !v.is_empty()), "postgres data on a volume");
    assert!(c["volumes"].as_object().is_some_and(|v| !v.is_empty()));

    // api talks to postgres with those credentials
    let api = &c["services"]["api"];
    let api_env = env_of(api);
    let url = &api_env["DATABASE_URL"];
    assert_eq!(
        url,
        &format!("postgres://{user}:{password}@postgres:5432/{db}"),
        "DATABASE_URL matches the postgres service"
    );
    healthy_dependency(api, "postgres");
    let api_port = api_env.get("PORT").cloned().unwrap_or_else(|| "8080".into());
    assert!(exposed("Dockerfile.api").contains(&api_port), "Dockerfile.api exposes {api_port}");
    assert!(ports(api).contains(&format!("8080:{api_port}")), "api published: {:?}", ports(api));
    assert!(api["healthcheck"]["test"].to_string().contains("healthcheck"));
    assert_eq!(api["build"]["dockerfile"], "Dockerfile.api");

    // frontend forwards to the api service
    let fe = &c["services"]["frontend"];
    let fe_env = env_of(fe);
    assert_eq!(fe_env["API_URL"], format!("http://api:{api_port}"));
    healthy_dependency(fe, "api");
    let fe_port = fe_env.get("PORT").cloned().unwrap_or_else(|| "3000".into());
    assert!(exposed("Dockerfile.frontend").contains(&fe_port));
    assert!(ports(fe).contains(&format!("3000:{fe_port}")), "frontend published: {:?}", ports(fe));
    assert_eq!(fe["build"]["dockerfile"], "Dockerfile.frontend");

    // images are built from contexts holding the prebuilt static binaries
    for (svc, bin) in [(api, "api"), (fe, "frontend")] {
        let ctx = svc["build"]["context"].as_str().unwrap();
        assert_eq!(ctx, format!("service/target-image/{bin}"), "build context of {bin}");
        assert!(svc["restart"].is_string());
    }
}
