//! When each property syncs: a state machine with no clock, no randomness and no I/O
//! of its own. The caller passes the time (milliseconds on any monotonic clock) and a
//! source of random numbers in `[0, 1)`, starts the syncs [`Schedule::start_due`]
//! names, and reports each outcome to [`Schedule::finished`]; a thin tokio loop drives
//! it in the API (`epms_api::scheduler::run`), and the tests below drive it through
//! simulated days.
//!
//! The rules:
//! - A property is scheduled once it has a credential and PMS properties attached.
//! - A property never synced, or whose last good sync is older than its interval, is
//!   due when it is first seen, spread over `startup_spread_seconds` so that a restart
//!   does not fire every sync in the same second; otherwise it is due an interval after
//!   its last good sync.
//! - Each wait is the interval ± `jitter_percent`, drawn afresh, counted from the start
//!   of the sync.
//! - At most `max_concurrent` syncs run at once, and `max_per_vendor` of one vendor; a
//!   property waiting for its vendor holds nothing, so other vendors go on.
//! - A failed sync that may succeed later is retried with exponential backoff (or the
//!   PMS's `Retry-After`), at most `max_attempts` attempts in all; a wait longer than
//!   the interval is not waited: the next scheduled sync takes over.
//! - A sync that could not start (another host holds the property's lease, or the
//!   vendor's limit across hosts is reached) is deferred: due again after the wait
//!   given, without counting as an attempt.
//! - Several hosts schedule every property: a good sync seen in the store that this
//!   schedule did not run (another host's) counts as the regular sync, so the next one
//!   is due an interval after it, and a retry waiting here is dropped.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Shortest sync interval a property may choose.
pub const MIN_INTERVAL_MINUTES: u32 = 5;
/// Longest sync interval a property may choose (a week).
pub const MAX_INTERVAL_MINUTES: u32 = 7 * 24 * 60;

/// How scheduled syncs run. Every field has a default that works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Run scheduled syncs at all (Sync Now works either way).
    pub enabled: bool,
    /// Interval of properties that set none.
    pub default_interval_minutes: u32,
    /// Each wait is the interval ± this percentage.
    pub jitter_percent: u8,
    /// Syncs running at once, all vendors together.
    pub max_concurrent: usize,
    /// Syncs running at once against one vendor.
    pub max_per_vendor: usize,
    /// Attempts of one scheduled sync, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles each retry.
    pub retry_base_seconds: u64,
    /// Longest backoff (a `Retry-After` may be longer, up to the interval).
    pub retry_max_seconds: u64,
    /// Due properties at start-up are spread over this many seconds.
    pub startup_spread_seconds: u64,
    /// How often the driver looks for changed properties, in milliseconds.
    pub tick_millis: u64,
    /// How long a host's hold on a property it syncs lasts unless renewed (every third
    /// of it): the longest a property waits when its host died mid-sync (3 to 3,600).
    pub lease_seconds: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            default_interval_minutes: 60,
            jitter_percent: 10,
            max_concurrent: 8,
            max_per_vendor: 3,
            max_attempts: 4,
            retry_base_seconds: 5,
            retry_max_seconds: 300,
            startup_spread_seconds: 30,
            tick_millis: 1_000,
            lease_seconds: 60,
        }
    }
}

