//! A repository's commits (`GET .../commits/{revision}?exclude={revision}`), as far as
//! lead time needs them.

use super::{Commit, Str, Text};
use serde::Deserialize;

/// One commit of a listing.
#[derive(Deserialize)]
pub struct RepositoryCommit<'a> {
    /// The full SHA.
    #[serde(borrow)]
    pub hash: Str<'a>,
    /// RFC 3339, as git records it (the author date).
    #[serde(borrow, default)]
    pub date: Text<'a>,
    /// Who wrote it; `user` only where Bitbucket maps the author to an account.
    #[serde(borrow, default)]
    pub author: Option<CommitAuthor<'a>>,
    /// The full message (exported only with `--with commit-messages`).
    #[serde(borrow, default)]
    pub message: Text<'a>,
    /// Its parents: more than one for a merge.
    #[serde(borrow, default)]
    pub parents: Vec<Commit<'a>>,
}

/// A commit's author. `raw` (`"Name <email>"`) is never read.
#[derive(Deserialize)]
pub struct CommitAuthor<'a> {
    /// The Bitbucket account, when the author's email belongs to one.
    #[serde(borrow, default)]
    pub user: Option<AccountRef<'a>>,
}

/// An account of which only the Atlassian account id is read.
#[derive(Deserialize)]
pub struct AccountRef<'a> {
    /// The Atlassian account id.
    #[serde(borrow, default)]
    pub account_id: Text<'a>,
}

impl RepositoryCommit<'_> {
    /// The author's account id, where Bitbucket knows the user.
    pub fn author_account_id(&self) -> Option<&str> {
        self.author.as_ref()?.user.as_ref()?.account_id.as_deref()
    }

    /// Whether it merges branches (more than one parent).
    pub fn is_merge(&self) -> bool {
        self.parents.len() > 1
    }
}
