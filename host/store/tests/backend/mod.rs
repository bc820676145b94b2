//! The backends every store test runs on.
#![allow(dead_code)] // each test binary uses its part

use std::sync::Arc;

use epms_store::{SecretBox, Storage, port};

/// Where a test's store lives: a redb file in a directory of its own, or a PostgreSQL
/// database of its own. Every test of this file that is not about one backend's file
/// or server runs on both (the conformance suite): the same plans, the same checks.
pub struct Backend {
    pub location: String,
    pub dir: Option<tempfile::TempDir>,
    pub db: Option<epms_store::test_database::TestDatabase>,
}

pub fn redb() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    Backend {
        location: dir.path().join("epms.redb").display().to_string(),
        dir: Some(dir),
        db: None,
    }
}

pub fn postgres(test: &str) -> Option<Backend> {
    let db = epms_store::test_database::TestDatabase::create(test)?;
    Some(Backend {
        location: db.url.clone(),
        dir: None,
        db: Some(db),
    })
}

pub const KEY: [u8; 32] = [42; 32];

pub fn open_with(backend: &Backend, key: [u8; 32]) -> Arc<dyn Storage> {
    port::open(&backend.location, SecretBox::new(key)).unwrap()
}

pub fn open(backend: &Backend) -> Arc<dyn Storage> {
    open_with(backend, KEY)
}
