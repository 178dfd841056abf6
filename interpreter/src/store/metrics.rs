//! The figures a report carries: durations as people read them, coordination
//! overhead, peak memory.

use std::time::Duration;

/// `1.204s`
pub fn human_duration(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// The overhead's share of the wall time, as a percentage with two decimals.
pub fn overhead(wall: Duration, overhead: Duration) -> String {
    let w = wall.as_secs_f64();
    if w <= 0.0 {
        return "0.00%".into();
    }
    let o = (overhead.as_secs_f64() / w * 100.0).clamp(0.0, 100.0);
    format!("{o:.2}%")
}

/// A duration in milliseconds, to a tenth.
pub fn milliseconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// How long runs are before a percentage of overhead means something: below it,
/// process start-up and timer resolution dominate.
const PERCENT_FROM: Duration = Duration::from_secs(1);

/// `overhead 1.4 ms`, with the percentage for runs of a second or more.
pub fn overhead_line(wall: Duration, overhead: Duration) -> String {
    let ms = milliseconds(overhead);
    if wall >= PERCENT_FROM {
        format!("overhead {ms:.1} ms, {}", self::overhead(wall, overhead))
    } else {
        format!("overhead {ms:.1} ms")
    }
}

/// Peak resident set size of this process and of its largest waited-for child, in bytes.
pub fn peak_memory() -> (u64, u64) {
    let read = |who| {
        // SAFETY: getrusage writes into the zeroed struct we own; no other preconditions.
        unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            if libc::getrusage(who, &mut usage) == 0 {
                u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024
            } else {
                0
            }
        }
    };
    (read(libc::RUSAGE_SELF), read(libc::RUSAGE_CHILDREN))
}

/// `14MB`
pub fn megabytes(bytes: u64) -> String {
    format!("{}MB", bytes.div_ceil(1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(human_duration(Duration::from_millis(1204)), "1.204s");
        assert_eq!(overhead(Duration::from_secs(4), Duration::from_secs(1)), "25.00%");
        assert_eq!(megabytes(14 * 1024 * 1024), "14MB");
        assert_eq!(milliseconds(Duration::from_micros(1_449)), 1.4);
        assert_eq!(overhead_line(Duration::from_millis(39), Duration::from_millis(14)), "overhead 14.0 ms");
        assert_eq!(overhead_line(Duration::from_secs(4), Duration::from_secs(1)), "overhead 1000.0 ms, 25.00%");
        let (me, _) = peak_memory();
        assert!(me > 0);
    }
}
