//! Repositories: JSON values to rows of the `repositories` table.

use crate::row::{RowError, opt, timestamp};
use arrow::array::{ArrayRef, BooleanBuilder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bbpipe_model::Table;
use bbpipe_model::bitbucket::Repository;
use std::fmt::Write;
use std::sync::Arc;

#[derive(Default)]
pub struct RepositoriesBuilder {
    workspace: StringBuilder,
    uuid: StringBuilder,
    slug: StringBuilder,
    name: StringBuilder,
    full_name: StringBuilder,
    is_private: BooleanBuilder,
    description: StringBuilder,
    language: StringBuilder,
    project_key: StringBuilder,
    project_name: StringBuilder,
    mainbranch: StringBuilder,
    created_at: TimestampMicrosecondBuilder,
    updated_at: TimestampMicrosecondBuilder,
    url: StringBuilder,
    rows: usize,
}

impl RepositoriesBuilder {
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Appends one repository and returns its slug. Nothing is appended on error.
    pub fn append<'r>(
        &mut self,
        workspace: &str,
        repo: &'r Repository<'_>,
    ) -> Result<&'r str, RowError> {
        let full_name = opt(&repo.full_name);
        let slug = repo.slug().ok_or(RowError {
            field: "slug",
            message: "missing, and no full_name to derive it from".into(),
        })?;
        let created_at = timestamp(opt(&repo.created_on), "created_on")?;
        let updated_at = timestamp(opt(&repo.updated_on), "updated_on")?;

        self.workspace.append_value(workspace);
        self.uuid.append_value(&*repo.uuid);
        self.slug.append_value(slug);
        self.name.append_option(opt(&repo.name));
        match full_name {
            Some(full) => self.full_name.append_value(full),
            None => {
                let _ = write!(self.full_name, "{workspace}/{slug}");
                self.full_name.append_value("");
            }
        }
        self.is_private.append_option(repo.is_private);
        self.description.append_option(opt(&repo.description));
        // Bitbucket reports an unknown language as "".
        self.language
            .append_option(opt(&repo.language).filter(|l| !l.is_empty()));
        let project = repo.project.as_ref();
        self.project_key
            .append_option(project.and_then(|p| opt(&p.key)));
        self.project_name
            .append_option(project.and_then(|p| opt(&p.name)));
        self.mainbranch
            .append_option(repo.mainbranch.as_ref().and_then(|b| opt(&b.name)));
        self.created_at.append_option(created_at);
        self.updated_at.append_option(updated_at);
        let _ = write!(self.url, "https://bitbucket.org/{workspace}/{slug}");
        self.url.append_value("");
        self.rows += 1;
        Ok(slug)
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("workspace", Arc::new(self.workspace.finish())),
            ("uuid", Arc::new(self.uuid.finish())),
            ("slug", Arc::new(self.slug.finish())),
            ("name", Arc::new(self.name.finish())),
            ("full_name", Arc::new(self.full_name.finish())),
            ("is_private", Arc::new(self.is_private.finish())),
            ("description", Arc::new(self.description.finish())),
            ("language", Arc::new(self.language.finish())),
            ("project_key", Arc::new(self.project_key.finish())),
            ("project_name", Arc::new(self.project_name.finish())),
            ("mainbranch", Arc::new(self.mainbranch.finish())),
            (
                "created_at",
                Arc::new(self.created_at.finish().with_timezone("UTC")),
            ),
            (
                "updated_at",
                Arc::new(self.updated_at.finish().with_timezone("UTC")),
            ),
            ("url", Arc::new(self.url.finish())),
        ];
        self.rows = 0;
        Table::Repositories.batch_of(columns)
    }
}
