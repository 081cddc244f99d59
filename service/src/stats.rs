//! CPU and RAM usage of the container the process runs in, sampled in the
//! background once a second so `/stats` never blocks.
//!
//! CPU: when the cgroup (v2 `cpu.max` or v1 `cpu.cfs_quota_us`) sets a CPU
//! quota, usage is the cgroup's CPU time over the quota; otherwise it is the
//! host's CPU usage from sysinfo. RAM: the cgroup memory limit and usage
//! from sysinfo's `cgroup_limits()` when a limit below host memory exists,
//! else host used/total memory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sysinfo::{MemoryRefreshKind, System};

/// Where the figures come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Host = 0,
    Cgroup = 1,
}

/// Latest sample, readable without locking.
#[derive(Default)]
pub struct Stats {
    cpu: AtomicU64,
    ram: AtomicU64,
    cpu_source: AtomicU8,
    ram_source: AtomicU8,
}

impl Stats {
    /// CPU usage in percent (0–100).
    pub fn cpu(&self) -> f64 {
        f64::from_bits(self.cpu.load(Ordering::Relaxed))
    }
    /// Memory usage in percent (0–100).
    pub fn ram(&self) -> f64 {
        f64::from_bits(self.ram.load(Ordering::Relaxed))
    }
    fn source(v: u8) -> &'static str {
        if v == Source::Cgroup as u8 {
            "cgroup"
        } else {
            "host"
        }
    }
    /// `cgroup` or `host`.
    pub fn cpu_source(&self) -> &'static str {
        Self::source(self.cpu_source.load(Ordering::Relaxed))
    }
    /// `cgroup` or `host`.
    pub fn ram_source(&self) -> &'static str {
        Self::source(self.ram_source.load(Ordering::Relaxed))
    }
}

/// CPU quota and usage counter of the process's cgroup.
struct CgroupCpu {
    usage: PathBuf,
    /// usage counter unit in nanoseconds (1000 for v2 usage_usec, 1 for v1)
    unit_ns: f64,
    /// number of CPUs the quota allows
    cpus: f64,
}

impl CgroupCpu {
    fn detect() -> Option<Self> {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut v2_dirs = vec![PathBuf::from("/sys/fs/cgroup")];
        let mut v1_dirs = vec![];
        for line in own.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            let rel = path.trim_start_matches('/');
            if ctrls.is_empty() {
                v2_dirs.insert(0, Path::new("/sys/fs/cgroup").join(rel));
            } else if ctrls.split(',').any(|c| c == "cpu") {
                for base in ["cpu", "cpu,cpuacct", "cpuacct,cpu"] {
                    v1_dirs.push(Path::new("/sys/fs/cgroup").join(base).join(rel));
                    v1_dirs.push(Path::new("/sys/fs/cgroup").join(base));
                }
            }
        }
        for dir in v2_dirs {
            let Ok(max) = std::fs::read_to_string(dir.join("cpu.max")) else {
                continue;
            };
            let mut it = max.split_whitespace();
            let (quota, period) = (it.next()?, it.next()?);
            let (Ok(q), Ok(p)) = (quota.parse::<f64>(), period.parse::<f64>()) else {
                return None;
            };
            if q > 0.0 && p > 0.0 && dir.join("cpu.stat").exists() {
                return Some(Self { usage: dir.join("cpu.stat"), unit_ns: 1000.0, cpus: q / p });
            }
        }
        for dir in v1_dirs {
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok()?.trim().parse::<f64>().ok();
            let (Some(q), Some(p)) = (read("cpu.cfs_quota_us"), read("cpu.cfs_period_us")) else {
                continue;
            };
            if q > 0.0 && p > 0.0 {
                let acct = ["cpuacct.usage"]
                    .iter()
                    .map(|f| dir.join(f))
                    .chain(std::iter::once(Path::new("/sys/fs/cgroup/cpuacct/cpuacct.usage").to_path_buf()))
                    .find(|p| p.exists())?;
                return Some(Self { usage: acct, unit_ns: 1.0, cpus: q / p });
            }
        }
        None
    }

    /// Cumulative CPU time in nanoseconds.
    fn usage_ns(&self) -> Option<f64> {
        let text = std::fs::read_to_string(&self.usage).ok()?;
        let raw = if self.unit_ns == 1.0 {
            text.trim().parse::<f64>().ok()?
        } else {
            text.lines().find_map(|l| l.strip_prefix("usage_usec "))?.trim().parse::<f64>().ok()?
        };
        Some(raw * self.unit_ns)
    }
}

/// Starts the sampler thread and returns the shared figures.
pub fn spawn_sampler(interval: Duration) -> Arc<Stats> {
    let stats = Arc::new(Stats::default());
    let out = stats.clone();
    let spawned = std::thread::Builder::new().name("stats-sampler".into()).spawn(move || {
        let mut sys = System::new();
        let cgroup_cpu = CgroupCpu::detect();
        let mut last = cgroup_cpu.as_ref().and_then(|c| c.usage_ns().map(|u| (Instant::now(), u)));
        sys.refresh_cpu_usage();
        loop {
            std::thread::sleep(interval);
            // CPU
            let mut cpu = None;
            if let (Some(cg), Some((t0, u0))) = (&cgroup_cpu, last) {
                if let Some(u1) = cg.usage_ns() {
                    let t1 = Instant::now();
                    let wall = (t1 - t0).as_nanos() as f64;
                    if wall > 0.0 {
                        cpu = Some(((u1 - u0) / (wall * cg.cpus) * 100.0).clamp(0.0, 100.0));
                    }
                    last = Some((t1, u1));
                }
            }
            match cpu {
                Some(c) => {
                    out.cpu.store(c.to_bits(), Ordering::Relaxed);
                    out.cpu_source.store(Source::Cgroup as u8, Ordering::Relaxed);
                }
                None => {
                    sys.refresh_cpu_usage();
                    let c = f64::from(sys.global_cpu_usage()).clamp(0.0, 100.0);
                    out.cpu.store(c.to_bits(), Ordering::Relaxed);
                    out.cpu_source.store(Source::Host as u8, Ordering::Relaxed);
                }
            }
            // RAM
            sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
            let host_total = sys.total_memory();
            // cgroup_limits() needs /proc/meminfo to have been read (it is
            // missing e.g. in a bare chroot without /proc).
            let limits = if host_total > 0 { sys.cgroup_limits() } else { None };
            let (ram, src) = match limits {
                Some(l) if l.total_memory > 0 && l.total_memory < host_total => {
                    let used = l.total_memory.saturating_sub(l.free_memory);
                    (used as f64 / l.total_memory as f64 * 100.0, Source::Cgroup)
                }
                _ if host_total > 0 => (sys.used_memory() as f64 / host_total as f64 * 100.0, Source::Host),
                _ => (0.0, Source::Host),
            };
            out.ram.store(ram.clamp(0.0, 100.0).to_bits(), Ordering::Relaxed);
            out.ram_source.store(src as u8, Ordering::Relaxed);
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the stats sampler");
    }
    stats
}