impl SchedulerConfig {
    /// Checks the values a person may get wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_INTERVAL_MINUTES..=MAX_INTERVAL_MINUTES).contains(&self.default_interval_minutes) {
            return Err(format!(
                "default_interval_minutes must be between {MIN_INTERVAL_MINUTES} and {MAX_INTERVAL_MINUTES}"
            ));
        }
        if self.jitter_percent > 50 {
            return Err("jitter_percent must be at most 50".into());
        }
        if self.max_concurrent == 0 || self.max_per_vendor == 0 || self.max_attempts == 0 {
            return Err(
                "max_concurrent, max_per_vendor and max_attempts must be at least 1".into(),
            );
        }
        if self.tick_millis == 0 {
            return Err("tick_millis must be at least 1".into());
        }
        if !(3..=3_600).contains(&self.lease_seconds) {
            return Err("lease_seconds must be between 3 and 3600".into());
        }
        Ok(())
    }

    /// A property's interval (`None`: the default).
    pub fn interval(&self, property_minutes: Option<u32>) -> Duration {
        Duration::from_secs(
            u64::from(property_minutes.unwrap_or(self.default_interval_minutes)) * 60,
        )
    }

    /// `interval` ± the jitter, with `random` in `[0, 1)`.
    pub fn jittered(&self, interval: Duration, random: f64) -> Duration {
        let spread = interval.as_secs_f64() * f64::from(self.jitter_percent) / 100.0;
        let offset = (random * 2.0 - 1.0) * spread;
        Duration::from_secs_f64((interval.as_secs_f64() + offset).max(1.0))
    }

    /// The wait before retry number `retry` (1-based), honouring the PMS's hint; `None`
    /// when it would not come before the next scheduled sync.
    pub fn backoff(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        interval: Duration,
        random: f64,
    ) -> Option<Duration> {
        let wait = match retry_after {
            Some(hint) => hint,
            None => {
                let base = Duration::from_secs(self.retry_base_seconds);
                let exp = base.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
                let capped = exp.min(Duration::from_secs(self.retry_max_seconds));
                // Up to a quarter more, so retries of many properties do not align.
                capped + capped.mul_f64(random * 0.25)
            }
        };
        (wait < interval).then_some(wait)
    }
}

/// A property that can be synced, as the store lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedulable {
    pub id: String,
    /// Its credential's vendor (the per-vendor limit counts by it).
    pub vendor: String,
    pub interval: Duration,
    /// How long ago its last good sync finished, if it had one.
    pub since_last_ok: Option<Duration>,
    /// What identifies that sync (its finish time as the store records it): a new
    /// value is a good sync since the last update, wherever it ran.
    pub last_ok_marker: Option<i64>,
}

/// How a sync the schedule started ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed {
        /// Trying again later may succeed (rate limits, transient faults, deadlines).
        retryable: bool,
        /// The PMS's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// It did not start (the property's lease is held elsewhere, or the vendor is at
    /// its limit across hosts); try again after `wait`. Not an attempt.
    Deferred {
        wait: Duration,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    vendor: String,
    interval: Duration,
    /// When it is due next (ms on the caller's clock).
    due: u64,
    /// When the next regular sync is due, set as a sync starts.
    next_regular: u64,
    /// Attempt number of the sync running or waiting to be retried (1 = first).
    attempt: u32,
    running: bool,
    /// The last good sync this schedule knows of ([`Schedulable::last_ok_marker`]).
    last_ok_marker: Option<i64>,
}

