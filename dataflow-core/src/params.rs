//! Runtime parameters: the values a run gives to a pipeline's parameters that are not streams.
//!
//! ```
//! use dataflow_core::prelude::*;
//!
//! /// Views at or after `min_ts`.
//! #[pipeline]
//! fn recent(views: Stream<(String, u64)>, min_ts: u64) -> Stream<(String, u64)> {
//!     views.filter(|v| v.1 >= min_ts)
//! }
//!
//! let views = vec![("a".to_string(), 5), ("b".to_string(), 9)];
//! let output = Runner::<Recent>::new().param("min_ts", 7).batch(views)?;
//! assert_eq!(output.expanded(), vec![("b".to_string(), 9)]);
//!
//! // A value that does not parse is refused before anything runs, naming the parameter.
//! let error = Runner::<Recent>::new().param("min_ts", "soon").batch(Vec::new()).unwrap_err();
//! assert!(error.to_string().contains("parameter `min_ts`: cannot read \"soon\" as u64"));
//! # Ok::<(), dataflow_core::Error>(())
//! ```
//!
//! A parameter is parsed from its text with [`std::str::FromStr`], so that the command line's
//! `--param min_ts=7` and [`crate::Runner::param`] give the same value. Its value is part of the
//! run's version ([`crate::Runner::version`]): the same declaration with another value computes
//! something else.

use crate::error::Error;
use dataflow_plan::Plan;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

/// The values a run gives to a pipeline's parameters, as text, by parameter name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// No values.
    pub fn new() -> Params {
        Params::default()
    }

    /// Gives `name` the value `value` (its text, as on the command line).
    pub fn set(&mut self, name: &str, value: impl Display) {
        self.values.insert(name.to_string(), value.to_string());
    }

    /// Reads `name=value` (the command line's `--param`).
    pub fn set_from_arg(&mut self, arg: &str) -> Result<(), Error> {
        match arg.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                self.set(name.trim(), value);
                Ok(())
            }
            _ => Err(Error::Usage(format!(
                "--param {arg}: expected NAME=VALUE, as in `--param min_ts=1700000000000`"
            ))),
        }
    }

    /// The value given to `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether no value is given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Checks the names against `plan`'s parameters: every value names a parameter, and every
    /// parameter without a default has a value.
    pub fn check_names(&self, plan: &Plan) -> Result<(), Error> {
        let declared = || {
            if plan.params.is_empty() {
                "it has none".to_string()
            } else {
                let names: Vec<String> = plan
                    .params
                    .iter()
                    .map(|p| format!("{}: {}", p.name, p.type_name))
                    .collect();
                format!("its parameters are {}", names.join(", "))
            }
        };
        for name in self.values.keys() {
            if !plan.params.iter().any(|p| &p.name == name) {
                return Err(Error::Usage(format!(
                    "pipeline {} has no parameter `{name}`: {}",
                    plan.pipeline,
                    declared()
                )));
            }
        }
        let missing: Vec<String> = plan
            .params
            .iter()
            .filter(|p| p.default.is_none() && !self.values.contains_key(&p.name))
            .map(|p| format!("--param {}=<{}>", p.name, p.type_name))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Usage(format!(
                "pipeline {} needs a value for every parameter: give {}",
                plan.pipeline,
                missing.join(" ")
            )));
        }
        Ok(())
    }

    /// The value of parameter `name` of type `T`: the given text (else `default`) parsed.
    pub fn parse<T>(&self, name: &str, default: Option<&str>) -> Result<T, Error>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text = self.get(name).or(default).ok_or_else(|| {
            Error::Usage(format!(
                "parameter `{name}` has no value: give `--param {name}=..`"
            ))
        })?;
        text.parse::<T>().map_err(|e| {
            Error::Usage(format!(
                "parameter `{name}`: cannot read {text:?} as {}: {e}",
                short_type_name::<T>()
            ))
        })
    }
}

/// `T`'s name without its module path: `u64`, `String`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataflow_plan::Param;

    fn plan() -> Plan {
        let mut plan = Plan::new("recent", "u64");
        plan.params.push(Param {
            name: "min_ts".into(),
            type_name: "u64".into(),
            default: None,
            value: None,
        });
        plan.params.push(Param {
            name: "country".into(),
            type_name: "String".into(),
            default: Some("NL".into()),
            value: None,
        });
        plan
    }

    #[test]
    fn names_are_checked_against_the_plan() {
        let mut params = Params::new();
        let missing = params.check_names(&plan()).unwrap_err().to_string();
        assert!(missing.contains("--param min_ts=<u64>"), "{missing}");
        params.set_from_arg("min_ts=5").unwrap();
        params.check_names(&plan()).unwrap();
        params.set_from_arg("min_tz=5").unwrap();
        let unknown = params.check_names(&plan()).unwrap_err().to_string();
        assert!(
            unknown.contains("no parameter `min_tz`") && unknown.contains("min_ts: u64"),
            "{unknown}"
        );
        assert!(params.set_from_arg("=5").is_err());
        assert!(params.set_from_arg("min_ts").is_err());
    }

    #[test]
    fn values_parse_with_their_type_or_say_why_not() {
        let mut params = Params::new();
        params.set("min_ts", "12x");
        let error = params.parse::<u64>("min_ts", None).unwrap_err().to_string();
        assert!(
            error.contains("cannot read \"12x\" as u64: invalid digit"),
            "{error}"
        );
        assert_eq!(params.parse::<String>("country", Some("NL")).unwrap(), "NL");
        params.set("country", "DE");
        assert_eq!(params.parse::<String>("country", Some("NL")).unwrap(), "DE");
        // `=` in a value is part of the value.
        params.set_from_arg("country=a=b").unwrap();
        assert_eq!(params.get("country"), Some("a=b"));
    }
}
