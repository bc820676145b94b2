//! What a guest returns, checked before the host keeps it: no text longer than
//! `field_bytes`, no secret of the credential in any form the scanner knows, and the
//! bytes kept counted against the session's host-memory budget.

use epms_model::{Lease, PmsProperty, Resident, Unit};

use crate::error::CallError;
use crate::secrets::{ScanBatch, SecretScanner};

/// A record a guest returns, seen as its text fields.
pub(crate) trait GuestRecord {
    const KIND: &'static str;
    fn id(&self) -> &str;
    /// Calls `f` with each text field's name and value.
    fn each_text(&self, f: &mut dyn FnMut(&'static str, &str));
}

/// The bytes `record` makes the host hold, or the first field longer than
/// `field_bytes`; its texts are pushed to `secrets` to be searched with the page's.
fn check_lengths<T: GuestRecord>(
    record: &T,
    field_bytes: usize,
    secrets: &mut ScanBatch<'_>,
) -> Result<usize, (&'static str, usize)> {
    let mut held = std::mem::size_of::<T>();
    let mut too_long = None;
    record.each_text(&mut |field, text| {
        if too_long.is_some() {
            return;
        }
        held += text.len();
        if text.len() > field_bytes {
            too_long = Some((field, text.len()));
        }
        secrets.push(text.as_bytes());
    });
    too_long.map_or(Ok(held), Err)
}

/// The bytes a page of records makes the host hold, or why it may not be kept: a
/// field longer than `field_bytes`, or one holding a secret `scanner` finds. The
/// error names the record (its id cut short, since the id itself may be what is
/// wrong) and the field, never the secret.
pub(crate) fn check_records<T: GuestRecord>(
    records: &[T],
    field_bytes: usize,
    scanner: &SecretScanner,
) -> Result<usize, CallError> {
    let refused = |record: &T, what: String| {
        let id: String = record.id().chars().take(40).collect();
        let id = crate::state::escape_control(&id);
        CallError::BadOutput(format!("{} record {id:?}: {what}", T::KIND))
    };
    let mut secrets = scanner.batch();
    let mut held = 0usize;
    for record in records {
        held += check_lengths(record, field_bytes, &mut secrets).map_err(|(field, bytes)| {
            refused(
                record,
                format!(
                    "{field} is {bytes} bytes long; the most a field may hold is {field_bytes}"
                ),
            )
        })?;
    }
    if !secrets.found() {
        return Ok(held);
    }
    // Rare: search again, field by field, to name the one.
    for record in records {
        let mut holder = None;
        record.each_text(&mut |field, text| {
            if holder.is_none() && scanner.found_in(text.as_bytes()) {
                holder = Some(field);
            }
        });
        if let Some(field) = holder {
            return Err(refused(
                record,
                format!("{field} holds a secret of the credential (withheld)"),
            ));
        }
    }
    Err(CallError::BadOutput(format!(
        "a {} record holds a secret of the credential (withheld)",
        T::KIND
    )))
}

fn each_warning(warnings: &[epms_model::RecordWarning], f: &mut dyn FnMut(&'static str, &str)) {
    for w in warnings {
        f("warning field", &w.field);
        f("warning message", &w.message);
    }
}

impl GuestRecord for Unit {
    const KIND: &'static str = "unit";
    fn id(&self) -> &str {
        &self.id
    }
    fn each_text(&self, f: &mut dyn FnMut(&'static str, &str)) {
        f("id", &self.id);
        f("number", &self.number);
        f("building", self.building.as_deref().unwrap_or_default());
        f("floorplan", self.floorplan.as_deref().unwrap_or_default());
        each_warning(&self.warnings, f);
    }
}

impl GuestRecord for Resident {
    const KIND: &'static str = "resident";
    fn id(&self) -> &str {
        &self.id
    }
    fn each_text(&self, f: &mut dyn FnMut(&'static str, &str)) {
        f("id", &self.id);
        f("lease_id", self.lease_id.as_deref().unwrap_or_default());
        f("unit_id", self.unit_id.as_deref().unwrap_or_default());
        f("first_name", &self.first_name);
        f("last_name", &self.last_name);
        f("email", self.email.as_deref().unwrap_or_default());
        f("phone", self.phone.as_deref().unwrap_or_default());
        each_warning(&self.warnings, f);
    }
}

impl GuestRecord for Lease {
    const KIND: &'static str = "lease";
    fn id(&self) -> &str {
        &self.id
    }
    fn each_text(&self, f: &mut dyn FnMut(&'static str, &str)) {
        f("id", &self.id);
        f("unit_id", self.unit_id.as_deref().unwrap_or_default());
        for r in &self.resident_ids {
            f("resident_ids", r);
        }
        f("raw_status", &self.raw_status);
        for (name, date) in [
            ("start_date", &self.start_date),
            ("end_date", &self.end_date),
            ("move_in_date", &self.move_in_date),
            ("move_out_date", &self.move_out_date),
        ] {
            f(name, date.as_deref().unwrap_or_default());
        }
        each_warning(&self.warnings, f);
    }
}

impl GuestRecord for PmsProperty {
    const KIND: &'static str = "property";
    fn id(&self) -> &str {
        &self.id
    }
    fn each_text(&self, f: &mut dyn FnMut(&'static str, &str)) {
        f("id", &self.id);
        f("name", &self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secrets;

    fn unit(number: String) -> Unit {
        Unit {
            id: "u1".into(),
            number,
            building: None,
            floorplan: None,
            vacant: None,
            warnings: vec![],
        }
    }

    #[test]
    fn a_field_over_the_limit_is_refused_by_name() {
        let no_secret = SecretScanner::default();
        let err = check_records(&[unit("x".repeat(5000))], 4096, &no_secret).unwrap_err();
        assert!(
            matches!(&err, CallError::BadOutput(m) if m.contains("unit record \"u1\": number is 5000 bytes")),
            "{err}"
        );
        let held = check_records(&[unit("101".into())], 4096, &no_secret).unwrap();
        assert_eq!(held, std::mem::size_of::<Unit>() + "u1".len() + "101".len());
    }

    #[test]
    fn a_field_holding_a_secret_is_refused_without_quoting_it() {
        let scanner = Secrets::new([("password".to_owned(), "PASS-42".to_owned())]).scanner();
        // Far down a page of thousands of fields, searched a batch at a time.
        let mut page: Vec<Unit> = (0..5000).map(|n| unit(format!("{n}-ordinary"))).collect();
        assert_eq!(
            check_records(&page, 4096, &scanner).ok(),
            Some(
                page.iter()
                    .map(|u| std::mem::size_of::<Unit>() + 2 + u.number.len())
                    .sum()
            )
        );
        page[4321].id = "u4321".into();
        page[4321].floorplan = Some("pass-42".into());
        let err = check_records(&page, 4096, &scanner).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("unit record \"u4321\": floorplan holds a secret"),
            "{message}"
        );
        assert!(!message.to_lowercase().contains("pass-42"), "{message}");
    }
}
