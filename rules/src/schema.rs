//! JSON Schemas of the files the `rapport` command reads: a visitor, a page, and a list of
//! test cases. The committed copies in `rules/schema/` are checked against these by a test.

use rapport_protocol::PageContext;
use serde_json::{json, Value};

use crate::testing::RawCase;
use crate::visitor::profile::Profile;

pub fn visitor() -> Value {
    with_relative_times(generate::<Profile>())
}

pub fn page() -> Value {
    generate::<PageContext>()
}

pub fn test_cases() -> Value {
    with_relative_times(generate::<Vec<RawCase>>())
}

/// Every schema by its file name in `rules/schema/`.
pub fn all() -> [(&'static str, Value); 3] {
    [
        ("visitor.schema.json", visitor()),
        ("page.schema.json", page()),
        ("test-cases.schema.json", test_cases()),
    ]
}

fn generate<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}

/// Times (`*_ms` fields) may also be written relative to `now` or as RFC 3339 strings.
fn with_relative_times(mut schema: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get_mut("properties") {
                    for (name, property) in properties.iter_mut() {
                        if name.ends_with("_ms") {
                            let original = property.take();
                            *property = json!({ "anyOf": [original, {
                                "type": "string",
                                "description": "A time relative to the case's `now` (\"-90d\", \"-2h\", \"-15m\") or an RFC 3339 time",
                            }]});
                        }
                    }
                }
                for child in map.values_mut() {
                    walk(child);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut schema);
    schema
}
