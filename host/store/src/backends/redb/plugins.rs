//! Connector versions shipped to a running host: installed (bytes stored by their
//! hash), activated per vendor (with the versions before, for rollback) and pinned
//! per property (canary). Every change is written with its audit entry in one
//! transaction.

use std::collections::BTreeMap;

use epms_engine::AuditEntry;
use redb::{ReadableDatabase, ReadableTable};

use super::tables::{AUDIT, PLUGIN_BLOBS, PLUGIN_DEFAULTS, PLUGIN_PINS, PLUGINS};
use super::{RedbStore, append};
use crate::codec::{dec, enc};
use crate::{
    ConnectorStore, PluginRecord, PropertyStore, SERVICE_SCOPE, StoreError, VendorDefault,
    rollback_audit,
};

impl ConnectorStore for RedbStore {
    /// Stores a component and its record, unless a component with its hash is there
    /// already (installing is idempotent). Returns whether it was new.
    fn install_plugin(
        &self,
        record: &PluginRecord,
        wasm: &[u8],
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let new = {
            let mut plugins = txn.open_table(PLUGINS)?;
            if plugins.get(record.sha256.as_str())?.is_some() {
                false
            } else {
                plugins.insert(record.sha256.as_str(), enc(record).as_slice())?;
                txn.open_table(PLUGIN_BLOBS)?
                    .insert(record.sha256.as_str(), wasm)?;
                true
            }
        };
        if new {
            append(&txn, AUDIT, SERVICE_SCOPE, std::iter::once(enc(audit)))?;
        }
        txn.commit()?;
        Ok(new)
    }

    /// The installed version with this hash, if any.
    fn plugin(&self, sha256: &str) -> Result<Option<PluginRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PLUGINS)?;
        t.get(sha256)?.map(|v| dec(v.value())).transpose()
    }

    /// Every installed version, oldest first.
    fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PLUGINS)?;
        let mut out = Vec::new();
        for e in t.iter()? {
            out.push(dec::<PluginRecord>(e?.1.value())?);
        }
        out.sort_by_key(|p| p.installed_at);
        Ok(out)
    }

    /// Removes an installed version (record and bytes) and drops it from every
    /// vendor's rollback history. The caller checks it is neither active nor pinned.
    /// Returns whether it was installed.
    fn remove_plugin(&self, sha256: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let removed = txn.open_table(PLUGINS)?.remove(sha256)?.is_some();
        if removed {
            txn.open_table(PLUGIN_BLOBS)?.remove(sha256)?;
            let mut defaults = txn.open_table(PLUGIN_DEFAULTS)?;
            let mut changed = Vec::new();
            for e in defaults.iter()? {
                let (vendor, value) = e?;
                let mut d: VendorDefault = dec(value.value())?;
                if d.forget(sha256) {
                    changed.push((vendor.value().to_owned(), d));
                }
            }
            for (vendor, d) in changed {
                defaults.insert(vendor.as_str(), enc(&d).as_slice())?;
            }
            drop(defaults);
            append(&txn, AUDIT, SERVICE_SCOPE, std::iter::once(enc(audit)))?;
        }
        txn.commit()?;
        Ok(removed)
    }

    /// The bytes of an installed version.
    fn plugin_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PLUGIN_BLOBS)?;
        Ok(t.get(sha256)?.map(|v| v.value().to_vec()))
    }

    /// Each vendor's activation history (vendors never activated through the API
    /// are absent: they run their bundled connector).
    fn plugin_defaults(&self) -> Result<BTreeMap<String, VendorDefault>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PLUGIN_DEFAULTS)?;
        let mut out = BTreeMap::new();
        for e in t.iter()? {
            let (k, v) = e?;
            out.insert(k.value().to_owned(), dec(v.value())?);
        }
        Ok(out)
    }

    /// Makes `sha256` the vendor's active version; `replacing` (the version active
    /// until now, bundled or installed) becomes the one a rollback returns to.
    fn activate_plugin(
        &self,
        vendor: &str,
        sha256: &str,
        replacing: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(PLUGIN_DEFAULTS)?;
            let mut d: VendorDefault = match t.get(vendor)? {
                Some(v) => dec(v.value())?,
                None => VendorDefault::default(),
            };
            d.activate(sha256, replacing);
            t.insert(vendor, enc(&d).as_slice())?;
        }
        append(&txn, AUDIT, SERVICE_SCOPE, std::iter::once(enc(audit)))?;
        txn.commit()?;
        Ok(())
    }

    /// Returns the vendor to the version active before the current one; that
    /// version's hash.
    fn rollback_plugin(&self, vendor: &str, audit: &AuditEntry) -> Result<String, StoreError> {
        let txn = self.db.begin_write()?;
        let back = {
            let mut t = txn.open_table(PLUGIN_DEFAULTS)?;
            let mut d: VendorDefault = match t.get(vendor)? {
                Some(v) => dec(v.value())?,
                None => return Err(StoreError::NothingToRollBack(vendor.to_owned())),
            };
            let back = d
                .roll_back()
                .ok_or_else(|| StoreError::NothingToRollBack(vendor.to_owned()))?;
            t.insert(vendor, enc(&d).as_slice())?;
            back
        };
        let audit = rollback_audit(audit, &back);
        append(&txn, AUDIT, SERVICE_SCOPE, std::iter::once(enc(&audit)))?;
        txn.commit()?;
        Ok(back)
    }

    /// Pins `sha256` for a property (`None`: back to the vendor's active version).
    fn pin_plugin(
        &self,
        property: &str,
        sha256: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.property(property)?;
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(PLUGIN_PINS)?;
            match sha256 {
                Some(sha) => {
                    t.insert(property, sha)?;
                }
                None => {
                    t.remove(property)?;
                }
            }
        }
        append(&txn, AUDIT, SERVICE_SCOPE, std::iter::once(enc(audit)))?;
        txn.commit()?;
        Ok(())
    }

    /// The version pinned for a property, if any.
    fn plugin_pin(&self, property: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PLUGIN_PINS)?;
        Ok(t.get(property)?.map(|v| v.value().to_owned()))
    }

    /// Every pin: property → hash.
    fn plugin_pins(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PLUGIN_PINS)?;
        let mut out = BTreeMap::new();
        for e in t.iter()? {
            let (k, v) = e?;
            out.insert(k.value().to_owned(), v.value().to_owned());
        }
        Ok(out)
    }
}
