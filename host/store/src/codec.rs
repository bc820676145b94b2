//! How values are written in every backend: JSON of the engine's types (readable with
//! any tool, forward-compatible with added fields). Keys that are not plain ids
//! (a PMS person or unit key) are their JSON text, so that they sort and compare the
//! same way everywhere.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;

pub(crate) fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("engine types serialise")
}

pub(crate) fn enc_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("engine types serialise")
}

pub(crate) fn dec<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}
