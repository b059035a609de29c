//! A cron schedule as `robfig/cron/v3`'s `ParseStandard` reads it (what the apiserver
//! validates `spec.schedule` with and the CronJob controller ticks by): five fields
//! (minute, hour, day of month, month, day of week) of `*`, `?`, numbers, names
//! (`jan`, `mon`), ranges `a-b` and steps `/n`, or a descriptor (`@hourly`, `@daily`…),
//! evaluated in a time zone (`spec.timeZone`, UTC when unset).
//!
//! Our own small parser, because no maintained crate parses exactly this dialect: the
//! `cron` crate wants a seconds field, and robfig's rule that a day of month and a day of
//! week both restricted match either one is easy to get subtly wrong elsewhere.

use k8s_openapi::jiff::civil::{Date, DateTime};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{Timestamp, ToSpan};

/// Why a schedule does not parse; the texts are robfig's (the apiserver shows them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("empty spec string")]
    Empty,
    #[error("expected exactly 5 fields, found {0}: [{1}]")]
    FieldCount(usize, String),
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    #[error("too many hyphens: {0}")]
    Hyphens(String),
    #[error("too many slashes: {0}")]
    Slashes(String),
    #[error("failed to parse int from {0}: strconv.Atoi: parsing {0:?}: invalid syntax")]
    NotANumber(String),
    #[error("negative number ({0}) not allowed: {1}")]
    Negative(i64, String),
    #[error("beginning of range ({0}) below minimum ({1}): {2}")]
    BelowMinimum(u32, u32, String),
    #[error("end of range ({0}) above maximum ({1}): {2}")]
    AboveMaximum(u32, u32, String),
    #[error("beginning of range ({0}) beyond end of range ({1}): {2}")]
    Inverted(u32, u32, String),
    #[error("step of range should be a positive number: {0}")]
    Step(String),
    #[error("provided bad location {0}: unknown time zone {0}")]
    Location(String),
}

/// One field's bounds and names.
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DOM: Bounds = Bounds { min: 1, max: 31, names: &[] };
const MONTHS: Bounds =
    Bounds { min: 1, max: 12, names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] };
const DOW: Bounds = Bounds { min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

/// Set when a field was `*` or `?` (robfig's `starBit`): it decides how day of month and
/// day of week combine.
const STAR: u64 = 1 << 63;

/// A parsed schedule: a bit set per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// A `CRON_TZ=`/`TZ=` prefix (the apiserver refuses them in new objects).
    zone: Option<String>,
}

impl Schedule {
    /// `cron.ParseStandard`.
    pub fn parse(spec: &str) -> Result<Schedule, ScheduleError> {
        let mut spec = spec.trim();
        if spec.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let mut zone = None;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let (head, rest) = spec.split_once(' ').unwrap_or((spec, ""));
            let name = head.split_once('=').map(|(_, n)| n).unwrap_or_default();
            time_zone(name).ok_or_else(|| ScheduleError::Location(name.to_string()))?;
            zone = Some(name.to_string());
            spec = rest.trim();
        }
        if let Some(d) = spec.strip_prefix('@') {
            let fields = match d {
                "yearly" | "annually" => "0 0 1 1 *",
                "monthly" => "0 0 1 * *",
                "weekly" => "0 0 * * 0",
                "daily" | "midnight" => "0 0 * * *",
                "hourly" => "0 * * * *",
                _ => return Err(ScheduleError::Descriptor(spec.to_string())),
            };
            return Schedule::parse(fields).map(|s| Schedule { zone, ..s });
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(ScheduleError::FieldCount(fields.len(), fields.join(" ")));
        }
        Ok(Schedule {
            minute: field(fields[0], &MINUTES)?,
            hour: field(fields[1], &HOURS)?,
            dom: field(fields[2], &DOM)?,
            month: field(fields[3], &MONTHS)?,
            dow: field(fields[4], &DOW)?,
            zone,
        })
    }

    /// The zone a `TZ=` prefix names, if the schedule has one.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// robfig's `dayMatches`: when either day field is a star both must match, else either.
    fn day_matches(&self, d: Date) -> bool {
        let dom = self.dom & (1 << d.day()) != 0;
        let dow = self.dow & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// `SpecSchedule.Next`: the first tick strictly after `after`, in `tz`; `None` when
    /// there is none within five years (robfig gives up there too, e.g. `0 0 30 2 *`).
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = tz.to_datetime(after);
        let limit = start.year() + 5;
        let mut t = start.with().second(0).subsec_nanosecond(0).build().ok()?.checked_add(1.minute()).ok()?;
        while t.year() <= limit {
            if self.month & (1 << t.month()) == 0 {
                t = first_of_next_month(t)?;
            } else if !self.day_matches(t.date()) {
                t = t.date().checked_add(1.day()).ok()?.to_datetime(midnight());
            } else if self.hour & (1 << t.hour()) == 0 {
                t = t.with().minute(0).build().ok()?.checked_add(1.hour()).ok()?;
            } else if self.minute & (1 << t.minute()) == 0 {
                t = t.checked_add(1.minute()).ok()?;
            } else {
                let ts = tz.to_ambiguous_zoned(t).compatible().ok()?.timestamp();
                // A local time skipped by a DST change resolves to a later instant.
                if ts > after {
                    return Some(ts);
                }
                t = t.checked_add(1.minute()).ok()?;
            }
        }
        None
    }
}

