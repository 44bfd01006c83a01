//! The Bitbucket Cloud REST API, as far as bbpipe uses it.

mod auth;
mod client;
mod error;
mod lane;
mod oauth;
mod pace;
mod response;
mod shapes;

pub use auth::{AuthError, Credentials, DEFAULT_TOKEN_URL, Secret, token_url};
pub use client::{
    Client, ClientOptions, DEFAULT_API_URL, DEFAULT_MAX_RESPONSE_BYTES, check_api_url,
};
pub use error::ApiError;
pub use lane::{CredentialStats, RequestStats};
pub(crate) use shapes::parse;
pub use shapes::{
    CommitsPage, DeploymentsPage, Listed, ListingPage, PipelinesPage, RepositoriesPage, RunHeader,
    RunOrder,
};

/// The most Bitbucket returns per page on repositories and pipelines (more is a 400).
pub const PAGELEN: u32 = 100;
