//! Raw vendor status strings to the canonical [`LeaseStatus`] (docs/rules.md,
//! "Canonical lease status"). A connector declares its vocabulary as a table; the
//! same table gives the `status-vocabulary` of its info.

use crate::LeaseStatus;

/// A vendor's vocabulary: raw string → canonical status.
pub type Vocabulary = &'static [(&'static str, LeaseStatus)];

/// The canonical status of `raw` (trimmed, ASCII case ignored); a string not in the
/// table is `Other`, which is never synced.
pub fn canonical(vocabulary: Vocabulary, raw: &str) -> LeaseStatus {
    let raw = raw.trim();
    vocabulary
        .iter()
        .find(|(r, _)| r.eq_ignore_ascii_case(raw))
        .map(|(_, s)| *s)
        .unwrap_or(LeaseStatus::Other)
}

/// The raw strings of a vocabulary, for `ConnectorInfo::status_vocabulary`.
pub fn raw_strings(vocabulary: Vocabulary) -> Vec<String> {
    vocabulary.iter().map(|(r, _)| (*r).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOCAB: Vocabulary = &[
        ("Current", LeaseStatus::Current),
        ("Applicant - Lease Signed", LeaseStatus::Future),
    ];

    #[test]
    fn lookups_ignore_case_and_padding_and_default_to_other() {
        assert_eq!(canonical(VOCAB, " current "), LeaseStatus::Current);
        assert_eq!(
            canonical(VOCAB, "APPLICANT - LEASE SIGNED"),
            LeaseStatus::Future
        );
        assert_eq!(canonical(VOCAB, "Mystery"), LeaseStatus::Other);
        assert_eq!(
            raw_strings(VOCAB),
            vec!["Current", "Applicant - Lease Signed"]
        );
    }
}
