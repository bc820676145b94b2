//! What a guest returns, checked before the host keeps it: no text longer than
//! `field_bytes`, no secret of the credential in any form the scanner knows, and the
//! bytes kept counted against the session's host-memory budget.

use epms_model::{Lease, PmsProperty, Resident, Unit};

use crate::error::CallError;

/// A record a guest returns, seen as its text fields.
pub(crate) trait GuestRecord {
    const KIND: &'static str;
    fn id(&self) -> &str;
    /// Calls `f` with each text field's name and value.
    fn each_text(&self, f: &mut dyn FnMut(&'static str, &str));
}

/// Why a record was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    TooLong { field: &'static str, bytes: usize },
    HoldsSecret { field: &'static str },
}

/// The bytes `record` makes the host hold, or why it may not be kept.
pub(crate) fn check_record<T: GuestRecord>(
    record: &T,
    field_bytes: usize,
    holds_secret: &dyn Fn(&[u8]) -> bool,
) -> Result<usize, Refusal> {
    let mut held = std::mem::size_of::<T>();
    let mut refusal = None;
    record.each_text(&mut |field, text| {
        if refusal.is_some() {
            return;
        }
        held += text.len();
        if text.len() > field_bytes {
            refusal = Some(Refusal::TooLong {
                field,
                bytes: text.len(),
            });
        } else if holds_secret(text.as_bytes()) {
            refusal = Some(Refusal::HoldsSecret { field });
        }
    });
    refusal.map_or(Ok(held), Err)
}

/// [`check_record`] over a page; the error names the record (its id cut short, since
/// the id itself may be what is wrong) and the field.
pub(crate) fn check_records<T: GuestRecord>(
    records: &[T],
    field_bytes: usize,
    holds_secret: &dyn Fn(&[u8]) -> bool,
) -> Result<usize, CallError> {
    let mut held = 0usize;
    for record in records {
        held += check_record(record, field_bytes, holds_secret).map_err(|refusal| {
            let id: String = record.id().chars().take(40).collect();
            let id = crate::state::escape_control(&id);
            let what = match refusal {
                Refusal::TooLong { field, bytes } => format!(
                    "{field} is {bytes} bytes long; the most a field may hold is {field_bytes}"
                ),
                Refusal::HoldsSecret { field } => {
                    format!("{field} holds a secret of the credential (withheld)")
                }
            };
            CallError::BadOutput(format!("{} record {id:?}: {what}", T::KIND))
        })?;
    }
    Ok(held)
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
        let no_secret = |_: &[u8]| false;
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
        let holds = |t: &[u8]| t.windows(4).any(|w| w == b"PASS");
        let err = check_records(&[unit("PASS-42".into())], 4096, &holds).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("number holds a secret"), "{message}");
        assert!(!message.contains("PASS"), "{message}");
    }
}