/// The schedule of every property that can be synced.
#[derive(Debug, Clone)]
pub struct Schedule {
    config: SchedulerConfig,
    entries: BTreeMap<String, Entry>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Schedule {
    pub fn new(config: SchedulerConfig) -> Schedule {
        Schedule {
            config,
            entries: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Brings the schedule up to date with the properties that can be synced now: new
    /// ones are scheduled, changed ones keep their due time with their new interval
    /// and vendor, and ones no longer listed are forgotten (a running sync of one ends
    /// as it will, reported or not).
    pub fn update(
        &mut self,
        now: u64,
        properties: impl IntoIterator<Item = Schedulable>,
        random: &mut dyn FnMut() -> f64,
    ) {
        let mut seen = std::collections::HashSet::new();
        for p in properties {
            seen.insert(p.id.clone());
            let config = &self.config;
            let entry = self.entries.entry(p.id).or_insert_with(|| {
                let due = match p.since_last_ok {
                    Some(ago) if ago < p.interval => {
                        let wait = config.jittered(p.interval, random()).saturating_sub(ago);
                        now.saturating_add(ms(wait))
                    }
                    _ => now.saturating_add(ms(Duration::from_secs_f64(
                        random() * config.startup_spread_seconds as f64,
                    ))),
                };
                Entry {
                    vendor: p.vendor.clone(),
                    interval: p.interval,
                    due,
                    next_regular: due,
                    attempt: 1,
                    running: false,
                    last_ok_marker: p.last_ok_marker,
                }
            });
            entry.vendor = p.vendor;
            entry.interval = p.interval;
            if !entry.running && entry.last_ok_marker != p.last_ok_marker {
                entry.last_ok_marker = p.last_ok_marker;
                if let Some(ago) = p.since_last_ok {
                    // A good sync happened since (this host's or another's): the next
                    // regular one counts from it, and a retry is no longer needed.
                    let wait = config.jittered(p.interval, random()).saturating_sub(ago);
                    entry.attempt = 1;
                    entry.due = now.saturating_add(ms(wait));
                    entry.next_regular = entry.due;
                }
            }
        }
        self.entries.retain(|id, _| seen.contains(id));
    }

    /// The syncs to start now, earliest due first, as many as the limits allow; each is
    /// marked running until [`Schedule::finished`] hears of it.
    pub fn start_due(&mut self, now: u64, random: &mut dyn FnMut() -> f64) -> Vec<String> {
        let mut per_vendor: HashMap<String, usize> = HashMap::new();
        let mut running = 0;
        for e in self.entries.values().filter(|e| e.running) {
            *per_vendor.entry(e.vendor.clone()).or_default() += 1;
            running += 1;
        }
        let mut due: Vec<(u64, String)> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.running && e.due <= now)
            .map(|(id, e)| (e.due, id.clone()))
            .collect();
        due.sort();
        let mut started = Vec::new();
        for (_, id) in due {
            if running >= self.config.max_concurrent {
                break;
            }
            let Some(e) = self.entries.get_mut(&id) else {
                continue;
            };
            let of_vendor = per_vendor.entry(e.vendor.clone()).or_default();
            if *of_vendor >= self.config.max_per_vendor {
                continue;
            }
            *of_vendor += 1;
            running += 1;
            e.running = true;
            if e.attempt == 1 {
                e.next_regular = now.saturating_add(ms(self.config.jittered(e.interval, random())));
            }
            started.push(id);
        }
        started
    }

    /// A sync [`Schedule::start_due`] started has ended.
    pub fn finished(
        &mut self,
        id: &str,
        now: u64,
        outcome: Outcome,
        random: &mut dyn FnMut() -> f64,
    ) {
        let Some(e) = self.entries.get_mut(id) else {
            return;
        };
        e.running = false;
        if let Outcome::Deferred { wait } = outcome {
            e.due = now.saturating_add(ms(wait));
            return;
        }
        if let Outcome::Failed {
            retryable: true,
            retry_after,
        } = outcome
            && e.attempt < self.config.max_attempts
            && let Some(wait) = self
                .config
                .backoff(e.attempt, retry_after, e.interval, random())
        {
            e.attempt += 1;
            e.due = now.saturating_add(ms(wait));
            return;
        }
        e.attempt = 1;
        e.due = e.next_regular.max(now);
    }

    /// When the earliest property not running is due, if any is.
    pub fn next_due(&self) -> Option<u64> {
        self.entries
            .values()
            .filter(|e| !e.running)
            .map(|e| e.due)
            .min()
    }

    /// How many syncs the schedule has running.
    pub fn running(&self) -> usize {
        self.entries.values().filter(|e| e.running).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    /// A deterministic source of numbers in `[0, 1)`.
    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn property(id: &str, vendor: &str, since_last_ok: Option<u64>) -> Schedulable {
        Schedulable {
            id: id.into(),
            vendor: vendor.into(),
            interval: Duration::from_secs(3600),
            since_last_ok: since_last_ok.map(Duration::from_millis),
            last_ok_marker: None,
        }
    }

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let c = SchedulerConfig {
            retry_base_seconds: 2,
            retry_max_seconds: 10,
            ..SchedulerConfig::default()
        };
        let hour = Duration::from_secs(3600);
        assert_eq!(c.backoff(1, None, hour, 0.0), Some(Duration::from_secs(2)));
        let second = c.backoff(2, None, hour, 0.99).unwrap();
        assert!(second >= Duration::from_secs(4) && second <= Duration::from_secs(5));
        let capped = c.backoff(30, None, hour, 0.5).unwrap();
        assert!(capped >= Duration::from_secs(10) && capped <= Duration::from_millis(12_500));
        assert_eq!(
            c.backoff(1, Some(Duration::from_secs(42)), hour, 0.5),
            Some(Duration::from_secs(42))
        );
        assert_eq!(
            c.backoff(1, Some(Duration::from_secs(7200)), hour, 0.5),
            None
        );
    }

    #[test]
    fn jitter_stays_within_its_percentage() {
        let c = SchedulerConfig::default();
        let mut random = lcg(1);
        for _ in 0..1_000 {
            let d = c
                .jittered(Duration::from_secs(3600), random())
                .as_secs_f64();
            assert!((3240.0..=3960.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn bad_configs_are_refused() {
        for bad in [
            SchedulerConfig {
                default_interval_minutes: 1,
                ..Default::default()
            },
            SchedulerConfig {
                jitter_percent: 90,
                ..Default::default()
            },
            SchedulerConfig {
                max_concurrent: 0,
                ..Default::default()
            },
            SchedulerConfig {
                tick_millis: 0,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert_eq!(SchedulerConfig::default().validate(), Ok(()));
    }

    #[test]
    fn a_property_synced_recently_waits_its_interval_and_a_stale_one_is_due_within_the_spread() {
        let mut s = Schedule::new(SchedulerConfig::default());
        let mut random = lcg(2);
        s.update(
            0,
            [
                property("fresh", "yardi", Some(10 * MINUTE)),
                property("stale", "yardi", Some(2 * 60 * MINUTE)),
                property("never", "mri", None),
            ],
            &mut random,
        );
        let mut started = s.start_due(30_000, &mut random);
        started.sort();
        assert_eq!(
            started,
            ["never", "stale"],
            "both within the 30 s start-up spread"
        );
        assert!(s.start_due(30 * MINUTE, &mut random).is_empty());
        // Due about 50 minutes on (an interval after its last good sync, ± 10 %).
        assert_eq!(s.start_due(57 * MINUTE, &mut random), ["fresh"]);
    }

    #[test]
    fn a_retryable_failure_is_retried_with_backoff_then_given_up_until_the_next_interval() {
        let config = SchedulerConfig {
            max_attempts: 3,
            startup_spread_seconds: 0,
            ..SchedulerConfig::default()
        };
        let mut s = Schedule::new(config);
        let mut random = lcg(3);
        s.update(0, [property("p", "yardi", None)], &mut random);
        assert_eq!(s.start_due(0, &mut random), ["p"]);
        let rate_limited = Outcome::Failed {
            retryable: true,
            retry_after: Some(Duration::from_secs(9)),
        };
        s.finished("p", 1_000, rate_limited, &mut random);
        assert!(
            s.start_due(9_999, &mut random).is_empty(),
            "Retry-After honoured"
        );
        assert_eq!(s.start_due(10_000, &mut random), ["p"]);
        s.finished("p", 11_000, rate_limited, &mut random);
        assert_eq!(s.start_due(20_000, &mut random), ["p"]);
        // The third attempt was the last: the next is the regular one, an interval
        // (± jitter) after the first attempt started.
        s.finished("p", 21_000, rate_limited, &mut random);
        assert!(s.start_due(50 * MINUTE, &mut random).is_empty());
        assert_eq!(s.start_due(67 * MINUTE, &mut random), ["p"]);
        // A failure that cannot succeed later is not retried.
        s.finished(
            "p",
            68 * MINUTE,
            Outcome::Failed {
                retryable: false,
                retry_after: None,
            },
            &mut random,
        );
        assert!(s.start_due(69 * MINUTE, &mut random).is_empty());
    }

    #[test]
    fn a_retry_after_longer_than_the_interval_is_left_to_the_next_scheduled_sync() {
        let mut s = Schedule::new(SchedulerConfig {
            startup_spread_seconds: 0,
            ..SchedulerConfig::default()
        });
        let mut random = lcg(4);
        s.update(0, [property("p", "yardi", None)], &mut random);
        s.start_due(0, &mut random);
        s.finished(
            "p",
            1_000,
            Outcome::Failed {
                retryable: true,
                retry_after: Some(Duration::from_secs(7200)),
            },
            &mut random,
        );
        let next = s.next_due().unwrap();
        assert!((54 * MINUTE..=66 * MINUTE).contains(&next), "{next}");
    }

    /// Simulated time: 40 properties over three vendors, syncs of random length, some
    /// failing; the limits hold at every step, every property syncs about hourly, and
    /// one whose vendor is full never blocks another vendor.
    #[test]
    fn over_a_simulated_day_the_limits_hold_and_every_property_syncs_about_hourly() {
        let config = SchedulerConfig {
            max_concurrent: 4,
            max_per_vendor: 2,
            ..SchedulerConfig::default()
        };
        let mut s = Schedule::new(config.clone());
        let mut random = lcg(5);
        let vendors = ["yardi", "mri", "entrata"];
        let properties: Vec<Schedulable> = (0..40)
            .map(|i| property(&format!("p{i}"), vendors[i % 3], None))
            .collect();
        s.update(0, properties.clone(), &mut random);
        let mut running: Vec<(u64, String)> = Vec::new(); // (ends at, id)
        let mut syncs: HashMap<String, usize> = HashMap::new();
        let vendor_of = |id: &str| vendors[id[1..].parse::<usize>().unwrap() % 3];
        let day = 24 * 60 * MINUTE;
        let mut now = 0;
        while now < day {
            running.sort();
            while running.first().is_some_and(|(end, _)| *end <= now) {
                let (_, id) = running.remove(0);
                let outcome = if random() < 0.1 {
                    Outcome::Failed {
                        retryable: true,
                        retry_after: None,
                    }
                } else {
                    Outcome::Succeeded
                };
                s.finished(&id, now, outcome, &mut random);
            }
            for id in s.start_due(now, &mut random) {
                *syncs.entry(id.clone()).or_default() += 1;
                running.push((now + 10_000 + (random() * 120_000.0) as u64, id));
            }
            assert!(running.len() <= config.max_concurrent);
            for v in vendors {
                let of_vendor = running.iter().filter(|(_, id)| vendor_of(id) == v).count();
                assert!(of_vendor <= config.max_per_vendor, "{v}: {of_vendor}");
            }
            assert_eq!(s.running(), running.len());
            now += 1_000;
        }
        for p in &properties {
            let n = syncs.get(&p.id).copied().unwrap_or(0);
            assert!((22..=32).contains(&n), "{}: {n} syncs in a day", p.id);
        }
    }

    #[test]
    fn a_property_no_longer_set_up_is_forgotten() {
        let mut s = Schedule::new(SchedulerConfig::default());
        let mut random = lcg(6);
        s.update(
            0,
            [property("a", "yardi", None), property("b", "yardi", None)],
            &mut random,
        );
        s.update(0, [property("a", "yardi", None)], &mut random);
        let started = s.start_due(60_000, &mut random);
        assert_eq!(started, ["a"]);
    }

    #[test]
    fn a_deferred_sync_is_due_again_after_its_wait_and_is_not_an_attempt() {
        let config = SchedulerConfig {
            max_attempts: 2,
            ..SchedulerConfig::default()
        };
        let mut s = Schedule::new(config);
        let mut random = lcg(8);
        s.update(0, [property("a", "yardi", None)], &mut random);
        let start = s.next_due().unwrap();
        for round in 0..5u64 {
            let now = start + round * 10_000;
            assert_eq!(s.start_due(now, &mut random), ["a"], "round {round}");
            let wait = Duration::from_secs(10);
            s.finished("a", now, Outcome::Deferred { wait }, &mut random);
            assert_eq!(s.next_due(), Some(now + 10_000));
        }
        // Five deferrals later a failure is still the first attempt: it is retried.
        let now = start + 50_000;
        assert_eq!(s.start_due(now, &mut random), ["a"]);
        let failed = Outcome::Failed {
            retryable: true,
            retry_after: None,
        };
        s.finished("a", now, failed, &mut random);
        assert!(
            s.next_due().unwrap() < now + 60 * MINUTE,
            "retried, not given up"
        );
    }

    /// Three hosts schedule the same properties; a shared store (here: leases and each
    /// property's last good sync) decides who runs what. Over a simulated day no
    /// property syncs on two hosts at once, the vendor limit holds across hosts, and
    /// each property syncs about hourly in all (not three times as often).
    #[test]
    fn three_hosts_share_the_work_through_leases_and_the_last_good_sync() {
        let config = SchedulerConfig {
            max_concurrent: 4,
            max_per_vendor: 2,
            ..SchedulerConfig::default()
        };
        let mut random = lcg(9);
        let vendors = ["yardi", "mri"];
        let ids: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
        let vendor_of = |id: &str| vendors[id[1..].parse::<usize>().unwrap() % 2];
        let mut hosts: Vec<Schedule> = (0..3).map(|_| Schedule::new(config.clone())).collect();
        // The store: lease holder per property, last good sync per property (ms).
        let mut leases: HashMap<String, (usize, u64)> = HashMap::new(); // id → (host, ends at)
        let mut last_ok: HashMap<String, u64> = HashMap::new();
        let mut syncs: HashMap<String, usize> = HashMap::new();
        let day = 24 * 60 * MINUTE;
        let mut now = 0;
        while now < day {
            // Syncs that end now: the store records the good sync and frees the lease.
            let ended: Vec<(String, usize)> = leases
                .iter()
                .filter(|(_, (_, end))| *end <= now)
                .map(|(id, (h, _))| (id.clone(), *h))
                .collect();
            for (id, h) in ended {
                leases.remove(&id);
                last_ok.insert(id.clone(), now);
                hosts[h].finished(&id, now, Outcome::Succeeded, &mut random);
            }
            for (h, host) in hosts.iter_mut().enumerate() {
                if now % 5_000 == 0 {
                    let view = ids.iter().map(|id| Schedulable {
                        id: id.clone(),
                        vendor: vendor_of(id).into(),
                        interval: Duration::from_secs(3600),
                        since_last_ok: last_ok.get(id).map(|t| Duration::from_millis(now - t)),
                        last_ok_marker: last_ok.get(id).map(|t| *t as i64),
                    });
                    host.update(now, view, &mut random);
                }
                for id in host.start_due(now, &mut random) {
                    let vendor = vendor_of(&id);
                    let of_vendor = leases.keys().filter(|p| vendor_of(p) == vendor).count();
                    let outcome = if leases.contains_key(&id) {
                        Some(Outcome::Deferred {
                            wait: Duration::from_secs(30),
                        })
                    } else if of_vendor >= config.max_per_vendor {
                        Some(Outcome::Deferred {
                            wait: Duration::from_secs(5),
                        })
                    } else {
                        leases.insert(id.clone(), (h, now + 10_000 + (random() * 60_000.0) as u64));
                        *syncs.entry(id.clone()).or_default() += 1;
                        None
                    };
                    if let Some(outcome) = outcome {
                        host.finished(&id, now, outcome, &mut random);
                    }
                }
            }
            for v in vendors {
                let of_vendor = leases.keys().filter(|p| vendor_of(p) == v).count();
                assert!(
                    of_vendor <= config.max_per_vendor,
                    "{v}: {of_vendor} at once"
                );
            }
            now += 1_000;
        }
        for id in &ids {
            let n = syncs.get(id).copied().unwrap_or(0);
            assert!(
                (20..=32).contains(&n),
                "{id}: {n} syncs in a day on three hosts"
            );
        }
    }
}
