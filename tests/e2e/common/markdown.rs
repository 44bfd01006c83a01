//! The project's Markdown as the docs tests read it (CommonMark, by pulldown-cmark): the
//! pages, their fenced code blocks, their links and their headings' anchors.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};
use std::path::{Path, PathBuf};

/// A fenced code block: where it starts, its info string (`console mock`) and its text.
#[derive(Debug, Clone)]
pub struct Block {
    pub line: usize,
    pub info: String,
    pub text: String,
}

/// A link or image target, with the line it is on.
#[derive(Debug, Clone)]
pub struct Link {
    pub line: usize,
    pub target: String,
}

/// One page, parsed.
#[derive(Debug)]
pub struct Page {
    pub path: PathBuf,
    pub text: String,
    pub blocks: Vec<Block>,
    pub links: Vec<Link>,
    /// GitHub's anchors of the page's headings (`## Exit codes` → `exit-codes`).
    pub anchors: Vec<String>,
    /// The first heading of level 1, if any.
    pub title: Option<String>,
}

/// Every page a reader of the project meets: README.md, ARCHITECTURE.md, CONTRIBUTING.md,
/// CHANGELOG.md, fixtures/README.md and everything under docs/.
pub fn pages(root: &Path) -> Vec<Page> {
    let mut paths: Vec<PathBuf> = [
        "README.md",
        "ARCHITECTURE.md",
        "CONTRIBUTING.md",
        "CHANGELOG.md",
        "fixtures/README.md",
    ]
    .iter()
    .map(|name| root.join(name))
    .collect();
    let mut docs: Vec<PathBuf> = super::all_files(&root.join("docs"))
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths.iter().map(|path| read(path)).collect()
}

/// Reads and parses one page.
pub fn read(path: &Path) -> Page {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut page = Page {
        path: path.to_path_buf(),
        text: text.clone(),
        blocks: vec![],
        links: vec![],
        anchors: vec![],
        title: None,
    };
    let mut block: Option<Block> = None;
    let mut heading: Option<(HeadingLevel, String)> = None;
    for (event, range) in Parser::new(&text).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                block = Some(Block {
                    line: line_of(range.start),
                    info: info.to_string(),
                    text: String::new(),
                });
            }
            Event::End(TagEnd::CodeBlock) => page.blocks.extend(block.take()),
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                page.links.push(Link {
                    line: line_of(range.start),
                    target: dest_url.to_string(),
                });
            }
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level, String::new())),
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, title)) = heading.take() {
                    if level == HeadingLevel::H1 && page.title.is_none() {
                        page.title = Some(title.clone());
                    }
                    page.anchors.push(anchor(&title));
                }
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(block) = block.as_mut() {
                    block.text.push_str(&text);
                } else if let Some((_, title)) = heading.as_mut() {
                    title.push_str(&text);
                }
            }
            _ => {}
        }
    }
    page
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation other than `-` and
/// `_` dropped.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn anchors_are_githubs() {
    assert_eq!(anchor("Exit codes"), "exit-codes");
    assert_eq!(
        anchor("Delta Lake tables: `--format delta`"),
        "delta-lake-tables---format-delta"
    );
    assert_eq!(
        anchor("Re-runs, crashes and what readers see"),
        "re-runs-crashes-and-what-readers-see"
    );
}
