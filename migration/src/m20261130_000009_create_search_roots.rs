//! Folders searched for projects that were added from the dashboard, beside the configured
//! `deploy.search_roots`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SearchRoots {
    Table,
    Id,
    Path,
    AddedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SearchRoots::Table)
                    .if_not_exists()
                    .col(string(SearchRoots::Id).primary_key())
                    .col(string(SearchRoots::Path).unique_key())
                    .col(timestamp_with_time_zone(SearchRoots::AddedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SearchRoots::Table).to_owned())
            .await
    }
}
