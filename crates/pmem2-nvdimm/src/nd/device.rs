//! Matching a device number against a sysfs `dev` file (`"maj:min\n"`).

use std::path::Path;

use crate::attr;
use crate::error::{DevProblem, Error, Result};

/// Checks a sysfs `dev` file's content (`"maj:min\n"`) against a device
/// number, as PMDK does: an empty file or one without the trailing newline
/// is [`Error::InvalidDev`].
///
/// # Errors
/// [`Error::InvalidDev`] as above.
pub fn dev_matches(path: &Path, content: &str, dev: u64) -> Result<bool> {
    let problem = |problem| Error::InvalidDev {
        path: path.to_owned(),
        problem,
    };
    if content.is_empty() {
        return Err(problem(DevProblem::Empty));
    }
    let body = content
        .strip_suffix('\n')
        .ok_or_else(|| problem(DevProblem::NoNewline))?;
    Ok(body == format!("{}:{}", libc::major(dev), libc::minor(dev)))
}

pub(super) fn read_dev_matches(path: &Path, dev: u64) -> Result<bool> {
    let bytes = attr::read(path)?;
    let content = String::from_utf8(bytes).map_err(|_| Error::NotText {
        path: path.to_owned(),
    })?;
    dev_matches(path, &content, dev)
}
