//! Loading `pipeline.toml`.

use intake_models::Config;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG: &str = "pipeline.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("invalid config {path}: {cause}")]
    Parse {
        path: PathBuf,
        cause: toml::de::Error,
    },
}

/// Reads `path`, or `pipeline.toml` in the working directory when there is
/// one, or else the built-in defaults (the values the seeds fix).
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG).is_file() => PathBuf::from(DEFAULT_CONFIG),
        None => return Ok(Config::default()),
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        cause: source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path,
        cause: source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_pipeline_toml_is_the_defaults() {
        let shipped = load(Some(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/pipeline.toml"
        ))))
        .expect("pipeline.toml parses");
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("[limits]\nmax_byte = 3\n");
        assert!(err.is_err());
    }
}
