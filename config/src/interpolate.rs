//! `${VAR}` substitution inside string values.
//!
//! Runs on each parsed string value, never on the raw text, so a variable's content can never
//! inject YAML. Supported forms, as in the shell: `${VAR}`, `${VAR:-default}` (unset or empty),
//! `${VAR-default}` (unset), `${VAR:?message}` / `${VAR?message}` (an error), and `$$` for a
//! literal `$`. A `$` followed by anything else is kept as written, so regexes such as `ok$`
//! need no escaping. Defaults may themselves contain `${...}`.

/// How deeply `${...}` may nest inside defaults (`${A:-${B:-c}}` is 2). Substitution recurses
/// once per level, so without a bound a 44 KiB value overflowed a worker thread's stack on
/// reload. Real configurations use two or three levels.
pub const MAX_NESTING: usize = 16;

/// The outcome of substituting one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    pub value: String,
    /// Whether any `${...}` was replaced (by a variable or its default): such values often hold
    /// secrets and are redacted, and a value from the environment is always text.
    pub substituted: bool,
    /// The value with every part that came from the environment replaced by `***`, when a
    /// part did: what may be shown of it (`https://api/health?key=***`). A default written in
    /// the file is no secret and stays (`${HOST:-api.example.com}` with `HOST` unset).
    pub masked: Option<String>,
}

/// Why a string could not be substituted; the message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    #[error("unterminated `${{` in {text:?}; close it with `}}` or write `$$` for a literal `$`")]
    Unterminated { text: String },
    #[error("`${{{expression}}}` is not a valid variable name; use letters, digits and `_`")]
    InvalidName { expression: String },
    #[error("`${{{expression}}}` is not understood; use ${{{name}}}, ${{{name}:-default}} or ${{{name}:?message}}")]
    UnknownOperator { expression: String, name: String },
    #[error("`${{...}}` is nested {depth} levels deep; at most {MAX_NESTING} are allowed: nest fewer defaults (`${{A:-${{B:-fallback}}}}` is 2 levels)")]
    TooDeep { depth: usize },
    #[error("environment variable {name} is not set: {message}")]
    Required { name: String, message: String },
    #[error("environment variable {name} is not set; set it, or give a default with ${{{name}:-default}}")]
    Unset { name: String },
}

/// Replaces variables in `text`, looking them up with `lookup`.
///
/// The error says which variable is missing and how to fix it. Nesting deeper than
/// [`MAX_NESTING`] is refused before anything recurses, whatever the environment holds, so a
/// file `flowstate check` accepts never fails differently on reload.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Interpolated, InterpolateError> {
    let mut out = String::with_capacity(text.len());
    let mut substituted = false;
    // Started at the first value from the environment only: most strings have none.
    let mut masked: Option<String> = None;
    let mut rest = text;
    let push = |out: &mut String, masked: &mut Option<String>, literal: &str| {
        out.push_str(literal);
        if let Some(m) = masked {
            m.push_str(literal);
        }
    };
    while let Some(dollar) = rest.find('$') {
        push(&mut out, &mut masked, &rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            push(&mut out, &mut masked, "$");
            rest = tail;
        } else if let Some(inner_start) = after.strip_prefix('{') {
            let (close, depth) =
                matching_brace(inner_start).ok_or_else(|| InterpolateError::Unterminated {
                    text: text.to_string(),
                })?;
            if depth > MAX_NESTING {
                return Err(InterpolateError::TooDeep { depth });
            }
            let expression = &inner_start[..close];
            let expanded = expand(expression, lookup)?;
            match expanded.masked {
                Some(piece) => {
                    masked.get_or_insert_with(|| out.clone()).push_str(&piece);
                    out.push_str(&expanded.value);
                }
                None => push(&mut out, &mut masked, &expanded.value),
            }
            substituted = true;
            rest = &inner_start[close + 1..];
        } else {
            push(&mut out, &mut masked, "$");
            rest = after;
        }
    }
    push(&mut out, &mut masked, rest);
    Ok(Interpolated {
        value: out,
        substituted,
        masked,
    })
}

