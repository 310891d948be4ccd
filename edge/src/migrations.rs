//! The D1 migrations (`edge/migrations/*.sql`) against the typed tables: applied to SQLite
//! (D1's engine) in order, as `wrangler d1 migrations apply` does, they must make every
//! aggregate table with the columns and key its typed list gives, and the statements the
//! edge writes must run on them. Tests only.

use rapport_analytics::tables::Table;
use rusqlite::{params_from_iter, types::Value as Sql, Connection};

/// A fresh database with every migration of `edge/migrations/` applied, in order, as
/// `wrangler d1 migrations apply` does (D1 is SQLite).
fn migrated() -> Connection {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("edge/migrations")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no migrations in {}", dir.display());
    let db = Connection::open_in_memory().unwrap();
    for file in files {
        let sql = std::fs::read_to_string(&file).unwrap();
        db.execute_batch(&sql)
            .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
    }
    db
}

/// A table's columns as SQLite has them: name, type, and place in the primary key.
fn columns(db: &Connection, table: &str) -> Vec<(String, String, i64)> {
    let mut query = db
        .prepare(&format!(
            "SELECT name, type, pk FROM pragma_table_info('{table}')"
        ))
        .unwrap();
    let rows = query
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// The columns a table must have: `(name, type, place in the key or 0)`.
fn expected(
    labels: &[&str],
    measures: &[(&str, &str)],
    key: &[&str],
) -> Vec<(String, String, i64)> {
    let place = |name: &str| {
        key.iter()
            .position(|k| *k == name)
            .map_or(0, |at| at as i64 + 1)
    };
    std::iter::once("site")
        .chain(labels.iter().copied())
        .map(|l| (l.to_owned(), "TEXT".to_owned(), place(l)))
        .chain(
            measures
                .iter()
                .map(|(m, kind)| ((*m).to_owned(), (*kind).to_owned(), 0)),
        )
        .collect()
}

/// Runs an upsert twice with the same row; gives the first measure as stored.
fn upsert_twice(db: &Connection, sql: &str, labels: usize, measures: usize, table: &str) -> f64 {
    let values: Vec<Sql> = std::iter::once(Sql::Text("demo".into()))
        .chain((0..labels).map(|n| Sql::Text(format!("label-{n}"))))
        .chain((0..measures).map(|_| Sql::Real(1.0)))
        .collect();
    for _ in 0..2 {
        db.execute(sql, params_from_iter(values.iter()))
            .unwrap_or_else(|err| panic!("{table}: {err}"));
    }
    let rows: i64 = db
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "{table}: the second upsert adds to the first row");
    let first = columns(db, table)[1 + labels].0.clone();
    db.query_row(&format!("SELECT {first} FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_migrations_make_every_table_its_typed_list_and_statements_expect() {
    let db = migrated();
    for table in Table::ALL.iter().copied() {
        let key: Vec<&str> = std::iter::once("site")
            .chain(table.key().iter().copied())
            .collect();
        assert_eq!(
            columns(&db, table.name()),
            expected(table.labels(), table.measures(), &key),
            "{table:?}"
        );
        let summed = upsert_twice(
            &db,
            &table.upsert_sql(),
            table.labels().len(),
            table.measures().len(),
            table.name(),
        );
        assert_eq!(summed, 2.0, "{table:?}: measures add up");
        // The reads: every column but the site, by the period and by a label.
        let label = table.labels().last().copied();
        for sql in [table.select_sql(None), table.select_sql(label)] {
            let mut query = db
                .prepare(&sql)
                .unwrap_or_else(|err| panic!("{sql}: {err}"));
            assert_eq!(query.column_count(), table.columns().len() - 1, "{sql}");
            // The upserted row's labels are `label-0`, `label-1`, ...
            let last = format!("label-{}", table.labels().len() - 1);
            let binds = ["demo", "label", "label-~", last.as_str()];
            let found = query
                .query(params_from_iter(&binds[..query.parameter_count()]))
                .unwrap()
                .mapped(|_| Ok(()))
                .count();
            assert_eq!(found, 1, "{sql}");
        }
    }
    // An aggregator's flush is recorded once: a second try of the same flush is refused.
    let applied = crate::objects::aggregator::APPLIED;
    db.execute(applied, rusqlite::params!["demo:0:1", 1, 10, 3])
        .unwrap();
    assert!(db
        .execute(applied, rusqlite::params!["demo:0:1", 2, 10, 3])
        .is_err());
    // The visitor sample's statement runs on its table.
    db.execute(crate::sample::UPSERT, ["demo", "visitor-1", "1", "{}"])
        .unwrap();
}

#[test]
fn a_migration_runs_again_on_a_database_that_has_its_tables() {
    // A database from before migrations, whose tables the edge created on first use.
    let db = migrated();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let first = std::fs::read_to_string(dir.join("0001_schema.sql")).unwrap();
    db.execute_batch(&first).unwrap();
}
