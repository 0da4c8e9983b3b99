//! The artifact cache table.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CachedArtifacts {
    Table,
    Id,
    ArtifactId,
    ArtifactType,
    Name,
    Collection,
    Collections,
    Description,
    Tags,
    Tools,
    SearchText,
    Data,
    DataBytes,
    ContentHash,
    Fingerprint,
    SourceModifiedAt,
    LastUpdated,
    LastAccessed,
    TtlSecs,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CachedArtifacts::Table)
                    .if_not_exists()
                    .col(
                        big_integer(CachedArtifacts::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string(CachedArtifacts::ArtifactId).unique_key())
                    .col(string(CachedArtifacts::ArtifactType))
                    .col(string(CachedArtifacts::Name))
                    .col(string(CachedArtifacts::Collection))
                    .col(text(CachedArtifacts::Collections))
                    .col(text_null(CachedArtifacts::Description))
                    .col(text(CachedArtifacts::Tags))
                    .col(text(CachedArtifacts::Tools))
                    .col(text(CachedArtifacts::SearchText))
                    .col(json(CachedArtifacts::Data))
                    .col(big_integer(CachedArtifacts::DataBytes))
                    .col(string(CachedArtifacts::ContentHash))
                    .col(string(CachedArtifacts::Fingerprint))
                    .col(timestamp_with_time_zone(CachedArtifacts::SourceModifiedAt))
                    .col(timestamp_with_time_zone(CachedArtifacts::LastUpdated))
                    .col(timestamp_with_time_zone(CachedArtifacts::LastAccessed))
                    .col(big_integer(CachedArtifacts::TtlSecs))
                    .col(timestamp_with_time_zone(CachedArtifacts::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            (
                "idx_cached_artifacts_last_updated",
                CachedArtifacts::LastUpdated,
            ),
            ("idx_cached_artifacts_name", CachedArtifacts::Name),
            (
                "idx_cached_artifacts_source_modified_at",
                CachedArtifacts::SourceModifiedAt,
            ),
            (
                "idx_cached_artifacts_last_accessed",
                CachedArtifacts::LastAccessed,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CachedArtifacts::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CachedArtifacts::Table).to_owned())
            .await
    }
}