/// The index of the `}` closing an expression, allowing nested `${...}` in defaults, and how
/// many levels deep the expression goes (1 for `${A}`). One pass, no recursion.
fn matching_brace(s: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' if depth == 0 => return Some((i, deepest + 1)),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The value of one `${...}` expression; `masked` is `***` for a variable's value, the masked
/// default when the default holds a variable, and `None` for a default written in the file.
fn expand(
    expression: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Interpolated, InterpolateError> {
    let name_end = expression
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expression.len());
    let (name, operator) = expression.split_at(name_end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(InterpolateError::InvalidName {
            expression: expression.to_string(),
        });
    }
    let value = lookup(name);
    let (empty_counts_as_unset, op, argument) = if let Some(arg) = operator.strip_prefix(":-") {
        (true, '-', arg)
    } else if let Some(arg) = operator.strip_prefix(":?") {
        (true, '?', arg)
    } else if let Some(arg) = operator.strip_prefix('-') {
        (false, '-', arg)
    } else if let Some(arg) = operator.strip_prefix('?') {
        (false, '?', arg)
    } else if operator.is_empty() {
        (false, ' ', "")
    } else {
        return Err(InterpolateError::UnknownOperator {
            expression: expression.to_string(),
            name: name.to_string(),
        });
    };
    let usable = value.filter(|v| !(empty_counts_as_unset && v.is_empty()));
    match (usable, op) {
        (Some(value), _) => Ok(Interpolated {
            value,
            substituted: true,
            masked: Some(crate::secret::REDACTED.to_string()),
        }),
        // At most MAX_NESTING - 1 levels remain inside `argument`: checked by the caller.
        (None, '-') => interpolate(argument, lookup),
        (None, '?') => Err(InterpolateError::Required {
            name: name.to_string(),
            message: if argument.is_empty() {
                "set it before starting flowstate".to_string()
            } else {
                argument.to_string()
            },
        }),
        (None, _) => Err(InterpolateError::Unset {
            name: name.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.com".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("8080".into()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, String> {
        interpolate(text, &env)
            .map(|i| i.value)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn substitutes_set_variables() {
        assert_eq!(
            run("http://${HOST}:${PORT}/").unwrap(),
            "http://example.com:8080/"
        );
        assert!(interpolate("${HOST}", &env).unwrap().substituted);
        assert!(!interpolate("plain", &env).unwrap().substituted);
        assert_eq!(
            interpolate("http://${HOST}:$${PORT}/?p=${PORT}&q=1", &env)
                .unwrap()
                .masked
                .as_deref(),
            Some("http://***:${PORT}/?p=***&q=1")
        );
        assert_eq!(interpolate("plain $$ $x", &env).unwrap().masked, None);
        // Defaults written in the file are shown; what they take from the environment is not.
        let default = interpolate("http://${NOPE:-fallback}/${NOPE:-${PORT}}", &env).unwrap();
        assert_eq!(default.value, "http://fallback/8080");
        assert_eq!(default.masked.as_deref(), Some("http://fallback/***"));
        let only_default = interpolate("http://${NOPE:-fallback}/", &env).unwrap();
        assert!(only_default.substituted);
        assert_eq!(only_default.masked, None);
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(run("${MISSING:-fallback}").unwrap(), "fallback");
        assert_eq!(run("${EMPTY:-fallback}").unwrap(), "fallback");
        assert_eq!(run("${EMPTY-fallback}").unwrap(), "");
        assert_eq!(run("${MISSING-fallback}").unwrap(), "fallback");
        assert_eq!(run("${MISSING:-${HOST}}").unwrap(), "example.com");
        assert_eq!(run("${MISSING:-}").unwrap(), "");
    }

    #[test]
    fn unset_without_default_names_the_variable() {
        let err = run("${API_KEY}").unwrap_err();
        assert!(err.contains("API_KEY"), "{err}");
        let err = run("${API_KEY:?ask ops for the key}").unwrap_err();
        assert!(
            err.contains("API_KEY") && err.contains("ask ops for the key"),
            "{err}"
        );
        assert!(run("${EMPTY:?needed}").is_err());
        assert_eq!(run("${EMPTY?needed}").unwrap(), "");
    }

    #[test]
    fn dollars_that_are_not_variables_stay() {
        assert_eq!(run("cost: $$5").unwrap(), "cost: $5");
        assert_eq!(run(r#""ok":\s*true$"#).unwrap(), r#""ok":\s*true$"#);
        assert_eq!(run("$1 and $").unwrap(), "$1 and $");
        assert_eq!(run("a: b # c").unwrap(), "a: b # c");
    }

    #[test]
    fn malformed_expressions_are_errors() {
        assert!(run("${HOST").unwrap_err().contains("unterminated"));
        assert!(run("${}").is_err());
        assert!(run("${1X}").is_err());
        assert!(run("${HOST:+x}").is_err());
    }

    #[test]
    fn nesting_is_bounded_whatever_the_environment() {
        let nested = |depth: usize| format!("{}x{}", "${NOPE:-".repeat(depth), "}".repeat(depth));
        assert_eq!(run(&nested(MAX_NESTING)).unwrap(), "x");
        assert_eq!(
            interpolate(&nested(MAX_NESTING + 1), &env),
            Err(InterpolateError::TooDeep {
                depth: MAX_NESTING + 1
            })
        );
        // Refused even when the outermost variable is set and nothing would recurse.
        let set = format!("${{HOST:-{}}}", nested(MAX_NESTING));
        assert!(matches!(
            interpolate(&set, &env),
            Err(InterpolateError::TooDeep { .. })
        ));
        assert_eq!(
            run("${MISSING:-a${MISSING:-b}c${MISSING:-d}}").unwrap(),
            "abcd"
        );
    }
}