fn midnight() -> k8s_openapi::jiff::civil::Time {
    k8s_openapi::jiff::civil::Time::midnight()
}

fn first_of_next_month(t: DateTime) -> Option<DateTime> {
    let first = t.date().first_of_month().checked_add(1.month()).ok()?;
    Some(first.to_datetime(midnight()))
}

/// `getField`: comma-separated ranges.
fn field(text: &str, b: &Bounds) -> Result<u64, ScheduleError> {
    text.split(',').try_fold(0, |bits, expr| Ok(bits | range(expr, b)?))
}

/// `getRange`: `*`, `?`, `n`, `a-b`, each with an optional `/step`.
fn range(expr: &str, b: &Bounds) -> Result<u64, ScheduleError> {
    let parts: Vec<&str> = expr.split('/').collect();
    let bounds: Vec<&str> = parts[0].split('-').collect();
    let single = bounds.len() == 1;
    let (start, mut end, mut extra) = if parts[0] == "*" || parts[0] == "?" {
        (b.min, b.max, STAR)
    } else {
        let start = value(bounds[0], b, expr)?;
        match bounds.len() {
            1 => (start, start, 0),
            2 => (start, value(bounds[1], b, expr)?, 0),
            _ => return Err(ScheduleError::Hyphens(expr.to_string())),
        }
    };
    let step = match parts.len() {
        1 => 1,
        2 => {
            let step = number(parts[1], expr)?;
            // `n/step` means `n-max/step`.
            if single && extra == 0 {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(ScheduleError::Slashes(expr.to_string())),
    };
    if start < b.min {
        return Err(ScheduleError::BelowMinimum(start, b.min, expr.to_string()));
    }
    if end > b.max {
        return Err(ScheduleError::AboveMaximum(end, b.max, expr.to_string()));
    }
    if start > end {
        return Err(ScheduleError::Inverted(start, end, expr.to_string()));
    }
    if step == 0 {
        return Err(ScheduleError::Step(expr.to_string()));
    }
    let bits = (start..=end).step_by(step as usize).fold(0u64, |acc, i| acc | 1 << i);
    Ok(bits | extra)
}

/// `parseIntOrName`.
fn value(text: &str, b: &Bounds, expr: &str) -> Result<u32, ScheduleError> {
    let lower = text.to_ascii_lowercase();
    match b.names.iter().position(|n| *n == lower) {
        Some(i) => Ok(u32::try_from(i).unwrap_or(0) + b.min),
        None => number(text, expr),
    }
}

/// `mustParseInt`.
fn number(text: &str, expr: &str) -> Result<u32, ScheduleError> {
    let n: i64 = text.parse().map_err(|_| ScheduleError::NotANumber(text.to_string()))?;
    if n < 0 {
        return Err(ScheduleError::Negative(n, expr.to_string()));
    }
    u32::try_from(n).ok().filter(|n| *n < 64).ok_or_else(|| ScheduleError::AboveMaximum(63, 63, expr.to_string()))
}

/// `time.LoadLocation`: UTC, or a zone of the system's tz database.
pub fn time_zone(name: &str) -> Option<TimeZone> {
    if name.is_empty() || name == "UTC" {
        return Some(TimeZone::UTC);
    }
    if name == "Local" || name.split('/').any(|p| p.is_empty() || p == "." || p == "..") {
        return None;
    }
    let bytes = std::fs::read(std::path::Path::new("/usr/share/zoneinfo").join(name)).ok()?;
    TimeZone::tzif(name, &bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn next_ticks() {
        let cases: &[(&str, &str, &str)] = &[
            ("*/1 * * * *", "2026-12-07T15:06:29Z", "2026-12-07T15:07:00Z"),
            ("*/15 * * * *", "2026-12-07T15:06:00Z", "2026-12-07T15:15:00Z"),
            ("0 * * * *", "2026-12-07T15:00:00Z", "2026-12-07T16:00:00Z"),
            ("@hourly", "2026-12-07T15:59:59Z", "2026-12-07T16:00:00Z"),
            ("@daily", "2026-12-07T15:00:00Z", "2026-12-08T00:00:00Z"),
            ("@weekly", "2026-12-07T15:00:00Z", "2026-12-13T00:00:00Z"),
            ("@monthly", "2026-12-07T15:00:00Z", "2027-01-01T00:00:00Z"),
            ("@yearly", "2026-12-07T15:00:00Z", "2027-01-01T00:00:00Z"),
            ("30 2 * * mon-fri", "2026-12-11T03:00:00Z", "2026-12-14T02:30:00Z"),
            ("0 0 29 feb *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
            // Both day fields restricted: either matches (the 13th, or any Friday).
            ("0 0 13 * 5", "2026-12-07T00:00:00Z", "2026-12-11T00:00:00Z"),
            ("5-10/5 1 * JAN,dec ?", "2026-12-07T15:00:00Z", "2026-12-08T01:05:00Z"),
        ];
        for (spec, after, want) in cases {
            let s = Schedule::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(s.next(at(after), &TimeZone::UTC), Some(at(want)), "{spec} after {after}");
        }
        assert_eq!(Schedule::parse("0 0 30 2 *").unwrap().next(at("2026-01-01T00:00:00Z"), &TimeZone::UTC), None);
    }

    #[test]
    fn next_in_a_time_zone() {
        let Some(tz) = time_zone("Europe/Paris") else { return };
        let s = Schedule::parse("0 9 * * *").unwrap();
        assert_eq!(s.next(at("2026-12-07T09:00:00Z"), &tz), Some(at("2026-12-08T08:00:00Z")));
        assert_eq!(time_zone("Etc/UTC").map(|z| z.to_offset(Timestamp::UNIX_EPOCH).seconds()), Some(0));
        assert!(time_zone("Mars/Olympus").is_none());
    }

    #[test]
    fn errors_are_robfigs() {
        let cases: &[(&str, &str)] = &[
            ("", "empty spec string"),
            ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
            ("60 * * * *", "end of range (60) above maximum (59): 60"),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            ("5-2 * * * *", "beginning of range (5) beyond end of range (2): 5-2"),
            ("*/0 * * * *", "step of range should be a positive number: */0"),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("*/1/2 * * * *", "too many slashes: */1/2"),
            ("x * * * *", "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"),
            ("* * * * 7", "end of range (7) above maximum (6): 7"),
            ("TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"),
        ];
        for (spec, want) in cases {
            assert_eq!(Schedule::parse(spec).map(|_| ()).unwrap_err().to_string(), *want, "{spec:?}");
        }
        assert_eq!(Schedule::parse("TZ=UTC 0 * * * *").unwrap().zone(), Some("UTC"));
    }
}
