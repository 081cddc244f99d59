//! `faultproxy` command: run the fault-injecting proxy as a process.
//!
//! ```text
//! faultproxy --upstream http://127.0.0.1:PORT [--listen 127.0.0.1:0] [--port-file FILE] [--rules FILE]
//! ```
//! Prints `listening on http://127.0.0.1:NNNN` as the first line of stdout and
//! runs until SIGINT/SIGTERM. Drive it through the `/__faultproxy/` admin API.

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str =
    "usage: faultproxy --upstream http://127.0.0.1:PORT [--listen 127.0.0.1:0] [--port-file FILE] [--rules FILE]";

struct Args {
    upstream: String,
    listen: String,
    port_file: Option<String>,
    rules: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut upstream = None;
    let mut listen = "127.0.0.1:0".to_string();
    let (mut port_file, mut rules) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let mut value = || inline.clone().or_else(|| it.next()).ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--upstream" => upstream = Some(value()?),
            "--listen" => listen = value()?,
            "--port-file" => port_file = Some(value()?),
            "--rules" => rules = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let upstream = upstream.ok_or("--upstream is required")?;
    Ok(Args { upstream, listen, port_file, rules })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("faultproxy: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultproxy: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let initial_rules = match &args.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
            serde_json::from_str::<Vec<faultproxy::Rule>>(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => Vec::new(),
    };
    if let Some(pf) = &args.port_file {
        let tmp = format!("{pf}.tmp");
        std::fs::write(&tmp, format!("{}\n", addr.port()))
            .and_then(|_| std::fs::rename(&tmp, pf))
            .map_err(|e| format!("writing port file {pf}: {e}"))?;
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    }
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    faultproxy::serve(listener, &args.upstream, initial_rules, shutdown).await.map_err(|e| e.to_string())
}
