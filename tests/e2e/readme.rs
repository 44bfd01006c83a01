//! README.md documents what the binary does.

use crate::common::*;

#[test]
fn readme_schema_section_is_the_output_of_bbpipe_schema() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- schema:start -->\n")
        .expect("schema start marker");
    let end = readme
        .find("<!-- schema:end -->")
        .expect("schema end marker");
    let documented = &readme[start + "<!-- schema:start -->\n".len()..end];
    let generated = stdout(&bbpipe(&["schema"]));
    assert_eq!(
        documented.trim(),
        generated.trim(),
        "README's schema is stale: run scripts/update-readme-schema"
    );
}

#[test]
fn readme_names_the_two_setup_commands_and_ci_runs_the_test_one() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(readme.contains("cargo run --release -- replay fixtures/demo --out ./out"));
    assert!(readme.contains("\nscripts/test "));
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(ci.contains("scripts/test"));
}
