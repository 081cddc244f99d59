//! A small hand-made Prometheus registry: request counts and latency
//! histograms labelled by method, route and status, rendered as text
//! exposition format 0.0.4 on `/metrics`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Series {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

type Key = (String, String, u16);

/// route -> [(method, status, series)]
type ByRoute = HashMap<String, Vec<(String, u16, Series)>>;

/// Request metrics of one process. Series are grouped by route so that the
/// hot path (`observe`) looks them up without allocating.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<ByRoute>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, latency: Duration) {
        let secs = latency.as_secs_f64();
        let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let by_route = match map.get_mut(route) {
            Some(v) => v,
            None => map.entry(route.to_string()).or_default(),
        };
        let idx = match by_route.iter().position(|(m, st, _)| *st == status && m == method) {
            Some(i) => i,
            None => {
                by_route.push((method.to_string(), status, Series::default()));
                by_route.len() - 1
            }
        };
        let s = &mut by_route[idx].2;
        s.count += 1;
        s.sum += secs;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            s.buckets[i] += 1;
        }
    }

    /// Renders all series in Prometheus text format.
    pub fn render(&self) -> String {
        let grouped = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let map: HashMap<Key, &Series> = grouped
            .iter()
            .flat_map(|(route, v)| v.iter().map(move |(m, st, s)| ((m.clone(), route.clone(), *st), s)))
            .collect();
        let mut keys: Vec<&Key> = map.keys().collect();
        keys.sort();
        let mut out = String::with_capacity(256 + keys.len() * 1200);
        out.push_str("# HELP http_requests_total HTTP requests answered, by method, route and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for k in &keys {
            let s = &map[*k];
            let _ = writeln!(out, "http_requests_total{{{}}} {}", labels(k), s.count);
        }
        out.push_str("# HELP http_request_duration_seconds HTTP request latency, by method, route and status.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for k in &keys {
            let s = &map[*k];
            let l = labels(k);
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(s.buckets.iter()) {
                cumulative += n;
                let _ = writeln!(out, "http_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {cumulative}");
            }
            let _ = writeln!(out, "http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "http_request_duration_seconds_sum{{{l}}} {}", s.sum);
            let _ = writeln!(out, "http_request_duration_seconds_count{{{l}}} {}", s.count);
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn labels((method, route, status): &Key) -> String {
    format!("method=\"{}\",route=\"{}\",status=\"{status}\"", escape(method), escape(route))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::new();
        m.observe("GET", "/api/time", 200, Duration::from_micros(300));
        m.observe("GET", "/api/time", 200, Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("http_requests_total{method=\"GET\",route=\"/api/time\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.0005\"} 1"));
        assert!(text.contains("le=\"0.005\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
