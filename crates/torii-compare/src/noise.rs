//! Noise: differences that are not regressions because the primary's own version shows them.

use crate::compare::Differences;
use crate::path::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// What one comparison means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum Verdict {
    /// The candidate answered like the primary.
    Identical,
    /// Every difference is noise: it also shows between primary and secondary.
    NoiseOnly,
    /// Some differences are not noise.
    Regression {
        /// The fields that differ and are not noise.
        fields: Vec<FieldPath>,
    },
}

impl Verdict {
    /// Whether the candidate regressed.
    pub fn is_regression(&self) -> bool {
        matches!(self, Verdict::Regression { .. })
    }

    /// `identical`, `noise` or `regression`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Identical => "identical",
            Verdict::NoiseOnly => "noise",
            Verdict::Regression { .. } => "regression",
        }
    }
}

/// Classifies the primary-vs-candidate differences against the primary-vs-secondary ones
/// (Diffy's idea: the secondary runs the primary's version, so what differs between primary and
/// secondary is noise, not a change of the candidate).
///
/// A candidate difference is noise when its field's *template* ([`FieldPath::template`]:
/// array indices as `[*]`), or the template of one of its ancestors, also differs between
/// primary and secondary: a random `body.$.items[4].id` in the secondary makes every
/// `body.$.items[*].id` noise, and a whole `body` that differs (non-JSON bodies) makes every body
/// difference noise. Without a secondary, every difference is a regression (see
/// [`crate::DiffStore`] for noise learned per endpoint).
pub fn classify(candidate: &Differences, secondary: Option<&Differences>) -> Verdict {
    let noisy = secondary.map(templates).unwrap_or_default();
    let mut fields = Vec::new();
    for difference in candidate {
        if !difference
            .field
            .any_template_prefix(|template| noisy.contains(template))
        {
            fields.push(difference.field.clone());
        }
    }
    verdict(candidate, fields)
}

/// The verdict for `candidate` given its non-noise `fields`.
pub(crate) fn verdict(candidate: &Differences, fields: Vec<FieldPath>) -> Verdict {
    if candidate.is_empty() {
        Verdict::Identical
    } else if fields.is_empty() {
        Verdict::NoiseOnly
    } else {
        Verdict::Regression { fields }
    }
}

/// The distinct templates of the differing fields.
pub(crate) fn templates(differences: &Differences) -> HashSet<String> {
    differences.iter().map(|d| d.field.template()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Difference, DifferenceKind};

    fn diffs(fields: &[&str]) -> Differences {
        let items = fields
            .iter()
            .map(|field| Difference {
                field: field.parse().expect("valid field"),
                kind: DifferenceKind::Changed,
                primary: Some("a".into()),
                other: Some("b".into()),
            })
            .collect();
        Differences::new(items, false)
    }

    /// (candidate fields, secondary fields, expected verdict).
    type Case<'a> = (&'a [&'a str], Option<&'a [&'a str]>, Verdict);

    #[test]
    fn noise_is_what_the_secondary_also_shows() {
        let regression = |fields: &[&str]| Verdict::Regression {
            fields: fields.iter().map(|f| f.parse().expect("valid")).collect(),
        };
        let cases: &[Case] = &[
            (&[], None, Verdict::Identical),
            (&[], Some(&["body.$.ts"]), Verdict::Identical),
            (&["body.$.ts"], Some(&["body.$.ts"]), Verdict::NoiseOnly),
            (&["body.$.ts"], None, regression(&["body.$.ts"])),
            (&["body.$.ts"], Some(&[]), regression(&["body.$.ts"])),
            (
                &["body.$.ts", "body.$.price"],
                Some(&["body.$.ts"]),
                regression(&["body.$.price"]),
            ),
            (
                &["body.$.items[3].id"],
                Some(&["body.$.items[0].id"]),
                Verdict::NoiseOnly,
            ),
            (
                &["body.$.meta.a.b"],
                Some(&["body.$.meta"]),
                Verdict::NoiseOnly,
            ),
            (
                &["body.$.meta"],
                Some(&["body.$.meta.a"]),
                regression(&["body.$.meta"]),
            ),
            (&["body"], Some(&["body"]), Verdict::NoiseOnly),
            (&["status"], Some(&["body"]), regression(&["status"])),
        ];
        for (candidate, secondary, expected) in cases {
            let secondary = secondary.map(diffs);
            let verdict = classify(&diffs(candidate), secondary.as_ref());
            assert_eq!(&verdict, expected, "{candidate:?} vs {secondary:?}");
        }
    }
}
