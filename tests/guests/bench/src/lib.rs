//! A connector for benchmarks. `read-residents("synthetic:N")` returns N made-up
//! residents, built once per instance so that repeated calls measure the crossing of
//! the boundary, not their construction (`built-only:N` copies them as that call does
//! and returns none); `read-units("get:/path")` makes one GET to
//! the credential's host and returns the body length as the unit number
//! (`timed-get:/path` the same with a timeout); `read-units("cached")` returns how
//! many residents this instance holds built, as the unit number (what a fresh
//! instance must not inherit from the one before it).

use std::cell::RefCell;
use std::time::Duration;

use epms_connector_sdk::http::Request;
use epms_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, HouseholdRole, Resident, ResidentPage, Unit,
    UnitPage, export_connector, field,
};

struct Bench {
    base_url: String,
}

thread_local! {
    static RESIDENTS: RefCell<Vec<Resident>> = const { RefCell::new(Vec::new()) };
}

fn synthetic(n: usize) -> Vec<Resident> {
    (0..n)
        .map(|i| Resident {
            id: format!("t{i:07}"),
            lease_id: Some(format!("t{i:07}")),
            unit_id: Some(format!("U{:05}", i / 2)),
            first_name: "Zoë".into(),
            last_name: "García-López".into(),
            email: Some(format!("zoe.garcia{i}@example.com")),
            phone: Some("555-0100".into()),
            role: HouseholdRole::Primary,
            warnings: vec![],
        })
        .collect()
}

fn unit(number: String) -> Unit {
    Unit {
        id: "u".into(),
        number,
        building: None,
        floorplan: None,
        vacant: None,
        warnings: vec![],
    }
}

impl Connector for Bench {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            vendor: "bench".into(),
            display_name: "Benchmark guest".into(),
            version: "0.0.1".into(),
            config_fields: vec![field("base-url", "Base URL", "", false, true)],
            status_vocabulary: vec![],
        }
    }

    fn new(config: Config) -> Result<Self, ConnectorError> {
        Ok(Bench {
            base_url: config.base_url()?.to_owned(),
        })
    }

    fn read_units(&self, what: &str, _cursor: Option<String>) -> Result<UnitPage, ConnectorError> {
        if what == "cached" {
            let held = RESIDENTS.with(|cache| cache.borrow().len());
            return Ok(UnitPage {
                records: vec![unit(held.to_string())],
                next: None,
            });
        }
        // `timed-get:` sets a timeout, which passes `request-options` to the host.
        let (path, timeout) = match what.split_once(':') {
            Some(("get", path)) => (path, None),
            Some(("timed-get", path)) => (path, Some(Duration::from_secs(5))),
            _ => return Err(ConnectorError::NotFound(what.to_owned())),
        };
        let mut request = Request::get(format!("{}{path}", self.base_url));
        request.timeout = timeout;
        let resp = request.send()?;
        Ok(UnitPage {
            records: vec![unit(resp.body.len().to_string())],
            next: None,
        })
    }

    fn read_residents(
        &self,
        what: &str,
        _cursor: Option<String>,
    ) -> Result<ResidentPage, ConnectorError> {
        // `built-only:N` makes the same copy of the N records and returns none of them:
        // the bench subtracts it, so that its per-record figure is the crossing alone.
        let (n, cross) = match what.split_once(':') {
            Some(("synthetic", n)) => (n, true),
            Some(("built-only", n)) => (n, false),
            _ => return Err(ConnectorError::NotFound(what.to_owned())),
        };
        let n: usize = n
            .parse()
            .map_err(|_| ConnectorError::NotFound(what.to_owned()))?;
        let records = RESIDENTS.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() != n {
                *cache = synthetic(n);
            }
            cache.clone()
        });
        Ok(ResidentPage {
            records: if cross {
                records
            } else {
                drop(std::hint::black_box(records));
                Vec::new()
            },
            next: None,
        })
    }
}

export_connector!(Bench);
