use super::*;
use bbpipe_extract::api::{Credentials, Secret};
use std::collections::HashMap;

fn parse(text: &str) -> Result<NightlyConfig, ConfigError> {
    NightlyConfig::parse(text, "bbpipe.toml")
}

const TWO: &str = r#"
out = "s3://analytics/bitbucket"
rules = "rules.toml"
with = "steps,commits"
lookback = "3d"
concurrency = 6
parallel_workspaces = 3
max_requests_per_hour = 5000
api_url = "http://127.0.0.1:9/2.0"
partition_by = "day"
format = "delta"
steps_since = "10d"
max_commits_per_deployment = 50

[[workspace]]
name = "acme"
repos = ["api-*"]
exclude = ["sandbox-*"]
rules = "acme.toml"
with = "steps"
prefix = "acme"
  [[workspace.credential]]
  name = "one"
  token_env = "ACME_1"
  [[workspace.credential]]
  name = "two"
  token_file = "/run/secrets/two"

[[workspace]]
name = "globex"
  [[workspace.credential]]
  name = "bot"
  email = "bot@globex.example"
  api_token_env = "GLOBEX_TOKEN"
  [[workspace.credential]]
  name = "legacy"
  username_env = "GLOBEX_USER"
  app_password_file = "/run/secrets/globex"
"#;

#[test]
fn every_key_is_read() {
    let config = parse(TWO).unwrap();
    assert_eq!(config.out.as_deref(), Some("s3://analytics/bitbucket"));
    assert_eq!(config.with.as_deref(), Some("steps,commits"));
    assert_eq!(config.parallel_workspaces, Some(3));
    assert_eq!(config.max_commits_per_deployment, Some(50));
    assert_eq!(config.format.as_deref(), Some("delta"));
    let acme = config.workspace("ACME").unwrap();
    assert_eq!(acme.repos, ["api-*"]);
    assert_eq!(
        acme.destination("s3://analytics/bitbucket/"),
        "s3://analytics/bitbucket/acme"
    );
    assert_eq!(acme.credentials.len(), 2);
    let globex = config.workspace("globex").unwrap();
    assert_eq!(globex.destination("./out"), "./out");
    // Shown back with references only.
    let shown = config.to_toml();
    assert!(shown.contains("token_env = \"ACME_1\""), "{shown}");
    assert!(parse(&shown).is_ok(), "config show prints a valid file");
}

#[test]
fn the_template_is_a_valid_file() {
    let template = template();
    assert!(!template.contains('{'), "a placeholder left: {template}");
    let config = parse(&template).unwrap();
    assert_eq!(
        config.workspaces[0].credentials[0].token_env.as_deref(),
        Some("ACME_TOKEN_1")
    );
}

#[test]
fn unknown_keys_and_bad_values_are_named_with_their_line() {
    let typo = parse("out = \"x\"\nlookbak = \"2d\"\n[[workspace]]\nname = \"a\"\n").unwrap_err();
    let text = typo.to_string();
    assert!(
        text.contains("lookbak") && text.contains("line 2"),
        "{text}"
    );
    let nested = parse(
        "[[workspace]]\nname = \"a\"\n[[workspace.credential]]\nname = \"c\"\ntoken = \"secret\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        nested.contains("token") && nested.contains("line 5"),
        "{nested}"
    );
    for (text, expected) in [
        ("out = \"x\"\n", "no [[workspace]]"),
        (
            "[[workspace]]\nname = \"a\"\n",
            "workspace a has no [[workspace.credential]]",
        ),
        (
            "[[workspace]]\nname = \"a\"\n[[workspace.credential]]\nname = \"c\"\n",
            "workspace a, credential c: no secret",
        ),
        (
            "[[workspace]]\nname = \"a\"\n[[workspace.credential]]\nname = \"c\"\napi_token_env = \"T\"\n",
            "api_token_env or api_token_file needs email or email_env",
        ),
        (
            "[[workspace]]\nname = \"a\"\n[[workspace.credential]]\nname = \"c\"\ntoken_env = \"T\"\napp_password_env = \"P\"\nusername = \"u\"\n",
            "several kinds",
        ),
        (
            "with = \"stepz\"\n[[workspace]]\nname = \"a\"\n[[workspace.credential]]\nname = \"c\"\ntoken_env = \"T\"\n",
            "with: unknown 'stepz'",
        ),
        (
            "format = \"iceberg\"\n[[workspace]]\nname = \"a\"\n[[workspace.credential]]\nname = \"c\"\ntoken_env = \"T\"\n",
            "format: `iceberg` is not an output format: parquet or delta",
        ),
        (
            "lookback = \"two days\"\n[[workspace]]\nname = \"a\"\n[[workspace.credential]]\nname = \"c\"\ntoken_env = \"T\"\n",
            "lookback",
        ),
        (
            "[[workspace]]\nname = \"a\"\n[[workspace.credential]]\nname = \"c\"\ntoken_env = \"T\"\n[[workspace]]\nname = \"A\"\n[[workspace.credential]]\nname = \"c\"\ntoken_env = \"T\"\n",
            "workspace A is listed twice",
        ),
    ] {
        let error = parse(text).unwrap_err().to_string();
        assert!(error.contains(expected), "{expected:?} not in {error:?}");
    }
}

