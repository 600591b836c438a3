//! Plain-text renderings for the CLI, over the deserialized report types.

use crate::compare::{Difference, DifferenceKind};
use crate::noise::Verdict;
use crate::path::FieldPath;
use crate::report::{DiffReport, EndpointReport, SampleDiff, SampleResponse};
use std::fmt::Write as _;

/// Widest cell of a sample's side-by-side table, in characters.
const CELL_WIDTH: usize = 48;

/// A table of the endpoints of `report`: compared, identical, noise, regressions, shed, diff
/// rate (regressions per comparison) and the fields regressing most; then, per endpoint, the
/// (primary, candidate) status pairs with their counts and the ids of the samples kept.
pub fn render_summary(report: &DiffReport) -> String {
    let titles = [
        "ENDPOINT",
        "COMPARED",
        "IDENTICAL",
        "NOISE",
        "REGRESSIONS",
        "SHED",
        "DIFF %",
        "TOP FIELDS",
    ];
    let mut rows = vec![titles.map(String::from).to_vec()];
    for endpoint in &report.endpoints {
        let top: Vec<String> = endpoint
            .top_fields
            .iter()
            .filter(|field| field.regressions > 0)
            .take(3)
            .map(|field| format!("{} ({})", field.field, field.regressions))
            .collect();
        rows.push(vec![
            endpoint.endpoint.to_string(),
            endpoint.compared.to_string(),
            endpoint.identical.to_string(),
            endpoint.noise_only.to_string(),
            endpoint.regressions.to_string(),
            endpoint.shed.to_string(),
            format!("{:.2}", endpoint.diff_rate_percent()),
            if top.is_empty() {
                "-".to_owned()
            } else {
                top.join(", ")
            },
        ]);
    }
    let mut out = table(&rows, |_| "  ");
    if report.endpoints.is_empty() {
        out.push_str("(nothing compared yet)\n");
    }
    for endpoint in &report.endpoints {
        out.push('\n');
        render_endpoint_details(&mut out, endpoint);
    }
    out
}

/// Sample lines shown in full per endpoint; older samples are listed by id only.
const SAMPLE_LINES: usize = 5;

/// The status pairs of `endpoint` (`200→500 ×3`, most frequent first) and the ids of its kept
/// samples (newest first, with verdict, time and request), the ids `--sample` takes.
fn render_endpoint_details(out: &mut String, endpoint: &EndpointReport) {
    let _ = writeln!(out, "{}", endpoint.endpoint);
    let pairs: Vec<String> = endpoint
        .status_pairs
        .iter()
        .map(|pair| format!("{}→{} ×{}", pair.primary, pair.candidate, pair.count))
        .collect();
    let _ = writeln!(
        out,
        "  statuses: {}",
        if pairs.is_empty() {
            "-".to_owned()
        } else {
            pairs.join(", ")
        }
    );
    if endpoint.samples.is_empty() {
        out.push_str("  samples:  none kept\n");
        return;
    }
    out.push_str("  samples:\n");
    let newest_first = endpoint.samples.iter().rev();
    let rows: Vec<Vec<String>> = newest_first
        .clone()
        .take(SAMPLE_LINES)
        .map(|sample| {
            vec![
                format!("    #{}", sample.id),
                sample.verdict.label().to_owned(),
                format_unix_ms(sample.time_unix_ms),
                cell(&sample.target),
            ]
        })
        .collect();
    out.push_str(&table(&rows, |_| "  "));
    let older: Vec<String> = newest_first
        .skip(SAMPLE_LINES)
        .map(|sample| format!("#{}", sample.id))
        .collect();
    if !older.is_empty() {
        let _ = writeln!(out, "    older: {}", older.join(" "));
    }
}

