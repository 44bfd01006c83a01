//! How the command line's values are read: dates, workspace slugs, the API URL (whose errors
//! never quote it: it may carry a password), and the model's own names.

use bbpipe_pipeline::model::{Extras, Format, Granularity};

pub(super) fn date(value: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| format!("{value:?}: expected a date as YYYY-MM-DD"))
}

/// A Bitbucket workspace slug (any case: it is read lower-case): nothing else reaches a URL
/// path, a lease or a partition name.
pub(super) fn workspace_slug(text: &str) -> Result<String, String> {
    match bbpipe_pipeline::model::bitbucket::workspace_slug_problem(text) {
        None => Ok(text.to_string()),
        Some(problem) => Err(format!("not a Bitbucket workspace slug: {problem}")),
    }
}

/// `--api-url` / `BITBUCKET_API_URL`: an http(s) URL with a host and no user name or password.
/// A parser of its own, because clap's errors quote the value given, and this one may carry a
/// password: its errors show the URL without it.
#[derive(Debug, Clone, Copy)]
pub(super) struct ApiUrl;

impl clap::builder::TypedValueParser for ApiUrl {
    type Value = String;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        use bbpipe_pipeline::extract::api::check_api_url;
        let refuse = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("--api-url: {message}\n"),
            )
        };
        let text = value.to_str().ok_or_else(|| refuse("not UTF-8".into()))?;
        let url = url::Url::parse(text).map_err(|e| refuse(format!("not a URL ({e})")))?;
        check_api_url(&url).map_err(|e| refuse(e.to_string()))?;
        Ok(text.to_string())
    }
}

pub(super) fn granularity(value: &str) -> Result<Granularity, String> {
    value.parse()
}

pub(super) fn format(value: &str) -> Result<Format, String> {
    value.parse()
}

pub(super) fn extras(value: &str) -> Result<Extras, String> {
    value.parse()
}
