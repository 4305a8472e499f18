//! A plugin's JSON Schema for `settings`, compiled once per handshake, and the problems of one
//! host's (or notifier's) settings against it, each with the place it is at
//! (`settings.address`), as the built-in keys' errors name theirs.

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

/// A compiled `settings_schema`.
pub struct SettingsSchema {
    validator: jsonschema::Validator,
}

/// One way settings do not fit: where (`settings.nodes[2].port`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsProblem {
    pub place: String,
    pub message: String,
}

impl std::fmt::Display for SettingsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

impl SettingsSchema {
    /// Compiles the schema a plugin sent; the error says what is wrong with it (the plugin's
    /// author must fix it, not the user).
    pub fn compile(schema: &Value) -> Result<Self, String> {
        jsonschema::validator_for(schema)
            .map(|validator| SettingsSchema { validator })
            .map_err(|error| error.to_string())
    }

    /// Every problem of `settings` (null when a host wrote none: checked as `{}` so a schema
    /// with required keys says which are missing), in the schema's order.
    pub fn problems(&self, settings: &Value) -> Vec<SettingsProblem> {
        let empty = Value::Object(serde_json::Map::new());
        let settings = if settings.is_null() { &empty } else { settings };
        self.validator
            .iter_errors(settings)
            .map(|error| {
                let mut place = place_of(error.instance_path().as_str());
                // A missing or unexpected key is the key's problem, not its mapping's: point
                // at it (the mapping's line when it is missing), as for a built-in key.
                match error.kind() {
                    ValidationErrorKind::Required {
                        property: Value::String(key),
                    } => place = format!("{place}.{key}"),
                    ValidationErrorKind::AdditionalProperties { unexpected }
                        if unexpected.len() == 1 =>
                    {
                        place = format!("{place}.{}", unexpected[0]);
                    }
                    _ => {}
                }
                SettingsProblem {
                    place,
                    message: error.to_string(),
                }
            })
            .collect()
    }
}

/// A JSON pointer (`/nodes/2/port`) as a config place (`settings.nodes[2].port`).
pub fn place_of(pointer: &str) -> String {
    let mut place = String::from("settings");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            place.push_str(&format!("[{segment}]"));
        } else {
            place.push('.');
            place.push_str(&segment);
        }
    }
    place
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn problems_name_their_place_in_settings() {
        let schema = SettingsSchema::compile(&json!({
            "type": "object",
            "required": ["address"],
            "properties": {
                "address": {"type": "string"},
                "nodes": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}}
            },
            "additionalProperties": false
        }))
        .expect("schema");
        let problems =
            schema.problems(&json!({"address": 5, "nodes": [{"port": 1}, {"port": "x"}]}));
        let places: Vec<&str> = problems.iter().map(|p| p.place.as_str()).collect();
        assert_eq!(places, vec!["settings.address", "settings.nodes[1].port"]);
        assert!(problems[0].message.contains("string"), "{problems:?}");
        let missing = schema.problems(&Value::Null);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].place, "settings.address");
        let extra = schema.problems(&json!({"address": "a:1", "adress": "b"}));
        assert_eq!(extra[0].place, "settings.adress", "{extra:?}");
        assert!(missing[0].message.contains("address"), "{missing:?}");
        assert!(schema.problems(&json!({"address": "a:1"})).is_empty());
    }

    #[test]
    fn a_schema_that_is_no_schema_is_refused() {
        assert!(SettingsSchema::compile(&json!({"type": "no-such-type"})).is_err());
        assert!(SettingsSchema::compile(&json!(true)).is_ok());
    }
}
