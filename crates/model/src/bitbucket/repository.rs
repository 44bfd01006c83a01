//! Repositories, as `GET /repositories/{workspace}` lists them.

use super::{Named, Str, Text};
use serde::Deserialize;

/// A repository, whole.
#[derive(Deserialize)]
pub struct Repository<'a> {
    #[serde(borrow)]
    /// Its uuid, with braces.
    pub uuid: Str<'a>,
    #[serde(borrow, default)]
    /// Its slug, as in its URL; derived from `full_name` where absent.
    pub slug: Text<'a>,
    #[serde(borrow, default)]
    /// Display name.
    pub name: Text<'a>,
    #[serde(borrow, default)]
    /// `workspace/slug`.
    pub full_name: Text<'a>,
    #[serde(default)]
    /// Whether it is private.
    pub is_private: Option<bool>,
    #[serde(borrow, default)]
    /// Free-text description.
    pub description: Text<'a>,
    #[serde(borrow, default)]
    /// Main language; `""` where Bitbucket knows none.
    pub language: Text<'a>,
    #[serde(borrow, default)]
    /// The project it belongs to.
    pub project: Option<Project<'a>>,
    #[serde(borrow, default)]
    /// Its main branch.
    pub mainbranch: Option<Named<'a>>,
    #[serde(borrow, default)]
    /// When it was created (RFC 3339).
    pub created_on: Text<'a>,
    #[serde(borrow, default)]
    /// When it was last updated (RFC 3339).
    pub updated_on: Text<'a>,
}

/// The project a repository belongs to.
#[derive(Deserialize)]
pub struct Project<'a> {
    #[serde(borrow, default)]
    /// The project's key.
    pub key: Text<'a>,
    #[serde(borrow, default)]
    /// The project's name.
    pub name: Text<'a>,
}

impl Repository<'_> {
    /// Its slug; see [`slug_of`].
    pub fn slug(&self) -> Option<&str> {
        slug_of(self.slug.as_deref(), self.full_name.as_deref())
    }
}

/// The little of a repository that discovery reads: its uuid is optional there (a listing is
/// not refused for one repository without it).
#[derive(Deserialize)]
pub struct ListedRepository<'a> {
    /// Its uuid, with braces.
    #[serde(borrow, default)]
    pub uuid: Text<'a>,
    /// Its slug, if the listing carries it.
    #[serde(borrow, default)]
    pub slug: Text<'a>,
    /// `workspace/slug`.
    #[serde(borrow, default)]
    pub full_name: Text<'a>,
}

impl ListedRepository<'_> {
    /// Its slug; see [`slug_of`].
    pub fn slug(&self) -> Option<&str> {
        slug_of(self.slug.as_deref(), self.full_name.as_deref())
    }
}

/// A repository's slug: `slug`, or where a response leaves it out, the part of `full_name`
/// after the workspace.
pub fn slug_of<'a>(slug: Option<&'a str>, full_name: Option<&'a str>) -> Option<&'a str> {
    slug.or_else(|| full_name.and_then(|f| f.split_once('/')).map(|(_, s)| s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slug_falls_back_to_the_full_name() {
        assert_eq!(slug_of(Some("a"), Some("w/b")), Some("a"));
        assert_eq!(slug_of(None, Some("w/b")), Some("b"));
        assert_eq!(slug_of(None, Some("no-slash")), None);
        assert_eq!(slug_of(None, None), None);
    }
}
