//! Which fields of an object column to decode, from the dotted paths a caller names.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};

/// Which fields of an object column to decode: each selected name with the selection of its own
/// fields (`None`: all of them). Unselected fields are skipped without being decoded.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    fields: HashMap<String, Option<Arc<Selection>>>,
}

impl Selection {
    /// From dotted paths: `["label", "metadata.width"]`.
    pub fn from_paths<S: AsRef<str>>(paths: &[S]) -> Result<Selection> {
        let mut root = Selection::default();
        for path in paths {
            let path = path.as_ref();
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return Err(Error::InvalidArgument(format!(
                    "'{path}' is not a field path (names joined by '.')"
                )));
            }
            root.insert(path.split('.').collect::<Vec<_>>().as_slice());
        }
        Ok(root)
    }

    fn insert(&mut self, parts: &[&str]) {
        let (first, rest) = parts.split_first().expect("non-empty path");
        if rest.is_empty() {
            self.fields.insert(first.to_string(), None); // the whole field
            return;
        }
        let entry = self
            .fields
            .entry(first.to_string())
            .or_insert_with(|| Some(Arc::new(Selection::default())));
        if let Some(sub) = entry {
            Arc::make_mut(sub).insert(rest);
        }
    }

    /// `Some(sub-selection)` when `name` is selected (exactly, or else ignoring case).
    pub(crate) fn lookup(&self, name: &str) -> Option<Option<Arc<Selection>>> {
        if let Some(sub) = self.fields.get(name) {
            return Some(sub.clone());
        }
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &String> {
        self.fields.keys()
    }
}