#[test]
fn credentials_resolve_from_variables_and_files_and_missing_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two");
    std::fs::write(&file, "file-secret\n").unwrap();
    let text = TWO.replace("/run/secrets/two", file.to_str().unwrap());
    let config = parse(&text).unwrap();
    let vars = HashMap::from([("ACME_1".to_string(), "env-secret".to_string())]);
    let lookup = |name: &str| vars.get(name).cloned();
    let acme = config.workspace("acme").unwrap();
    let one = acme.credentials[0].resolve("acme", &lookup).unwrap();
    assert_eq!(one, Credentials::AccessToken(Secret::new("env-secret")));
    let two = acme.credentials[1].resolve("acme", &lookup).unwrap();
    assert_eq!(two, Credentials::AccessToken(Secret::new("file-secret")));
    let globex = config.workspace("globex").unwrap();
    let error = globex.credentials[0]
        .resolve("globex", &lookup)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "workspace globex, credential bot: GLOBEX_TOKEN is not set"
    );
    let error = globex.credentials[1]
        .resolve("globex", &lookup)
        .unwrap_err();
    assert!(
        error.to_string().contains("GLOBEX_USER is not set"),
        "{error}"
    );
}

#[test]
fn relative_paths_are_taken_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bbpipe.toml");
    std::fs::write(
        &path,
        "out = \"data\"\nrules = \"rules.toml\"\n[[workspace]]\nname = \"a\"\n\
         [[workspace.credential]]\nname = \"c\"\ntoken_file = \"secrets/a\"\n",
    )
    .unwrap();
    let config = NightlyConfig::load(&path).unwrap();
    assert_eq!(
        config.out.unwrap(),
        dir.path().join("data").display().to_string()
    );
    assert_eq!(config.rules.unwrap(), dir.path().join("rules.toml"));
    let file = config.workspaces[0].credentials[0]
        .token_file
        .clone()
        .unwrap();
    assert_eq!(file, dir.path().join("secrets/a").display().to_string());
    std::fs::write(&path, "out = \"s3://b/p\"\n[[workspace]]\nname = \"a\"\n[[workspace.credential]]\nname = \"c\"\ntoken_env = \"T\"\n").unwrap();
    assert_eq!(NightlyConfig::load(&path).unwrap().out.unwrap(), "s3://b/p");
}

#[test]
fn an_oauth_consumer_resolves_with_its_token_url_and_a_bad_one_is_named() {
    let consumer = |extra: &str| {
        format!(
            "[[workspace]]\nname = \"acme\"\n[[workspace.credential]]\nname = \"ci\"\noauth_client_id = \"key-1\"\noauth_client_secret_env = \"ACME_SECRET\"\n{extra}"
        )
    };
    let vars = HashMap::from([("ACME_SECRET".to_string(), "s3cret".to_string())]);
    let lookup = |name: &str| vars.get(name).cloned();
    let config = parse(&consumer("")).unwrap();
    let resolved = config.workspace("acme").unwrap().credentials[0]
        .resolve("acme", &lookup)
        .unwrap();
    let Credentials::OAuthConsumer {
        client_id,
        secret,
        token_url,
    } = resolved
    else {
        panic!("not an OAuth consumer: {resolved:?}");
    };
    assert_eq!((client_id.as_str(), secret.expose()), ("key-1", "s3cret"));
    assert_eq!(token_url.as_str(), bbpipe_extract::api::DEFAULT_TOKEN_URL);
    let config = parse(&consumer(
        "oauth_token_url = \"http://tokens.example.com/t\"\n",
    ))
    .unwrap();
    let error = config.workspace("acme").unwrap().credentials[0]
        .resolve("acme", &lookup)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("credential ci") && error.contains("https"),
        "{error}"
    );
    let error = parse(&consumer("").replace("oauth_client_id = \"key-1\"\n", ""))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("needs oauth_client_id or oauth_client_id_env"),
        "{error}"
    );
}
