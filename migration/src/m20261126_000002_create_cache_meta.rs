//! Key/value facts about the cache, starting with its schema version.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CacheMeta {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CacheMeta::Table)
                    .if_not_exists()
                    .col(string(CacheMeta::Key).primary_key())
                    .col(text(CacheMeta::Value))
                    .col(timestamp_with_time_zone(CacheMeta::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CacheMeta::Table).to_owned())
            .await
    }
}
