//! Compiled components on disk, so that no sync ever compiles.
//!
//! An artefact's file name is `<sha256 of the wasm>-<engine compatibility hash>.cwasm`:
//! a new wasmtime version or different engine settings simply miss the cache. Files
//! are written to a temporary name and renamed, so a crash never leaves half an
//! artefact. Deserialising trusts the file (wasmtime checks its header and engine
//! settings, not its code), so the cache directory must be writable by the host alone.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled artefacts live, and how they were obtained.
#[derive(Debug, Clone)]
pub struct ArtefactCache {
    dir: PathBuf,
    engine_hash: String,
}

/// Whether a component came from the cache or was compiled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

/// The hex sha-256 of some bytes (the identity of a component).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl ArtefactCache {
    pub fn new(dir: impl Into<PathBuf>, engine: &Engine) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        // DefaultHasher's algorithm is fixed within one build of the host, which is
        // all this key has to survive: a rebuilt host may at worst miss the cache.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ArtefactCache {
            dir,
            engine_hash: format!("{:016x}", hasher.finish()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, wasm_sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{wasm_sha256}-{}.cwasm", self.engine_hash))
    }

    /// The compiled component for `wasm`, from the cache or compiled (and stored) now.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        wasm_sha256: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.path_for(wasm_sha256);
        if path.exists() {
            // SAFETY: the file was written by `precompile_component` of an engine with
            // the same compatibility hash, into a directory only this host writes.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unreadable compiled artefact");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &compiled)?;
        std::fs::rename(&tmp, &path)?;
        // SAFETY: bytes produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, CacheOutcome::Compiled))
    }
}
