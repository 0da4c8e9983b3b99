//! What the server last learnt of artifacts' git upstreams: the newest commit of their ref and
//! the content hash of the last pull (to tell local edits from upstream changes).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ArtifactUpstreams {
    Table,
    Collection,
    ArtifactId,
    LatestSha,
    CheckedAt,
    Error,
    PulledHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ArtifactUpstreams::Table)
                    .if_not_exists()
                    .col(string(ArtifactUpstreams::Collection))
                    .col(string(ArtifactUpstreams::ArtifactId))
                    .col(string_null(ArtifactUpstreams::LatestSha))
                    .col(timestamp_with_time_zone_null(ArtifactUpstreams::CheckedAt))
                    .col(text_null(ArtifactUpstreams::Error))
                    .col(string_null(ArtifactUpstreams::PulledHash))
                    .primary_key(
                        Index::create()
                            .col(ArtifactUpstreams::Collection)
                            .col(ArtifactUpstreams::ArtifactId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ArtifactUpstreams::Table).to_owned())
            .await
    }
}