/// One sample, side by side: the request, then status, headers and each differing field as
/// `primary | candidate` (and `| secondary` when there was one; `!` marks a regression, `~`
/// noise), then the bodies.
pub fn render_sample(sample: &SampleDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sample #{}  {}  {}",
        sample.id,
        format_unix_ms(sample.time_unix_ms),
        sample.endpoint
    );
    let _ = writeln!(out, "{} {}", sample.request.method, sample.request.target);
    for (name, value) in &sample.request.headers {
        let _ = writeln!(out, "  {name}: {value}");
    }
    let _ = match &sample.verdict {
        Verdict::Regression { fields } => {
            let fields: Vec<String> = fields.iter().map(ToString::to_string).collect();
            writeln!(out, "verdict: regression in {}", fields.join(", "))
        }
        verdict => writeln!(out, "verdict: {}", verdict.label()),
    };
    out.push('\n');

    let secondary = sample.secondary.as_ref();
    let mut header = vec!["  field".to_owned(), "primary".into(), "candidate".into()];
    if secondary.is_some() {
        header.push("secondary".into());
    }
    let mut rows = vec![header];
    let mut row = |label: String, primary: String, candidate: String, other: Option<String>| {
        let mut cells = vec![label, primary, candidate];
        cells.extend(other);
        rows.push(cells.iter().map(|c| cell(c)).collect::<Vec<_>>());
    };
    let status = |r: &SampleResponse| r.status.to_string();
    row(
        label(sample, &FieldPath::Status, DifferenceKind::Changed),
        status(&sample.primary),
        status(&sample.candidate),
        secondary.map(status),
    );
    for name in header_names(sample) {
        let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let value = |r: &SampleResponse| header_value(r, name.as_str());
        let kind = sample
            .differences
            .iter()
            .find(|d| matches!(&d.field, FieldPath::Header(n) if *n == name))
            .map_or(DifferenceKind::Changed, |d| d.kind);
        row(
            label(sample, &FieldPath::Header(name.clone()), kind),
            value(&sample.primary),
            value(&sample.candidate),
            secondary.map(value),
        );
    }
    for difference in sample.differences.iter() {
        if matches!(difference.field, FieldPath::Body | FieldPath::Json(_)) {
            row(
                label(sample, &difference.field, difference.kind),
                shown(&difference.primary),
                shown(&difference.other),
                secondary.map(|_| secondary_value(sample, difference)),
            );
        }
    }
    out.push_str(&table(
        &rows,
        |column| if column == 1 { "  " } else { " | " },
    ));
    let noise = sample.differences.len()
        - match &sample.verdict {
            Verdict::Regression { fields } => fields.len(),
            _ => 0,
        };
    let _ = writeln!(
        out,
        "\n{} differences ({} noise){}; ! regression, ~ noise",
        sample.differences.len(),
        noise,
        if sample.differences.is_capped() {
            ", capped"
        } else {
            ""
        }
    );
    for (label, response) in [
        ("primary", Some(&sample.primary)),
        ("candidate", Some(&sample.candidate)),
        ("secondary", secondary),
    ] {
        if let Some(response) = response {
            let cut = if response.body_truncated {
                " (truncated)"
            } else {
                ""
            };
            let _ = writeln!(out, "\n{label} body{cut}:\n{}", response.body);
        }
    }
    out
}

/// The field with its mark (`!` regression, `~` noise, blank: no difference) and its kind of
/// difference when not a change.
fn label(sample: &SampleDiff, field: &FieldPath, kind: DifferenceKind) -> String {
    let regression = match &sample.verdict {
        Verdict::Regression { fields } => fields.contains(field),
        _ => false,
    };
    let mark = if regression {
        '!'
    } else if sample.differences.iter().any(|d| &d.field == field) {
        '~'
    } else {
        ' '
    };
    match kind {
        DifferenceKind::Changed => format!("{mark} {field}"),
        kind => format!("{mark} {field} ({})", kind.label()),
    }
}

