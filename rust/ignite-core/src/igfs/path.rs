//! IGFS paths: absolute, `/`-separated, normalized before they become cache keys.

use crate::error::{Error, Result};

/// `a/b/../c/` -> `/a/c`. Relative paths start at the root; `..` above the root stays at the root.
pub fn normalize(path: &str) -> Result<String> {
    if path.contains('\0') {
        return Err(Error::InvalidArgument(format!(
            "path {path:?} contains a NUL character"
        )));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// The parent directory of a normalized path; `None` for the root.
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a normalized path (`""` for the root).
pub fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

pub fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Whether `path` is `dir` itself or lies below it.
pub fn is_within(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// The root and every directory above `path`, top down, then `path` itself.
pub fn ancestry(path: &str) -> Vec<String> {
    let mut chain = vec![path.to_string()];
    let mut current = path;
    while let Some(p) = parent(current) {
        chain.push(p.to_string());
        current = p;
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize("").unwrap(), "/");
        assert_eq!(normalize("a//b/./c/").unwrap(), "/a/b/c");
        assert_eq!(normalize("/a/../../b").unwrap(), "/b");
        assert!(normalize("a\0b").is_err());
    }

    #[test]
    fn parents_and_names() {
        assert_eq!(parent("/"), None);
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(name("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert!(is_within("/a/b", "/a"));
        assert!(!is_within("/ab", "/a"));
        assert_eq!(ancestry("/a/b"), vec!["/", "/a", "/a/b"]);
        assert_eq!(ancestry("/"), vec!["/"]);
    }
}
