//! `--controllers`: which loops run, with kube-controller-manager's rules
//! (`cmd/kube-controller-manager/app/controllermanager.go`, `IsControllerEnabled`).
//!
//! `*` enables every loop that is on by default, `name` enables one, `-name` disables one;
//! an empty list runs the API server alone. A name is a controller's full name
//! (`deployment-controller`) or its alias (`deployment`), as the flag accepts both.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelectionError {
    /// kube-controller-manager's wording for a name it does not know.
    #[error("{0:?} is not in the list of known controllers")]
    Unknown(String),
}

/// The parsed `--controllers` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    all: bool,
    enabled: Vec<&'static str>,
    disabled: Vec<&'static str>,
}

impl Default for Selection {
    /// `*`: what kube-controller-manager runs when the flag is not given.
    fn default() -> Self {
        Self { all: true, enabled: vec![], disabled: vec![] }
    }
}

impl Selection {
    /// No controller at all: the API server alone.
    pub fn none() -> Self {
        Self { all: false, enabled: vec![], disabled: vec![] }
    }

    /// Parses the flag's value against the known controller names.
    pub fn parse(list: &str) -> Result<Self, SelectionError> {
        let mut s = Self::none();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "*" {
                s.all = true;
                continue;
            }
            let (negated, name) = match item.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, item),
            };
            let canonical = super::canonical_name(name).ok_or_else(|| SelectionError::Unknown(name.to_string()))?;
            if negated {
                s.disabled.push(canonical);
            } else {
                s.enabled.push(canonical);
            }
        }
        Ok(s)
    }

    /// Whether the loop named `name` (its full name) runs: `-name` wins, then `name`, then `*`.
    pub fn is_enabled(&self, name: &str) -> bool {
        if self.disabled.contains(&name) {
            return false;
        }
        self.enabled.contains(&name) || self.all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_rules() {
        let cases: &[(&str, &[(&str, bool)])] = &[
            ("*", &[("serviceaccount-controller", true), ("namespace-controller", true)]),
            ("", &[("namespace-controller", false)]),
            ("*,-namespace", &[("namespace-controller", false), ("serviceaccount-controller", true)]),
            ("namespace", &[("namespace-controller", true), ("serviceaccount-controller", false)]),
            ("serviceaccount-controller,-serviceaccount", &[("serviceaccount-controller", false)]),
        ];
        for (flag, expect) in cases {
            let s = Selection::parse(flag).unwrap();
            for (name, on) in *expect {
                assert_eq!(s.is_enabled(name), *on, "--controllers={flag}: {name}");
            }
        }
    }

    #[test]
    fn unknown_names_are_refused_in_kube_controller_manager_words() {
        assert_eq!(Selection::parse("*,bogus").unwrap_err().to_string(), "\"bogus\" is not in the list of known controllers");
        assert_eq!(Selection::parse("-bogus").unwrap_err().to_string(), "\"bogus\" is not in the list of known controllers");
    }
}