/// Header names of the primary then the candidate (then the secondary), each once.
fn header_names(sample: &SampleDiff) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let responses = [
        Some(&sample.primary),
        Some(&sample.candidate),
        sample.secondary.as_ref(),
    ];
    for response in responses.into_iter().flatten() {
        for (name, _) in &response.headers {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

fn header_value(response: &SampleResponse, name: &str) -> String {
    let values: Vec<&str> = response
        .headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect();
    if values.is_empty() {
        "—".to_owned()
    } else {
        values.join(", ")
    }
}

/// What the secondary had at the field of a candidate difference.
fn secondary_value(sample: &SampleDiff, difference: &Difference) -> String {
    let found = sample
        .secondary_differences
        .iter()
        .flat_map(|differences| differences.iter())
        .find(|d| d.field == difference.field);
    match found {
        Some(d) => shown(&d.other),
        None => "(as primary)".to_owned(),
    }
}

fn shown(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "—".to_owned())
}

/// A table cell: one line, at most [`CELL_WIDTH`] characters.
fn cell(text: &str) -> String {
    let line = text.replace(['\n', '\r'], " ");
    if line.chars().count() <= CELL_WIDTH {
        line
    } else {
        let mut cut: String = line.chars().take(CELL_WIDTH - 1).collect();
        cut.push('…');
        cut
    }
}

/// Rows as aligned columns, `separator(i)` before column `i`; the last column is not padded.
fn table(rows: &[Vec<String>], separator: impl Fn(usize) -> &'static str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, text) in row.iter().enumerate() {
            if i > 0 {
                out.push_str(separator(i));
            }
            out.push_str(text);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(text.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// `2024-05-01T12:00:00.000Z` (RFC 3339, UTC) from UNIX milliseconds.
pub(crate) fn format_unix_ms(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CapturedResponse, CompareOptions, DiffStore, EndpointKey, SampleInput};
    use http::{HeaderMap, HeaderValue, Method};

    fn json(body: &str, server: &'static str) -> CapturedResponse {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-version", HeaderValue::from_static(server));
        CapturedResponse::new(200, headers, body.to_owned())
    }

    fn store() -> DiffStore {
        let store = DiffStore::default();
        let primary = json(r#"{"ts":1,"items":[{"price":1},{"price":2}]}"#, "v1");
        let candidate = json(
            r#"{"ts":2,"items":[{"price":1},{"price":3}],"extra":true}"#,
            "v2",
        );
        let secondary = json(r#"{"ts":3,"items":[{"price":1},{"price":2}]}"#, "v1");
        let request = HeaderMap::new();
        let input = SampleInput {
            method: &Method::GET,
            target: "/items?page=2",
            headers: &request,
            primary: &primary,
            candidate: &candidate,
            secondary: Some(&secondary),
        };
        let items = EndpointKey::new("GET", "items");
        store.compare_and_record(
            &items,
            input,
            &CompareOptions::default(),
            86_400_000 + 1_234,
        );
        store.compare_and_record(
            &items,
            SampleInput {
                candidate: &primary,
                ..input
            },
            &CompareOptions::default(),
            0,
        );
        store
    }

    #[test]
    fn summary_is_a_table_of_endpoints() {
        let summary = render_summary(&store().report());
        let lines: Vec<&str> = summary.lines().collect();
        assert!(lines[0].starts_with("ENDPOINT") && lines[0].contains("DIFF %"));
        for expected in [
            "GET items",
            "50.00",
            "body.$.items[*].price (1)",
            "header.x-version (1)",
        ] {
            assert!(lines[1].contains(expected), "{expected} in {summary}");
        }
        assert!(
            !lines[1].contains("body.$.ts"),
            "noise is not a top regression: {summary}"
        );
        assert!(render_summary(&DiffReport::default()).contains("nothing compared"));
    }

    /// The summary shows, per endpoint, the status pairs with their counts and the ids of the
    /// samples kept (what `torii diff NAME --sample ID` takes), newest first; past five, the
    /// older ones by id only.
    #[test]
    fn summary_lists_status_pairs_and_sample_ids() {
        let store = DiffStore::default();
        let ok = json(r#"{"n":1}"#, "v1");
        let changed = json(r#"{"n":2}"#, "v1");
        let failed = CapturedResponse::new(500, HeaderMap::new(), "oops".to_owned());
        let request = HeaderMap::new();
        let orders = EndpointKey::new("GET", "shop /orders");
        let users = EndpointKey::new("POST", "shop /users");
        let record = |endpoint: &EndpointKey, candidate: &CapturedResponse, n: u64| {
            let target = format!("/orders?page={n}");
            store.compare_and_record(
                endpoint,
                SampleInput {
                    method: &Method::GET,
                    target: &target,
                    headers: &request,
                    primary: &ok,
                    candidate,
                    secondary: None,
                },
                &CompareOptions::default(),
                // Far enough apart that every regression is kept as a sample.
                n * 60_000,
            );
        };
        for n in 1..=3 {
            record(&orders, &failed, n);
        }
        for n in 4..=7 {
            record(&orders, &changed, n);
        }
        record(&orders, &ok, 8);
        record(&users, &ok, 9);
        let summary = render_summary(&store.report());
        let details = &summary[summary.find("\n\n").expect("details follow the table") + 2..];
        let expected = "\
GET shop /orders
  statuses: 200→200 ×5, 200→500 ×3
  samples:
    #7  regression  1970-01-01T00:07:00.000Z  /orders?page=7
    #6  regression  1970-01-01T00:06:00.000Z  /orders?page=6
    #5  regression  1970-01-01T00:05:00.000Z  /orders?page=5
    #4  regression  1970-01-01T00:04:00.000Z  /orders?page=4
    #3  regression  1970-01-01T00:03:00.000Z  /orders?page=3
    older: #2 #1

POST shop /users
  statuses: 200→200 ×1
  samples:  none kept
";
        assert_eq!(details, expected, "whole summary:\n{summary}");
        // Every id shown is one `DiffStore::sample` (the admin API behind `--sample`) knows.
        for id in 1..=7 {
            assert!(store.sample(id).is_some(), "sample #{id}");
        }
    }

    #[test]
    fn sample_is_side_by_side() {
        let store = store();
        let id = store.report().endpoints[0].samples[0].id;
        let sample = store.sample(id).expect("kept");
        let text = render_sample(&sample);
        let line = |start: &str| {
            text.lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("no line {start:?} in\n{text}"))
                .to_owned()
        };
        assert!(text.starts_with(&format!(
            "sample #{id}  1970-01-02T00:00:01.234Z  GET items"
        )));
        assert!(text.contains("GET /items?page=2"));
        let header = line("  field");
        assert!(
            header.contains("primary ")
                && header.contains("| candidate ")
                && header.ends_with("| secondary")
        );
        let price = line("! body.$.items[1].price");
        assert!(
            price.contains("2 ") && price.contains("| 3 ") && price.contains("(as primary)"),
            "{price}"
        );
        let ts = line("~ body.$.ts");
        assert!(
            ts.contains("1 ") && ts.contains("| 2 ") && ts.contains("| 3"),
            "{ts}"
        );
        assert!(line("! body.$.extra (added)").contains("| true"));
        assert!(line("! header.x-version").contains("v1") && line("  status").contains("200"));
        assert!(text.contains("4 differences (1 noise)"), "{text}");
        assert!(text.contains("candidate body:\n{"), "{text}");
    }

    #[test]
    fn time_is_rendered_in_utc() {
        assert_eq!(format_unix_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_unix_ms(1_709_210_096_789),
            "2024-02-29T12:34:56.789Z"
        );
    }
}
